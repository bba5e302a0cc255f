"""Every manifest of the seed study notes decodes strictly, defaults as Kubernetes does, and validates.

The notes are what users type in. The manifests checked here are the repository's copies in
``examples/seed/``; that they are the notes' own, byte for byte, is checked too: each against the
checksum ``examples/seed/provenance.txt`` records for it (:mod:`tests.support.seed_copies`, whose
``make seed-check NOTES=DIR`` compares the record with the notes themselves, and whose comparison
is tested at the end of this file on notes written here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.api.decode import decode
from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for
from orchestrator.api.validation import validate
from tests.support.seed_copies import (
    RecordedCopy, copy_problems, digest, main, manifests, note_blocks, notes_problems, read_record,
)

RECORD = read_record()
COPIES = manifests()
# The notes hold 7 complete manifests (Pod, ReplicaSet, 2 Deployments, 3 Services) plus a fragment.
COMPLETE = [(name, doc) for name, text in COPIES.items() for doc in yaml.safe_load_all(text)]


def test_the_copies_are_the_recorded_ones() -> None:
    assert copy_problems(RECORD, COPIES) == []
    assert len(RECORD) == 7
    assert {doc["kind"] for _, doc in COMPLETE} == {"Pod", "ReplicaSet", "Deployment", "Service"}


def _admit(doc: dict) -> dict:
    """What the API server does with a manifest: decode strictly, place it, default, validate."""
    rk = kind_for(doc["apiVersion"], doc["kind"])
    obj, warnings = decode(rk, doc, strict=True)
    assert warnings == []
    if rk.namespaced:
        obj["metadata"].setdefault("namespace", "default")
    obj = apply_defaults(rk, obj)
    validate(rk, obj)
    assert apply_defaults(rk, obj) == obj
    return obj


@pytest.mark.parametrize("doc", [doc for _, doc in COMPLETE], ids=[name for name, _ in COMPLETE])
def test_seed_manifest_is_accepted_unchanged(doc: dict) -> None:
    obj = _admit(doc)
    for key in ("apiVersion", "kind"):
        assert obj[key] == doc[key]
    assert obj["metadata"]["name"] == doc["metadata"]["name"]


def _containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] in ("Deployment", "ReplicaSet") else obj["spec"]
    return spec["containers"]


@pytest.mark.parametrize("doc", [doc for _, doc in COMPLETE if doc["kind"] in ("Pod", "Deployment", "ReplicaSet")],
                         ids=[name for name, doc in COMPLETE if doc["kind"] in ("Pod", "Deployment", "ReplicaSet")])
def test_seed_workload_defaults(doc: dict) -> None:
    obj = _admit(doc)
    for container in _containers(obj):
        expected = "Always" if container["image"].endswith(":latest") or ":" not in container["image"] else "IfNotPresent"
        assert container["imagePullPolicy"] == expected
        assert container["terminationMessagePath"] == "/dev/termination-log"
        assert all(port["protocol"] == "TCP" for port in container.get("ports", []))
    if obj["kind"] == "Deployment":
        assert obj["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        assert (obj["spec"]["revisionHistoryLimit"], obj["spec"]["progressDeadlineSeconds"]) == (10, 600)
    if obj["kind"] == "Pod":
        assert (obj["spec"]["serviceAccountName"], obj["spec"]["priority"], obj["spec"]["restartPolicy"]) == ("default", 0, "Always")


def test_seed_nginx_latest_pulls_always() -> None:
    pods = [_admit(doc) for _, doc in COMPLETE if doc["kind"] == "Pod"]
    assert any(c["image"] == "nginx:latest" and c["imagePullPolicy"] == "Always" for p in pods for c in _containers(p))


def test_seed_services() -> None:
    services = {doc["metadata"]["name"]: _admit(doc) for _, doc in COMPLETE if doc["kind"] == "Service"}
    clusterip = services["hostname-svc-clusterip"]["spec"]
    assert clusterip["ports"] == [{"name": "web-port", "port": 8080, "targetPort": 80, "protocol": "TCP"}]
    assert (clusterip["sessionAffinity"], clusterip["internalTrafficPolicy"]) == ("None", "Cluster")
    assert "externalTrafficPolicy" not in clusterip
    nodeport = services["hostname-svc-nodeport"]["spec"]
    assert nodeport["externalTrafficPolicy"] == "Cluster"
    external = services["externalname-svc"]["spec"]
    assert external == {"type": "ExternalName", "externalName": "my.database.com", "sessionAffinity": "None"}


# -- the copies against their record, and `make seed-check` against notes written here ------------

SNIPPET = "...\nspec:\n  sessionAffinity: ClientIP\n...\n"  # as the notes show a change to a Service
REPLICASET = next(copy for copy in RECORD if copy.manifest == "replicaset-nginx.yaml")


def test_a_copy_edited_added_or_lost_in_the_repository_is_reported() -> None:
    edited = {**COPIES, REPLICASET.manifest: COPIES[REPLICASET.manifest].replace("replicas: 3", "replicas: 4")}
    assert [p.split(" is ")[0] for p in copy_problems(RECORD, edited)] == ["examples/seed/replicaset-nginx.yaml"]
    assert "not in provenance.txt" in copy_problems(RECORD, {**COPIES, "mine.yaml": "kind: Pod\n"})[0]
    lost = {name: text for name, text in COPIES.items() if name != REPLICASET.manifest}
    assert copy_problems(RECORD, lost) == ["provenance.txt records examples/seed/replicaset-nginx.yaml, "
                                           "which does not exist"]


def _notes(directory: Path, blocks: dict[str, list[str]]) -> Path:
    """Notes laid out as the real ones are: prose, with each manifest fenced as ```yaml."""
    directory.mkdir()
    for note, texts in blocks.items():
        prose = "".join(f"- 설명 {number}\n\n```yaml\n{text}```\n\n" for number, text in enumerate(texts))
        (directory / note).write_text(f"# 쿠버네티스\n\n{prose}", encoding="utf-8")
    return directory


def _blocks_of_the_copies() -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for copy in RECORD:
        notes.setdefault(copy.note, []).append(COPIES[copy.manifest])
    notes[REPLICASET.note].append(SNIPPET)
    return notes


def test_notes_holding_every_copy_pass_and_snippets_are_named(tmp_path, capsys) -> None:
    notes = _notes(tmp_path / "notes", _blocks_of_the_copies())
    blocks = note_blocks(notes)
    assert notes_problems(RECORD, blocks) == []
    assert [block.text for block in blocks if not block.complete] == [SNIPPET]
    assert main([str(notes)]) == 0
    assert f"holds the 7 manifests of the notes in {notes}, unchanged" in capsys.readouterr().out


def test_a_manifest_changed_in_the_notes_is_reported(tmp_path) -> None:
    blocks = _blocks_of_the_copies()
    original = COPIES[REPLICASET.manifest]
    blocks[REPLICASET.note] = [text.replace("replicas: 3", "replicas: 5") if text == original else text
                               for text in blocks[REPLICASET.note]]
    problems = notes_problems(RECORD, note_blocks(_notes(tmp_path / "notes", blocks)))
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"the manifest at {REPLICASET.note} line ")  # it has no copy
    assert problems[1].startswith("examples/seed/replicaset-nginx.yaml is recorded as a block of")


def test_a_new_manifest_in_the_notes_is_reported(tmp_path, capsys) -> None:
    blocks = _blocks_of_the_copies()
    extra = "apiVersion: v1\nkind: Service\nmetadata:\n  name: hostname-svc-lb\nspec:\n  type: LoadBalancer\n"
    blocks["005_new.txt"] = [extra]
    notes = _notes(tmp_path / "notes", blocks)
    assert notes_problems(RECORD, note_blocks(notes)) == [
        f"the manifest at 005_new.txt line 5 has no copy in examples/seed/: copy the block byte for byte into "
        f"a .yaml file there and record it in provenance.txt (sha256 {digest(extra)})"]
    assert main([str(notes)]) == 1
    assert "005_new.txt line 5" in capsys.readouterr().err


def test_without_the_notes_the_check_fails_instead_of_passing(tmp_path, capsys) -> None:
    assert main([str(tmp_path / "absent")]) == 2
    assert "no study notes" in capsys.readouterr().err


def test_the_record_format_is_checked(tmp_path) -> None:
    (tmp_path / "provenance.txt").write_text("# comment\nnginx-pod.yaml 004.txt\n")
    with pytest.raises(ValueError, match="provenance.txt:2: expected 'manifest note sha256'"):
        read_record(tmp_path)
    (tmp_path / "provenance.txt").write_text("nginx-pod.yaml  004.txt  abc\n")
    assert read_record(tmp_path) == [RecordedCopy("nginx-pod.yaml", "004.txt", "abc")]
