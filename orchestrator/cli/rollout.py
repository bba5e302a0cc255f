"""``dockyard rollout status|history|undo|pause|resume|restart``: kubectl's rollout verbs.

The wire behaviour is kubectl 1.32's, so the server sees the same requests from both tools:
pause, resume and restart are strategic merge patches of the Deployment; ``undo`` is decided
*client-side*, as kubectl does — read the Deployment's ReplicaSets (those whose controller
ownerReference is the Deployment), pick the revision, and send a JSON patch that puts that
ReplicaSet's pod template (without its ``pod-template-hash`` label) and change-cause back. The
controller then gives that template a new, higher revision. ``status`` polls the Deployment and
prints kubectl's progress lines until ``observedGeneration`` caught up and every replica is
updated and available.

``history --revision N`` prints that revision's pod template in kubectl's describe layout
(:mod:`orchestrator.cli.podtemplate`), under kubectl's ``NAME with revision #N`` header.

Pure helpers (:func:`history_rows`, :func:`revision_template`, :func:`undo_patch`,
:func:`status_line`) hold the decisions;
the ``run_*`` functions only talk HTTP and print.
"""

from __future__ import annotations

import argparse
import copy
import time
from datetime import datetime, timezone
from typing import TextIO

from orchestrator.cli.client import ApiClient, ApiResource, ClientError
from orchestrator.cli.durations import duration_argument
from orchestrator.cli.podtemplate import describe_pod_template

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
#: annotations kubectl's rollback keeps from the Deployment rather than taking from the ReplicaSet
_KEPT_ON_UNDO = {"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                 "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                 "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"}


class RolloutError(ClientError):
    """A refusal decided on the client side, printed as kubectl does: ``error: …``."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def add_rollout_parsers(verbs: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """The ``rollout`` verb's actions; returns their parsers (the caller adds the common flags)."""
    made = []
    rollout = verbs.add_parser("rollout", help="manage a Deployment's rollout (kubectl rollout)")
    actions = rollout.add_subparsers(dest="action", required=True)
    for action, text in (("status", "wait for the rollout to finish"), ("history", "list revisions"),
                         ("undo", "go back to an earlier revision"), ("pause", "stop rolling out changes"),
                         ("resume", "roll out changes again"), ("restart", "replace every pod")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("target", nargs="+", help="deployment/NAME, or deployment NAME")
        if action == "status":
            parser.add_argument("--timeout", type=duration_argument, default=0,
                                help="how long to wait, e.g. 90s or 5m; 0 waits forever")
            parser.add_argument("-w", "--watch", default=True, type=lambda v: v.lower() != "false")
        if action == "history":
            parser.add_argument("--revision", type=int, default=0,
                                help="show the pod template of this revision instead of the list")
        if action == "undo":
            parser.add_argument("--to-revision", dest="revision", type=int, default=0,
                                help="the revision to go back to (default: the one before the current)")
        made.append(parser)
    return made


def resolve_target(client: ApiClient, words: list[str]) -> tuple[ApiResource, str]:
    """``deploy/web`` or ``deploy web`` → (resource, name)."""
    if len(words) == 1 and "/" in words[0]:
        typed, name = words[0].split("/", 1)
    elif len(words) == 2:
        typed, name = words
    else:
        raise RolloutError("specify the object as TYPE/NAME (e.g. deployment/web) or TYPE NAME")
    resource = client.resource(typed)
    if resource.kind != "Deployment":
        raise RolloutError(f"no rollout support for {resource.qualified}: only Deployments roll out")
    return resource, name


# ── pure decisions ───────────────────────────────────────────────────────────────────────────


def revision_of(obj: dict) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def owned_replicasets(deployment: dict, replicasets: list[dict]) -> list[dict]:
    uid = deployment["metadata"]["uid"]
    return [rs for rs in replicasets if any(r.get("controller") and r.get("uid") == uid
                                            for r in rs["metadata"].get("ownerReferences") or [])]


def history_rows(replicasets: list[dict]) -> list[tuple[int, str]]:
    """(revision, change-cause) per revision, oldest first; ``<none>`` when no cause was recorded."""
    rows = {revision_of(rs): (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"
            for rs in replicasets if revision_of(rs) > 0}
    return sorted(rows.items())


def format_history(qualified_name: str, rows: list[tuple[int, str]]) -> str:
    if not rows:
        return f"{qualified_name} \nNo rollout history found.\n"
    width = max([len("REVISION"), *(len(str(r)) for r, _ in rows)]) + 2
    lines = [f"{qualified_name} ", f"{'REVISION':<{width}}CHANGE-CAUSE"]
    lines += [f"{str(revision):<{width}}{cause}" for revision, cause in rows]
    return "\n".join(lines) + "\n\n"


def revision_template(replicasets: list[dict], revision: int) -> dict:
    """The pod template recorded for ``revision``, as kubectl shows it: the ReplicaSet's template
    (``pod-template-hash`` label included) with the ReplicaSet's change-cause among its annotations."""
    by_revision = {revision_of(rs): rs for rs in replicasets if revision_of(rs) > 0}
    if revision not in by_revision:
        raise RolloutError(f"unable to find the specified revision {revision}; "
                           "'rollout history' without --revision lists the revisions there are")
    rs = by_revision[revision]
    template = copy.deepcopy(rs["spec"].get("template") or {})
    cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
    if cause:
        template.setdefault("metadata", {}).setdefault("annotations", {})[CHANGE_CAUSE] = cause
    return template


def format_revision(qualified_name: str, revision: int, template: dict) -> str:
    return f"{qualified_name} with revision #{revision}\n{describe_pod_template(template)}\n"


def _template_without_hash(rs: dict) -> dict:
    template = copy.deepcopy(rs["spec"].get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def undo_patch(deployment: dict, replicasets: list[dict], to_revision: int) -> tuple[list[dict] | None, int]:
    """kubectl's rollback as a JSON patch, and the revision it goes back to; the patch is None when
    the current template already is that revision.

    ``to_revision`` 0 means the revision before the current one.
    """
    if deployment["spec"].get("paused"):
        raise RolloutError("you cannot rollback a paused deployment; resume it first with "
                           "'dockyard rollout resume' and try again")
    by_revision = {revision_of(rs): rs for rs in replicasets}
    if to_revision == 0:
        current = revision_of(deployment)
        earlier = sorted(r for r in by_revision if 0 < r < current) if current else sorted(by_revision)[:-1]
        if not earlier:
            raise RolloutError("no rollout history found: there is no earlier revision to go back to")
        to_revision = earlier[-1]
    if to_revision not in by_revision:
        raise RolloutError(f"unable to find specified revision {to_revision} in history")
    rs = by_revision[to_revision]
    template = _template_without_hash(rs)
    current_template = copy.deepcopy(deployment["spec"].get("template") or {})
    if template == current_template:
        return None, to_revision
    annotations = {k: v for k, v in (deployment["metadata"].get("annotations") or {}).items() if k in _KEPT_ON_UNDO}
    annotations.update({k: v for k, v in (rs["metadata"].get("annotations") or {}).items()
                        if k not in _KEPT_ON_UNDO})
    return [{"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations}], to_revision


def status_line(deployment: dict) -> tuple[str, bool]:
    """kubectl's ``DeploymentStatusViewer``: (message, done); raises when the deadline was exceeded."""
    name = deployment["metadata"]["name"]
    status = deployment.get("status") or {}
    if (deployment["metadata"].get("generation") or 0) > (status.get("observedGeneration") or 0):
        return "Waiting for deployment spec update to be observed...\n", False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutError(f'deployment "{name}" exceeded its progress deadline')
    replicas = int(deployment["spec"].get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < replicas:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas '
                "have been updated...\n"), False
    if total > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                "termination...\n"), False
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                "are available...\n"), False
    return f'deployment "{name}" successfully rolled out\n', True


# ── the verbs ────────────────────────────────────────────────────────────────────────────────


def run_rollout(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    resource, name = resolve_target(client, args.target)
    namespace = args.namespace or "default"
    path = resource.path(namespace, name)
    shown = f"{resource.qualified}/{name}"
    if args.action == "status":
        return _status(client, path, args, out)
    deployment = client.request("GET", path)
    if args.action == "history":
        replicasets = _replicasets(client, deployment, namespace)
        rows = history_rows(replicasets)
        if args.revision and rows:
            out.write(format_revision(shown, args.revision, revision_template(replicasets, args.revision)))
        else:
            out.write(format_history(shown, rows))
    elif args.action == "undo":
        patch, revision = undo_patch(deployment, _replicasets(client, deployment, namespace), args.revision)
        if patch is None:
            out.write(f"{shown} skipped rollback (current template already matches revision {revision})\n")
            return 0
        client.request("PATCH", path, body=patch, content_type=JSON_PATCH)
        out.write(f"{shown} rolled back\n")
    elif args.action in ("pause", "resume"):
        pausing = args.action == "pause"
        if bool(deployment["spec"].get("paused")) == pausing:
            raise RolloutError(f'{resource.name}.{resource.group} "{name}" is {"already" if pausing else "not"} paused')
        client.request("PATCH", path, body={"spec": {"paused": pausing or None}}, content_type=STRATEGIC)
        out.write(f"{shown} {'paused' if pausing else 'resumed'}\n")
    elif args.action == "restart":
        if deployment["spec"].get("paused"):
            raise RolloutError(f"deployments \"{name}\" can't restart paused deployment (run rollout resume first)")
        now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        client.request("PATCH", path, content_type=STRATEGIC,
                       body={"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}})
        out.write(f"{shown} restarted\n")
    return 0


def _replicasets(client: ApiClient, deployment: dict, namespace: str) -> list[dict]:
    rs = client.resource("replicasets.apps")
    return owned_replicasets(deployment, client.request("GET", rs.path(namespace)).get("items") or [])


def _status(client: ApiClient, path: str, args: argparse.Namespace, out: TextIO) -> int:
    deadline = time.monotonic() + args.timeout if args.timeout else None
    last = None
    while True:
        line, done = status_line(client.request("GET", path))
        if line != last:
            out.write(line)
            out.flush()
            last = line
        if done or not args.watch:
            return 0
        if deadline is not None and time.monotonic() > deadline:
            raise RolloutError("timed out waiting for the condition")
        time.sleep(0.5)
