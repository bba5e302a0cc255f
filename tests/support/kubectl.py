"""Running the real kubectl against a test control plane, with an isolated discovery cache."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Kubectl:
    kubeconfig: Path
    cache_dir: Path

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
            ) -> subprocess.CompletedProcess:
        command = ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def __call__(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout

    def first_lines(self, count: int, *args: str) -> list[str]:
        """The first ``count`` lines a streaming command (``logs -f``, ``get -w``) prints; then
        the command is killed."""
        command = ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]
        stream = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            return [stream.stdout.readline() for _ in range(count)]
        finally:
            stream.kill()
            stream.wait(timeout=10)
