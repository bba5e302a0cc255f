"""kill -9 the server while clients write: every acknowledged write survives the restart."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx

from tests.support.controlplane import ControlPlaneProcess, free_port


def test_acknowledged_writes_survive_kill_9(tmp_path):
    server = ControlPlaneProcess(tmp_path / "state", free_port()).start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(index: int) -> None:
        with server.client() as http:
            for n in range(100_000):
                if stop.is_set():
                    return
                name = f"w{index}-{n}"
                try:
                    response = http.post("/api/v1/namespaces/default/configmaps",
                                         json={"metadata": {"name": name}, "data": {"n": str(n)}})
                except httpx.HTTPError:
                    return  # the server died mid-request: that write was never acknowledged
                if response.status_code == 201:
                    with lock:
                        acknowledged.append(name)

    try:
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(10)
        assert len(acknowledged) > 20, "the writers barely wrote; the test proves nothing"

        with sqlite3.connect(server.state_dir / "state.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        server.start()
        with server.client() as http:
            stored = {cm["metadata"]["name"] for cm in
                      http.get("/api/v1/namespaces/default/configmaps").json()["items"]}
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged writes were lost, e.g. {sorted(missing)[:5]}"
    finally:
        stop.set()
        server.stop()
