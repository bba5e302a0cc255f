"""A real ``dockyard server`` process on a temporary state dir, for integration and e2e tests.

The server runs exactly as users run it (a subprocess of the ``dockyard`` entry point), on a free
loopback port, and is killed at teardown even when the test failed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.apiaccess import ApiAccess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ControlPlaneProcess(ApiAccess):
    state_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    #: the interpreter that runs the server: another checkout's virtualenv runs that checkout's code
    python: str = sys.executable
    process: subprocess.Popen | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "ControlPlaneProcess":
        log = self.state_dir.parent / f"server-{self.port}.log"
        with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [self.python, "-m", "orchestrator.cli.main", "server", "--state-dir", str(self.state_dir),
                 "--listen", f"127.0.0.1:{self.port}", *self.extra_args],
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.state_dir.parent,  # not a checkout: `-m` must import the interpreter's own code
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockyard server exited with {self.process.returncode}; see {log}")
            try:
                if self.kubeconfig.exists() and self._answers_ready():
                    return self
            except (httpx.HTTPError, OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dockyard server did not become ready in {timeout}s; see {log}")

    def _answers_ready(self) -> bool:
        # Closed at once: an open TLS connection would hold the server's shutdown until uvicorn's
        # graceful-shutdown timeout runs out (2 s per test), and a dropped client is only freed
        # by the cycle collector.
        with self.client() as client:
            return client.get("/readyz").status_code == 200

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.kill(signal.SIGTERM)
