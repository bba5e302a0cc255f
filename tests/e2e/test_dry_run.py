"""Server-side dry run with the real kubectl: every verb answers what it would have stored, and
nothing is stored or watched (the store's revision does not move, no watch sees an event).

Generator commands (``kubectl create deployment …``) are covered where their protobuf bodies are
(``test_kubectl_generators.py``); here every verb that takes ``--dry-run=server`` runs on a
manifest or an existing object.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import yaml

from tests.conftest import REPO

SEED = REPO / "examples" / "seed"
#: the seed's Deployment at 0 replicas: once its ReplicaSet is made, nothing writes any more, so
#: the store's revision holds still and any write would show
DEPLOYMENT = yaml.safe_load((SEED / "deployment-nginx.yaml").read_text())
DEPLOYMENT["spec"]["replicas"] = 0
NAME = DEPLOYMENT["metadata"]["name"]


def revision(control_plane) -> int:
    with control_plane.client() as http:
        return int(http.get("/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"])


class WatchRecorder:
    """Every event a watch on deployments sees, from a revision on."""

    def __init__(self, control_plane, since: int) -> None:
        self.events: list[dict] = []
        self._client = control_plane.client()
        self._response = self._client.send(self._client.build_request(
            "GET", "/apis/apps/v1/namespaces/default/deployments",
            params={"watch": "true", "resourceVersion": str(since), "timeoutSeconds": "30"}), stream=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response.iter_lines():
                if line:
                    self.events.append(json.loads(line))
        except Exception:  # noqa: BLE001 - closing the client ends the read
            pass

    def close(self) -> list[dict]:
        self._response.close()
        self._client.close()
        self._thread.join(timeout=5)
        return self.events


@pytest.fixture
def deployed(control_plane, kubectl):
    kubectl("apply", "-f", "-", input=yaml.safe_dump(DEPLOYMENT))
    settled, last = time.monotonic(), revision(control_plane)
    while time.monotonic() - settled < 1.5:  # the controllers' writes are done when nothing moves
        time.sleep(0.1)
        if (now := revision(control_plane)) != last:
            settled, last = time.monotonic(), now
    return kubectl


def changed(deployment: dict, replicas: int) -> str:
    return yaml.safe_dump({**deployment, "spec": {**deployment["spec"], "replicas": replicas}})


#: (what, kubectl's arguments, its stdin, what it prints)
VERBS = [
    ("apply", ["apply", "--dry-run=server", "-f", "-"], changed(DEPLOYMENT, 5),
     f"deployment.apps/{NAME} configured (server dry run)"),
    ("replace", ["replace", "--dry-run=server", "-f", "-"], changed(DEPLOYMENT, 6),
     f"deployment.apps/{NAME} replaced (server dry run)"),
    # kubectl 1.32's patch prints no dry-run suffix of its own (its printer is made without one)
    ("patch", ["patch", "deployment", NAME, "--dry-run=server", "-p", '{"spec":{"replicas":7}}'], None,
     f"deployment.apps/{NAME} patched"),
    ("scale", ["scale", "deployment", NAME, "--replicas=8", "--dry-run=server"], None,
     f"deployment.apps/{NAME} scaled (server dry run)"),
    ("label", ["label", "deployment", NAME, "tier=front", "--dry-run=server"], None,
     f"deployment.apps/{NAME} labeled (server dry run)"),
    ("annotate", ["annotate", "deployment", NAME, "note=hello", "--dry-run=server"], None,
     f"deployment.apps/{NAME} annotated (server dry run)"),
    ("set-image", ["set", "image", f"deployment/{NAME}", "nginx=nginx:1.27", "--dry-run=server"], None,
     f"deployment.apps/{NAME} image updated (server dry run)"),
    ("delete", ["delete", "deployment", NAME, "--dry-run=server"], None,
     f'deployment.apps "{NAME}" deleted (server dry run)'),
]


@pytest.mark.parametrize(("verb", "args", "stdin", "printed"), VERBS, ids=[verb for verb, *_ in VERBS])
def test_a_server_dry_run_stores_and_announces_nothing(control_plane, deployed, verb, args, stdin, printed):
    before = revision(control_plane)
    watch = WatchRecorder(control_plane, before)
    try:
        output = deployed(*args, input=stdin)
    finally:
        events = watch.close()
    assert output.strip() == printed, output
    assert revision(control_plane) == before, f"{verb}: the store's revision moved"
    assert events == [], f"{verb}: a watch saw {events}"
    stored = json.loads(deployed("get", "deployment", NAME, "-o", "json"))
    assert stored["spec"]["replicas"] == DEPLOYMENT["spec"]["replicas"] and "tier" not in (
        stored["metadata"].get("labels") or {})


def test_a_dry_run_answers_what_the_write_would_have_stored(control_plane, deployed):
    before = revision(control_plane)
    answer = yaml.safe_load(deployed("apply", "--dry-run=server", "-f", "-", "-o", "yaml",
                                     input=changed(DEPLOYMENT, 5)))
    assert answer["spec"]["replicas"] == 5 and answer["metadata"]["generation"] == 2
    created = yaml.safe_load(deployed("create", "--dry-run=server", "-o", "yaml", "-f", "-",
                                      input=yaml.safe_dump({**DEPLOYMENT, "metadata": {"name": "other"}})))
    assert created["metadata"]["uid"] and created["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted
    assert revision(control_plane) == before
    assert deployed.run("get", "deployment", "other", check=False).returncode != 0


def test_diff_shows_the_real_difference_and_changes_nothing(control_plane, deployed):
    before = revision(control_plane)
    result = deployed.run("diff", "-f", "-", input=changed(DEPLOYMENT, 5), check=False)
    assert result.returncode == 1, result.stderr  # kubectl diff: 1 means "there are differences"
    assert "-  replicas: 0" in result.stdout and "+  replicas: 5" in result.stdout
    assert "-  generation: 1" in result.stdout and "+  generation: 2" in result.stdout
    same = deployed.run("diff", "-f", "-", input=yaml.safe_dump(DEPLOYMENT), check=False)
    assert same.returncode == 0 and same.stdout == "", same.stdout + same.stderr
    assert revision(control_plane) == before
