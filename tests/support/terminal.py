"""Driving an interactive command on a pseudo-terminal, as a person at a 30×100 terminal would:
``kubectl exec -it``, ``kubectl run -it``."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

ROWS, COLUMNS = 30, 100


@dataclass(frozen=True)
class TerminalSession:
    returncode: int
    output: str  # everything the terminal showed, with its \r\n line ends


def on_a_terminal(argv: list[str], script: list[tuple[str, str]] = (), timeout: float = 60) -> TerminalSession:
    """Run ``argv`` on a new pseudo-terminal; each time the output shows a step's text, type its
    line. Returns once the process has exited and the terminal reports the end."""
    main, side = os.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    process = subprocess.Popen(argv, stdin=side, stdout=side, stderr=side, start_new_session=True)
    os.close(side)
    seen, steps, typed_at = b"", list(script), 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the terminal closed (EIO on Linux): the process is gone
                    break
                if not chunk:
                    break
                seen += chunk
            if steps and steps[0][0].encode() in seen[typed_at:]:
                os.write(main, steps.pop(0)[1].encode())
                typed_at = len(seen)  # the next step's text must come after this line
            if process.poll() is not None and not ready:
                break
        else:
            raise AssertionError(f"{argv} did not finish in {timeout}s; the terminal showed:\n"
                                 f"{seen.decode(errors='replace')}")
        return TerminalSession(process.wait(timeout=30), seen.decode(errors="replace"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(main)
