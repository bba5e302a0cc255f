"""Running a lab's README as a person would: its commands in one shell, its promised output checked.

A lab is a directory under ``examples/`` whose ``README.md`` is the lab sheet. The test takes the
commands *from the README itself*, so a README that drifts from the product fails the suite:

* every fenced block marked ``bash`` is a step, run by **one** bash process started in the lab's
  directory (each step ``source``d from a file, stdin closed, so no command can swallow the next
  step), with ``set -eo pipefail``: a failing command fails the lab, as it would stop a reader (a
  command meant to fail says so, ``curl … || echo refused``); exports, variables and ``cd`` carry
  from step to step as in one terminal;
* a block marked ``text`` right after a step is the output the reader is promised: its lines must
  appear in the step's output (stdout and stderr together), in order, each on a line of its own,
  where ``…`` stands for any text and any run of spaces for any run of blanks (column widths,
  pod-name hashes and ages differ from run to run);
* other blocks (``yaml`` manifests shown for reading) are not run.

The reader's machine is simulated, never reached into: ``HOME`` is a fresh directory, so
``~/.dockyard`` (the default state dir) and ``~/.kube`` are the lab's own; ``dockyard`` on the
``PATH`` is this checkout's, through a wrapper that gives ``dockyard up`` a free ``--api-port`` (a
person's 6443 may be taken by their own cluster); Compose projects get a run-unique name
(``COMPOSE_PROJECT_NAME``). Whatever the lab leaves behind — its cluster, its Compose project —
is removed afterwards even when it failed half way.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.cluster.statedir import StateDir
from tests.support.cluster import LocalCluster
from tests.support.controlplane import free_port

LAB_TIMEOUT = 1200.0   # seconds for a whole lab (test_lab gives pytest-timeout more)
STEP_TIMEOUT = 300.0   # seconds for one step
_FENCE = re.compile(r"^```(\w*)\s*$")
_DONE = "__dockyard_lab_step_done__"
_MARKER = re.compile(rf"\n{_DONE} (\d+)\n")


@dataclass(frozen=True)
class Step:
    commands: str
    expected: tuple[str, ...] = ()
    line: int = 0  # where the block starts in the README, for messages


def parse_readme(text: str) -> list[Step]:
    """The steps of a lab sheet: each ``bash`` block, with the ``text`` block right after it."""
    blocks: list[tuple[str, list[str], int]] = []
    language, body, start = None, [], 0
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and language is None:
            language, body, start = fence.group(1), [], number
        elif line.strip() == "```" and language is not None:
            blocks.append((language, body, start))
            language = None
        elif language is not None:
            body.append(line)
    steps: list[Step] = []
    for index, (language, body, start) in enumerate(blocks):
        if language != "bash":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = tuple(line for line in following[1] if line.strip()) \
            if following is not None and following[0] == "text" else ()
        steps.append(Step("\n".join(body), expected, start))
    return steps


def expected_line_pattern(line: str) -> re.Pattern:
    """``…`` is any text, blanks are any blanks, the rest is literal; the whole line must match."""
    parts = [r"\s+".join(re.escape(word) for word in chunk.split()) for chunk in line.strip().split("…")]
    return re.compile(r"^\s*" + ".*?".join(parts) + r"\s*$")


def unmatched_expectations(expected: tuple[str, ...], output: str) -> list[str]:
    """The promised lines not found in ``output`` in order (empty: the promise holds)."""
    lines = output.splitlines()
    position, missing = 0, []
    for line in expected:
        pattern = expected_line_pattern(line)
        found = next((i for i in range(position, len(lines)) if pattern.match(lines[i])), None)
        if found is None:
            missing.append(line)
        else:
            position = found + 1
    return missing


# -- running -------------------------------------------------------------------------------------


@dataclass
class LabRun:
    """One lab, run in a simulated home; :meth:`cleanup` removes whatever it made."""

    lab: Path
    home: Path
    python: str = sys.executable
    api_port: int = field(default_factory=free_port)
    project: str = field(default_factory=lambda: f"lab{uuid.uuid4().hex[:10]}")
    transcript: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        shims = self.home / "bin"
        shims.mkdir(parents=True, exist_ok=True)
        dockyard = shims / "dockyard"
        dockyard.write_text(
            "#!/bin/sh\n# this checkout's dockyard; `up` gets a free API port (the test's, not 6443)\n"
            f'if [ "$1" = up ]; then exec {shlex.quote(self.python)} -m orchestrator.cli.main "$@" '
            f"--api-port {self.api_port}; fi\n"
            f'exec {shlex.quote(self.python)} -m orchestrator.cli.main "$@"\n')
        dockyard.chmod(0o755)
        repo = Path(__file__).resolve().parents[2]
        return {**os.environ, "HOME": str(self.home), "PATH": f"{shims}:{Path(self.python).parent}:{os.environ['PATH']}",
                "PYTHONPATH": str(repo), "COMPOSE_PROJECT_NAME": self.project, "KUBECONFIG": "",
                "TERM": "dumb", "COLUMNS": "200"}

    def run(self, steps: list[Step]) -> None:
        """Every step in one shell; AssertionError naming the first step that failed or broke
        its promise, with the transcript so far."""
        shell = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=self.lab, env=self.environment(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, bufsize=1, start_new_session=True)
        deadline = time.monotonic() + LAB_TIMEOUT
        try:
            shell.stdin.write("set -eo pipefail\nunset KUBECONFIG\n")
            for step in steps:
                output, status = self._step(shell, step, min(deadline, time.monotonic() + STEP_TIMEOUT))
                self.transcript.append(f"$ {step.commands}\n{output}")
                where = f"{self.lab.name}/README.md, the step at line {step.line}"
                if status != 0:
                    raise AssertionError(f"{where} failed (exit {status}):\n{self.transcript_text()}")
                missing = unmatched_expectations(step.expected, output)
                if missing:
                    raise AssertionError(f"{where} did not print what the README promises; missing, in order:\n"
                                         + "\n".join(missing) + f"\n--- transcript:\n{self.transcript_text()}")
        finally:
            if shell.poll() is None:
                shell.stdin.close()
                try:
                    shell.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(shell.pid, 9)
                    shell.wait()

    def _step(self, shell: subprocess.Popen, step: Step, deadline: float) -> tuple[str, int | None]:
        script = self.home / "steps" / f"line-{step.line}.sh"
        script.parent.mkdir(exist_ok=True)
        script.write_text(step.commands + "\n")
        # the marker on a line of its own, whether or not the step's output ended with a newline
        shell.stdin.write(f"source {shlex.quote(str(script))} </dev/null\nprintf '\\n{_DONE} %d\\n' $?\n")
        shell.stdin.flush()
        # raw reads of the pipe into a buffer of our own: a buffered reader could hold the marker
        # while select() waits on an empty pipe
        received = b""
        descriptor = shell.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(descriptor, selectors.EVENT_READ)
        while True:
            text = received.decode(errors="replace")
            done = _MARKER.search(text)
            if done:
                return text[:done.start()], int(done.group(1))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.killpg(shell.pid, 9)
                return text + f"\n(timed out after {STEP_TIMEOUT:g} s)", None
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:  # `set -e` ended the shell: a command failed
                return text, shell.wait()
            received += chunk

    def transcript_text(self) -> str:
        return "\n".join(self.transcript)[-6000:]

    def cleanup(self) -> None:
        """The lab's cluster (torn down as a test cluster is: ``dockyard down --purge``, then by its
        uid) and Compose project."""
        state = StateDir(self.home / ".dockyard")
        if state.cluster_json.exists():
            LocalCluster(state.root, name=json.loads(state.cluster_json.read_text())["name"]).teardown()
        compose = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"],
                                 capture_output=True, text=True)
        if compose.stdout.split():
            subprocess.run(["docker", "rm", "-f", *compose.stdout.split()], capture_output=True)
        for kind in ("network", "volume"):
            listed = subprocess.run(["docker", kind, "ls", "-q", "--filter",
                                     f"label=com.docker.compose.project={self.project}"], capture_output=True, text=True)
            if listed.stdout.split():
                subprocess.run(["docker", kind, "rm", *listed.stdout.split()], capture_output=True)
