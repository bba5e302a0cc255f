"""The load a chaos run keeps up while its faults play: three clients on the LAN's workstation.

Run as its own process on the workstation (``python -m tests.support.chaos_load CONFIG``, under
:meth:`~tests.support.lan.Lan.command`), since the LAN exists only in its namespaces. Each client is
a thread that writes one JSON line per observation into the run's directory, flushed at once, so
what a client saw survives whatever happens to it; the analysis (:mod:`tests.support.chaos_figures`)
reads the files afterwards. SIGTERM ends the process cleanly.

* **requests** — an HTTP GET of the Service's NodePort, round robin over the worker machines'
  LAN addresses, a new connection each time (so every request is routed afresh by the machine's
  rules), every ``request_interval`` seconds, with a 1-second timeout; each answer or failure is
  one line: ``{"t", "target", "ok", "detail", "ms"}``.
* **writes** — acknowledged writes: ConfigMaps ``w-000001``, ``w-000002`` … created in the
  ``chaos`` namespace, each carrying its sequence number. A ``201 Created`` is an acknowledgement:
  the server promised the object is stored, and the end of the run reads every one back. A refusal
  or a request with no answer (refused connection, timeout) is recorded as such; the latter may
  or may not have been stored, and nothing is promised about it. ``{"t", "seq", "outcome", "code"}``.
* **pods** — a watch on the Deployment's pods (``labelSelector``), resumed from its last revision
  after every break (the server was killed, restarted) and listed again only on ``410 Gone``:
  every version of every pod is one line ``{"t", "type", "uid", "name", "node", "phase",
  "deleting", "rv"}`` (type ``LIST`` for what a list returned), from which duplicate pods are
  counted.
"""

from __future__ import annotations

import json
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

#: the namespace the acknowledged writes go to
WRITES_NAMESPACE = "chaos"
#: the files each client writes, in the run's directory
REQUESTS, WRITES, PODS = "requests.jsonl", "writes.jsonl", "pods.jsonl"


@dataclass(frozen=True)
class LoadConfig:
    server: str                 # https://CONTROL:6443
    token: str                  # the admin's bearer token
    ca_file: str
    targets: tuple[str, ...]    # http://WORKER:NODEPORT/ of every worker
    pod_selector: str           # the Deployment's pods, e.g. app=web
    namespace: str              # where those pods are
    out: str                    # the directory the JSON lines go to
    request_interval: float = 0.1
    write_interval: float = 0.2

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> LoadConfig:
        raw = json.loads(text)
        return cls(**{**raw, "targets": tuple(raw["targets"])})


class Recorder:
    """One JSON-lines file, written line by line from one thread."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = open(path, "a", buffering=1)

    def record(self, **line: Any) -> None:
        self._file.write(json.dumps({"t": round(time.time(), 3), **line}) + "\n")

    def close(self) -> None:
        self._file.close()


def probe_service(config: LoadConfig, stop: threading.Event) -> None:
    out = Recorder(Path(config.out) / REQUESTS)
    turn = 0
    try:
        while not stop.is_set():
            target = config.targets[turn % len(config.targets)]
            turn += 1
            began = time.monotonic()
            try:
                answer = httpx.get(target, timeout=1.0)
                ok, detail = answer.status_code == 200, str(answer.status_code)
            except httpx.HTTPError as error:
                ok, detail = False, type(error).__name__
            out.record(target=target, ok=ok, detail=detail, ms=round((time.monotonic() - began) * 1000))
            stop.wait(config.request_interval)
    finally:
        out.close()


def write_configmaps(config: LoadConfig, api: httpx.Client, stop: threading.Event) -> None:
    out = Recorder(Path(config.out) / WRITES)
    seq = 0
    try:
        while not stop.is_set():
            seq += 1
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"w-{seq:06d}"},
                    "data": {"seq": str(seq)}}
            try:
                answer = api.post(f"/api/v1/namespaces/{WRITES_NAMESPACE}/configmaps", json=body, timeout=5.0)
                outcome = "acked" if answer.status_code == 201 else "refused"
                out.record(seq=seq, outcome=outcome, code=answer.status_code)
            except httpx.HTTPError as error:
                out.record(seq=seq, outcome="unknown", code=type(error).__name__)
            stop.wait(config.write_interval)
    finally:
        out.close()


def watch_pods(config: LoadConfig, api: httpx.Client, stop: threading.Event) -> None:
    out = Recorder(Path(config.out) / PODS)
    watch = PodWatch(config, api, out)
    try:
        while not stop.is_set():
            try:
                if watch.revision is None:
                    watch.list()
                watch.follow(stop)
            except (httpx.HTTPError, ValueError, KeyError) as error:
                out.record(type="BROKEN", detail=type(error).__name__)
                stop.wait(0.5)
    finally:
        out.close()


class PodWatch:
    """The pod watch's state: the revision to resume from, moved on by every line read, so a
    watch that breaks halfway resumes after the last event it delivered."""

    def __init__(self, config: LoadConfig, api: httpx.Client, out: Recorder) -> None:
        self.config, self.api, self.out = config, api, out
        self.path = f"/api/v1/namespaces/{config.namespace}/pods"
        self.revision: str | None = None   # None: list (again)

    def list(self) -> None:
        listed = self.api.get(self.path, params={"labelSelector": self.config.pod_selector}, timeout=10.0)
        listed.raise_for_status()
        for pod in listed.json()["items"]:
            self.out.record(**pod_line("LIST", pod))
        self.revision = listed.json()["metadata"]["resourceVersion"]

    def follow(self, stop: threading.Event) -> None:
        params = {"labelSelector": self.config.pod_selector, "watch": "true", "resourceVersion": self.revision,
                  "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
        with self.api.stream("GET", self.path, params=params, timeout=httpx.Timeout(10.0, read=None)) as stream:
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    self.out.record(type="EXPIRED", detail=obj.get("message"))
                    self.revision = None
                    return
                if event.get("type") != "BOOKMARK":
                    self.out.record(**pod_line(event["type"], obj))
                self.revision = (obj.get("metadata") or {}).get("resourceVersion") or self.revision


def pod_line(kind: str, pod: dict) -> dict:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return {"type": kind, "uid": meta.get("uid"), "name": meta.get("name"), "node": spec.get("nodeName"),
            "phase": status.get("phase"), "deleting": bool(meta.get("deletionTimestamp")),
            "rv": meta.get("resourceVersion")}


def main(config_path: str) -> int:
    config = LoadConfig.from_json(Path(config_path).read_text())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    context = ssl.create_default_context(cafile=config.ca_file)
    headers = {"Authorization": f"Bearer {config.token}"}
    with httpx.Client(base_url=config.server, verify=context, headers=headers) as writes_api, \
            httpx.Client(base_url=config.server, verify=context, headers=headers) as watch_api:
        # daemon threads: the pod watch may be waiting for its next line; what it saw is on disk
        threads = [threading.Thread(target=probe_service, args=(config, stop), name="requests", daemon=True),
                   threading.Thread(target=write_configmaps, args=(config, writes_api, stop), name="writes",
                                    daemon=True),
                   threading.Thread(target=watch_pods, args=(config, watch_api, stop), name="pods", daemon=True)]
        for thread in threads:
            thread.start()
        Path(config.out, "started").touch()
        while not stop.wait(0.5):
            pass
        for thread in threads[:2]:
            thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
