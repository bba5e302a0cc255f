"""Running the real kubectl against a test control plane, with an isolated discovery cache."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.waiting import wait_for


@dataclass
class Kubectl:
    kubeconfig: Path
    cache_dir: Path

    def command(self, *args: str) -> list[str]:
        """The argv of ``kubectl ARGS`` against this cluster, for tests that drive the process."""
        return ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
            ) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def __call__(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout

    def wait_described(self, *target: str, text: str, timeout: float = 10) -> str:
        """``kubectl describe TARGET`` once it says ``text``. Events are recorded after (or, in the
        agent, beside) the change they explain, as in Kubernetes, so a test that has just seen the
        change waits for the event rather than reading once."""
        def saying() -> str | None:
            described = self("describe", *target)
            return described if text in described else None

        return wait_for(f"describe {' '.join(target)} to say {text!r}", saying,
                        explain=lambda: self.run("describe", *target, check=False).stdout, timeout=timeout)

    def first_lines(self, count: int, *args: str) -> list[str]:
        """The first ``count`` lines a streaming command (``logs -f``, ``get -w``) prints; then
        the command is killed."""
        stream = subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, text=True)
        try:
            return [stream.stdout.readline() for _ in range(count)]
        finally:
            stream.kill()
            stream.wait(timeout=10)
