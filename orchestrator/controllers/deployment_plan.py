"""The rules of a Deployment's ReplicaSets and status: pure functions, no I/O.

The planner of one pass (:mod:`orchestrator.controllers.deployment_steps`) asks this module,
after Kubernetes' ``pkg/controller/deployment`` (sync.go, progress.go, util/deployment_util.go):

* **Which ReplicaSet is new**: the oldest one whose pod template equals the Deployment's,
  ignoring the ``pod-template-hash`` label (:func:`find_new_rs`); the rest are old.
* **Revisions**: the new ReplicaSet's ``deployment.kubernetes.io/revision`` is one more than the
  highest of the old ones. A template that comes back (``rollout undo``) therefore returns under
  a new, higher revision, and its old number disappears from ``rollout history``.
* **Annotations** the new ReplicaSet gets: the Deployment's own (``kubernetes.io/change-cause``
  among them, which is what ``rollout history`` prints), minus the bookkeeping ones, plus
  ``revision``, ``desired-replicas`` and ``max-replicas`` (the latter two drive proportional scaling).
* **Status** (:func:`compute_status`): replica counts summed over the ReplicaSets, the
  ``Available`` condition (at least ``replicas - maxUnavailable`` available) and the
  ``Progressing`` condition with Kubernetes' reasons and messages — which ``kubectl rollout
  status`` reads, ``ProgressDeadlineExceeded`` included.
* **History**: old ReplicaSets scaled to zero beyond ``revisionHistoryLimit``, oldest revision first.

Times are RFC 3339 strings in UTC on the wire and ``datetime`` here; the caller passes ``now``.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from enum import Enum

from orchestrator.api.apps import DeploymentConditionReason, DeploymentConditionType, DeploymentStrategyType
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.templatehash import POD_TEMPLATE_HASH, template_hash
from orchestrator.controllers import rollout
from orchestrator.controllers.owners import owner_reference
from orchestrator.api.timestamps import format_rfc3339, parse_rfc3339


class Annotation(str, Enum):
    REVISION = "deployment.kubernetes.io/revision"
    REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
    DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
    MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
    CHANGE_CAUSE = "kubernetes.io/change-cause"
    LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
    #: dockyard's opt-in: roll back by itself when the progress deadline is exceeded
    AUTO_ROLLBACK = "deployment.dockyard.io/auto-rollback"
    #: on a ReplicaSet the controller rolled back from: never a target of an automatic rollback again
    ROLLED_BACK = "deployment.dockyard.io/rolled-back"


#: Deployment annotations never copied onto a ReplicaSet (``annotationsToSkip``)
_NOT_COPIED = {Annotation.LAST_APPLIED.value, Annotation.REVISION.value, Annotation.REVISION_HISTORY.value,
               Annotation.DESIRED_REPLICAS.value, Annotation.MAX_REPLICAS.value,
               "deprecated.deployment.rollback.to",
               # kubectl's undo copies a ReplicaSet's annotations onto the Deployment; this one must not come back
               Annotation.ROLLED_BACK.value}


# ── reading a Deployment ─────────────────────────────────────────────────────────────────────


def replicas_of(obj: dict) -> int:
    return int((obj.get("spec") or {}).get("replicas") or 0)


def rolling_params(deployment: dict) -> tuple[int | str | None, int | str | None]:
    """``(maxSurge, maxUnavailable)``; Recreate behaves as surge 0 for the arithmetic."""
    strategy = deployment["spec"].get("strategy") or {}
    if strategy.get("type") == DeploymentStrategyType.RECREATE.value:
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    return rolling.get("maxSurge"), rolling.get("maxUnavailable")


def is_recreate(deployment: dict) -> bool:
    return (deployment["spec"].get("strategy") or {}).get("type") == DeploymentStrategyType.RECREATE.value


def max_unavailable(deployment: dict) -> int:
    if is_recreate(deployment):
        return 0
    surge, unavailable = rolling_params(deployment)
    return rollout.max_unavailable(surge, unavailable, replicas_of(deployment))


def max_surge(deployment: dict) -> int:
    if is_recreate(deployment):
        return 0
    return rollout.scaled_value(rolling_params(deployment)[0], replicas_of(deployment), True)


def revision_of(obj: dict) -> int:
    raw = (obj["metadata"].get("annotations") or {}).get(Annotation.REVISION.value)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def auto_rollback(deployment: dict) -> bool:
    return (deployment["metadata"].get("annotations") or {}).get(Annotation.AUTO_ROLLBACK.value) == "true"


# ── which ReplicaSet is which ────────────────────────────────────────────────────────────────


def without_hash(template: dict) -> dict:
    """A pod template with the ``pod-template-hash`` label removed (``EqualIgnoreHash``'s view)."""
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            template["metadata"].pop("labels")
    if "metadata" in template and not template["metadata"]:
        template.pop("metadata")
    return template


def by_age(rss: list[dict]) -> list[dict]:
    return sorted(rss, key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))


def find_new_rs(deployment: dict, rss: list[dict]) -> dict | None:
    """The oldest ReplicaSet running the Deployment's template (there may be several after a collision)."""
    wanted = without_hash(deployment["spec"].get("template"))
    return next((rs for rs in by_age(rss) if without_hash(rs["spec"].get("template")) == wanted), None)


def rs_view(rs: dict) -> rollout.RSView:
    annotations = rs["metadata"].get("annotations") or {}
    max_raw = annotations.get(Annotation.MAX_REPLICAS.value)
    return rollout.RSView(name=rs["metadata"]["name"], replicas=replicas_of(rs),
                          available=int((rs.get("status") or {}).get("availableReplicas") or 0),
                          created=rs["metadata"].get("creationTimestamp") or "",
                          max_replicas=int(max_raw) if max_raw and max_raw.isdigit() else None,
                          pods=int((rs.get("status") or {}).get("replicas") or 0))


# ── the new ReplicaSet ───────────────────────────────────────────────────────────────────────


def next_revision(old_rss: list[dict]) -> int:
    return max((revision_of(rs) for rs in old_rss), default=0) + 1


def replica_annotations(deployment: dict) -> dict[str, str]:
    """``desired-replicas`` and ``max-replicas`` as a ReplicaSet of this Deployment carries them."""
    return {Annotation.DESIRED_REPLICAS.value: str(replicas_of(deployment)),
            Annotation.MAX_REPLICAS.value: str(replicas_of(deployment) + max_surge(deployment))}


def new_rs_annotations(deployment: dict, current: dict[str, str] | None, revision: int) -> dict[str, str]:
    """The new ReplicaSet's annotations (``SetNewReplicaSetAnnotations``): the Deployment's own and
    the revision (only ever raised). The replica bookkeeping is written when it is created or scaled,
    never here: a changed ``desired-replicas`` is how a scaling event is recognised."""
    annotations = dict(current or {})
    for key, value in (deployment["metadata"].get("annotations") or {}).items():
        if key not in _NOT_COPIED:
            annotations[key] = value
    old_revision = int(annotations.get(Annotation.REVISION.value) or 0)
    if revision > old_revision:
        annotations[Annotation.REVISION.value] = str(revision)
    return annotations


def new_rs_object(deployment: dict, replicas: int, revision: int) -> dict:
    """The ReplicaSet ``NAME-HASH`` to create for the Deployment's current template."""
    meta = deployment["metadata"]
    collision_count = (deployment.get("status") or {}).get("collisionCount")
    template = copy.deepcopy(deployment["spec"].get("template") or {})
    pod_hash = template_hash(without_hash(template), collision_count)
    template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
    selector = copy.deepcopy(deployment["spec"].get("selector") or {})
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = pod_hash
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}", "namespace": meta.get("namespace"),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {**new_rs_annotations(deployment, None, revision), **replica_annotations(deployment)},
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {"replicas": replicas, "minReadySeconds": deployment["spec"].get("minReadySeconds") or 0,
                 "selector": selector, "template": template},
    }


# ── status ───────────────────────────────────────────────────────────────────────────────────


def _condition(conditions: list[dict], kind: DeploymentConditionType) -> dict | None:
    return next((c for c in conditions if c.get("type") == kind.value), None)


def set_condition(conditions: list[dict], kind: DeploymentConditionType, status: ConditionStatus,
                  reason: DeploymentConditionReason, message: str, now: str) -> list[dict]:
    """``SetDeploymentCondition``: same status and reason → unchanged (``lastUpdateTime`` too);
    otherwise replaced, keeping ``lastTransitionTime`` while the status stays the same."""
    before = _condition(conditions, kind)
    if before is not None and before.get("status") == status.value and before.get("reason") == reason.value \
            and before.get("message") == message:
        return conditions
    transition = before["lastTransitionTime"] if before is not None and before.get("status") == status.value \
        and before.get("lastTransitionTime") else now
    condition = {"type": kind.value, "status": status.value, "lastUpdateTime": now,
                 "lastTransitionTime": transition, "reason": reason.value, "message": message}
    if before is None:
        return [*conditions, condition]
    return [condition if c is before else c for c in conditions]


def counts(deployment: dict, all_rss: list[dict], new_rs: dict | None) -> dict:
    """Replica counts of the status (``calculateStatus``)."""
    def total(field: str) -> int:
        return sum(int((rs.get("status") or {}).get(field) or 0) for rs in all_rss)

    available = total("availableReplicas")
    return {
        "observedGeneration": deployment["metadata"].get("generation"),
        "replicas": total("replicas"),
        "updatedReplicas": int((new_rs.get("status") or {}).get("replicas") or 0) if new_rs else 0,
        "readyReplicas": total("readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, replicas_of(deployment) - available),
    }


def is_complete(deployment: dict, status: dict) -> bool:
    """``DeploymentComplete``: every replica updated and available, nothing old left."""
    replicas = replicas_of(deployment)
    return (status.get("updatedReplicas") == replicas and status.get("replicas") == replicas
            and status.get("availableReplicas") == replicas
            and (status.get("observedGeneration") or 0) >= (deployment["metadata"].get("generation") or 0))


def _progressed(old: dict, new: dict) -> bool:
    """``DeploymentProgressing``: a step of the rollout happened since the last status."""
    old_old = (old.get("replicas") or 0) - (old.get("updatedReplicas") or 0)
    new_old = (new.get("replicas") or 0) - (new.get("updatedReplicas") or 0)
    return ((new.get("updatedReplicas") or 0) > (old.get("updatedReplicas") or 0) or new_old < old_old
            or (new.get("readyReplicas") or 0) > (old.get("readyReplicas") or 0)
            or (new.get("availableReplicas") or 0) > (old.get("availableReplicas") or 0))


def timed_out(deployment: dict, conditions: list[dict], now: datetime) -> bool:
    """``DeploymentTimedOut``: no progress for ``progressDeadlineSeconds`` since the last step."""
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    condition = _condition(conditions, DeploymentConditionType.PROGRESSING)
    if deadline is None or condition is None:
        return False
    if condition.get("reason") == DeploymentConditionReason.PROGRESS_DEADLINE_EXCEEDED.value:
        return True
    if condition.get("reason") == DeploymentConditionReason.NEW_RS_AVAILABLE.value:
        return False
    since = parse_rfc3339(condition.get("lastUpdateTime"))
    return since is not None and since + timedelta(seconds=deadline) < now


def deadline_at(deployment: dict, conditions: list[dict]) -> datetime | None:
    """When the progress deadline runs out, if a rollout is under way (to re-check at that moment)."""
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    condition = _condition(conditions, DeploymentConditionType.PROGRESSING)
    if deadline is None or condition is None or condition.get("reason") in (
            DeploymentConditionReason.NEW_RS_AVAILABLE.value, DeploymentConditionReason.PROGRESS_DEADLINE_EXCEEDED.value):
        return None
    since = parse_rfc3339(condition.get("lastUpdateTime"))
    return None if since is None else since + timedelta(seconds=deadline + 1)


def compute_status(deployment: dict, all_rss: list[dict], new_rs: dict | None, now: datetime) -> dict:
    """The Deployment's next status (``syncRolloutStatus``), from its ReplicaSets' statuses."""
    old_status = deployment.get("status") or {}
    status = {**{k: v for k, v in old_status.items() if k == "collisionCount"}, **counts(deployment, all_rss, new_rs)}
    conditions = list(old_status.get("conditions") or [])
    stamp = format_rfc3339(now)
    if status["availableReplicas"] >= replicas_of(deployment) - max_unavailable(deployment):
        conditions = set_condition(conditions, DeploymentConditionType.AVAILABLE, ConditionStatus.TRUE,
                                   DeploymentConditionReason.MINIMUM_REPLICAS_AVAILABLE,
                                   "Deployment has minimum availability.", stamp)
    else:
        conditions = set_condition(conditions, DeploymentConditionType.AVAILABLE, ConditionStatus.FALSE,
                                   DeploymentConditionReason.MINIMUM_REPLICAS_UNAVAILABLE,
                                   "Deployment does not have minimum availability.", stamp)
    progressing = _condition(conditions, DeploymentConditionType.PROGRESSING)
    paused = progressing is not None and progressing.get("reason") == DeploymentConditionReason.DEPLOYMENT_PAUSED.value
    if deployment["spec"].get("progressDeadlineSeconds") is not None and new_rs is not None and not paused:
        name = new_rs["metadata"]["name"]
        if is_complete(deployment, status):
            conditions = set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.TRUE,
                                       DeploymentConditionReason.NEW_RS_AVAILABLE,
                                       f'ReplicaSet "{name}" has successfully progressed.', stamp)
        elif _progressed(old_status, status):
            # a fresh lastUpdateTime: the deadline counts from this step
            conditions = [c for c in conditions if c is not progressing]
            conditions = set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.TRUE,
                                       DeploymentConditionReason.REPLICA_SET_UPDATED,
                                       f'ReplicaSet "{name}" is progressing.', stamp)
            if progressing is not None and progressing.get("status") == ConditionStatus.TRUE.value:
                conditions[-1] = {**conditions[-1], "lastTransitionTime": progressing.get("lastTransitionTime")}
        elif timed_out(deployment, conditions, now):
            conditions = set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.FALSE,
                                       DeploymentConditionReason.PROGRESS_DEADLINE_EXCEEDED,
                                       f'ReplicaSet "{name}" has timed out progressing.', stamp)
    status["conditions"] = conditions
    return status


def pause_condition(deployment: dict, now: datetime) -> list[dict] | None:
    """``checkPausedConditions``: the conditions to write when pause state and condition disagree."""
    conditions = list((deployment.get("status") or {}).get("conditions") or [])
    progressing = _condition(conditions, DeploymentConditionType.PROGRESSING)
    if deployment["spec"].get("progressDeadlineSeconds") is None:
        return None
    paused_reason = progressing is not None and \
        progressing.get("reason") == DeploymentConditionReason.DEPLOYMENT_PAUSED.value
    if deployment["spec"].get("paused") and not paused_reason:
        return set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.UNKNOWN,
                             DeploymentConditionReason.DEPLOYMENT_PAUSED, "Deployment is paused", format_rfc3339(now))
    if not deployment["spec"].get("paused") and paused_reason:
        return set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.UNKNOWN,
                             DeploymentConditionReason.DEPLOYMENT_RESUMED, "Deployment is resumed", format_rfc3339(now))
    return None


def created_condition(deployment: dict, conditions: list[dict], rs_name: str, found: bool, now: datetime
                      ) -> list[dict]:
    """``NewReplicaSetCreated`` on creation; ``FoundNewReplicaSet`` when no Progressing condition exists yet."""
    if deployment["spec"].get("progressDeadlineSeconds") is None:
        return conditions
    if found:
        if _condition(conditions, DeploymentConditionType.PROGRESSING) is not None:
            return conditions
        return set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.TRUE,
                             DeploymentConditionReason.FOUND_NEW_REPLICA_SET,
                             f'Found new replica set "{rs_name}"', format_rfc3339(now))
    return set_condition(conditions, DeploymentConditionType.PROGRESSING, ConditionStatus.TRUE,
                         DeploymentConditionReason.NEW_REPLICA_SET_CREATED,
                         f'Created new replica set "{rs_name}"', format_rfc3339(now))


# ── history and rollback ─────────────────────────────────────────────────────────────────────


def history_to_prune(deployment: dict, old_rss: list[dict]) -> list[dict]:
    """Old ReplicaSets beyond ``revisionHistoryLimit`` that are fully scaled down, oldest revision first."""
    limit = deployment["spec"].get("revisionHistoryLimit")
    if limit is None:
        return []
    alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
    excess = len(alive) - limit
    if excess <= 0:
        return []
    oldest = sorted(alive, key=lambda rs: (revision_of(rs), rs["metadata"].get("creationTimestamp") or ""))
    return [rs for rs in oldest[:excess]
            if replicas_of(rs) == 0 and not (rs.get("status") or {}).get("replicas")
            and (rs["metadata"].get("generation") or 0) <= ((rs.get("status") or {}).get("observedGeneration") or 0)]


def auto_rollback_target(old_rss: list[dict]) -> dict | None:
    """The ReplicaSet an automatic rollback goes back to: the latest earlier revision that was never
    itself rolled back from. So when the restored revision fails too, the controller does not
    bounce back to the one it fled: with nothing left to go back to, it stops and reports."""
    candidates = [rs for rs in old_rss if revision_of(rs) > 0
                  and Annotation.ROLLED_BACK.value not in (rs["metadata"].get("annotations") or {})]
    return max(candidates, key=revision_of, default=None)


def rollback_template(rs: dict) -> dict:
    """The ReplicaSet's pod template as a Deployment template (without the hash label)."""
    return without_hash(rs["spec"].get("template"))


def rollback_annotations(deployment: dict, rs: dict) -> dict[str, str]:
    """The Deployment's annotations after rolling back to ``rs``: the ReplicaSet's own copied over
    them (its change-cause above all), but never the bookkeeping ones — what ``kubectl rollout
    undo`` sends (``SetDeploymentAnnotationsTo``)."""
    annotations = dict(deployment["metadata"].get("annotations") or {})
    annotations.update({key: value for key, value in (rs["metadata"].get("annotations") or {}).items()
                        if key not in _NOT_COPIED})
    return annotations
