"""The decisions behind ``dockyard rollout …``, ``scale`` and ``set image``: pure, no HTTP."""

from __future__ import annotations

import pytest

from orchestrator.cli.client import ClientError
from orchestrator.cli.rollout import (
    RolloutError, format_history, format_revision, history_rows, owned_replicasets, revision_template,
    status_line, undo_patch,
)
from orchestrator.cli.workloads import image_patch, parse_images

REVISION = "deployment.kubernetes.io/revision"


def rs(revision: int, image: str, cause: str | None = None, owner: str = "d-uid") -> dict:
    annotations = {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": "3"}
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return {"metadata": {"name": f"web-{revision}", "annotations": annotations,
                         "ownerReferences": [{"uid": owner, "controller": True}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def deployment(image: str = "nginx:2", revision: int = 2, paused: bool = False, **status) -> dict:
    return {"metadata": {"name": "web", "uid": "d-uid", "generation": status.pop("generation", 2),
                         "annotations": {REVISION: str(revision), "kubernetes.io/change-cause": "now"}},
            "spec": {"replicas": 3, "paused": paused,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}},
            "status": status}


def test_history_lists_revisions_with_change_cause_like_kubectl():
    rows = history_rows([rs(2, "b", "set image"), rs(1, "a")])
    assert rows == [(1, "<none>"), (2, "set image")]
    assert format_history("deployment.apps/web", rows) == (
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         set image\n\n")


def test_only_replicasets_the_deployment_controls_count():
    assert [r["metadata"]["name"] for r in owned_replicasets(deployment(), [rs(1, "a"), rs(2, "b", owner="x")])] \
        == ["web-1"]


def test_undo_copies_the_old_template_without_its_hash_and_its_change_cause():
    patch, revision = undo_patch(deployment(), [rs(1, "nginx:1", "first"), rs(2, "nginx:2", "now")], 0)
    assert revision == 1
    assert patch[0] == {"op": "replace", "path": "/spec/template", "value": {
        "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}
    assert patch[1]["value"] == {REVISION: "2", "kubernetes.io/change-cause": "first"}


def test_undo_refusals_and_the_no_op():
    with pytest.raises(RolloutError, match="paused"):
        undo_patch(deployment(paused=True), [rs(1, "nginx:1")], 0)
    with pytest.raises(RolloutError, match="unable to find specified revision 7"):
        undo_patch(deployment(), [rs(1, "nginx:1"), rs(2, "nginx:2")], 7)
    assert undo_patch(deployment(), [rs(1, "nginx:1"), rs(2, "nginx:2")], 2) == (None, 2)


@pytest.mark.parametrize("status, line, done", [
    ({"generation": 3, "observedGeneration": 2}, "Waiting for deployment spec update to be observed...\n", False),
    ({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3},
     'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n', False),
    ({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3},
     'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...\n', False),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2},
     'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...\n', False),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
     'deployment "web" successfully rolled out\n', True),
])
def test_status_lines_are_kubectls(status, line, done):
    assert status_line(deployment(**status)) == (line, done)


def test_status_fails_on_an_exceeded_deadline():
    with pytest.raises(RolloutError, match='deployment "web" exceeded its progress deadline'):
        status_line(deployment(observedGeneration=2, conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]))


def test_set_image_patches_only_named_containers_and_refuses_unknown_ones():
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}}}
    assert image_patch(obj, {"a": "x:2"}) == {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "x:2"}]}}}}
    assert image_patch(obj, {"*": "z"})["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "z"}, {"name": "b", "image": "z"}]
    with pytest.raises(ClientError, match='unable to find container named "c"'):
        image_patch(obj, {"c": "q"})
    with pytest.raises(ClientError, match="CONTAINER=IMAGE"):
        parse_images(["nginx"])


def test_history_of_one_revision_shows_its_template_with_the_change_cause():
    replicasets = [rs(1, "nginx:1", "first"), rs(2, "nginx:2")]
    template = revision_template(replicasets, 1)
    assert template["metadata"]["annotations"] == {"kubernetes.io/change-cause": "first"}
    assert template["metadata"]["labels"]["pod-template-hash"] == "h1"  # kubectl keeps it
    assert "annotations" not in replicasets[0]["spec"]["template"]["metadata"]  # a copy
    assert format_revision("deployment.apps/web", 2, revision_template(replicasets, 2)) == (
        "deployment.apps/web with revision #2\nPod Template:\n  Labels:\tapp=web\n\tpod-template-hash=h2\n"
        "  Containers:\n   web:\n    Image:\tnginx:2\n    Port:\t<none>\n    Host Port:\t<none>\n"
        "    Environment:\t<none>\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n"
        "  Tolerations:\t<none>\n\n")
    with pytest.raises(RolloutError, match="unable to find the specified revision 3"):
        revision_template(replicasets, 3)


def test_no_history_reads_as_kubectl_says_it():
    assert format_history("deployment.apps/web", []) == "deployment.apps/web \nNo rollout history found.\n"
