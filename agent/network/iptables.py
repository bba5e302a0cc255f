"""The one adapter around the kernel's packet filter: ``iptables``, ``iptables-save``, ``iptables-restore``.

Everything the service proxy does to iptables goes through :class:`Iptables`, and every failure
comes out as an :class:`IptablesError` whose ``reason`` names what went wrong and whose message
says what to do about it. The binaries are the ones on ``PATH`` — on these machines the nf_tables
variant, the same one Docker uses, so both see (and may change) the same rules at any moment.
That is why every changing call passes ``-w``: with the legacy variant it waits for the xtables
lock instead of failing while Docker holds it (the nf_tables variant accepts and ignores it).

Only three operations are needed, the ones kube-proxy uses:

* :meth:`Iptables.save` reads one table (to find chains of the cluster that are no longer wanted,
  or everything of the cluster on cleanup);
* :meth:`Iptables.restore` writes many chains of one table at once with ``--noflush``: atomic for
  that table, and nothing it does not name is touched;
* :meth:`Iptables.rule_exists` / :meth:`Iptables.insert_rule` keep the few jumps from the
  built-in chains (which a restore must never declare: that would flush Docker's rules in them).
"""

from __future__ import annotations

import subprocess
from enum import Enum

from agent.network.ruleset import Table

#: seconds a call waits for another program (Docker) to release the xtables lock
LOCK_WAIT_SECONDS = 10
#: a call that takes longer than this is stuck, not slow
CALL_TIMEOUT_SECONDS = 60
#: ``iptables -C`` answers "no such rule" with this exit status (2 and more are real errors)
_RULE_MISSING_STATUS = 1
_LOCK_HELD_STATUS = 4


class IptablesFailure(str, Enum):
    NOT_INSTALLED = "NotInstalled"
    NOT_PERMITTED = "NotPermitted"
    LOCKED = "Locked"
    REJECTED = "Rejected"


class IptablesError(Exception):
    """A call to iptables failed; ``str()`` says what to do, ``reason`` says what kind of failure."""

    def __init__(self, reason: IptablesFailure, message: str):
        super().__init__(message)
        self.reason = reason


class Iptables:
    """The host's iptables. Stateless: one instance may be shared by threads."""

    def __init__(self, iptables: str = "iptables", save: str = "iptables-save",
                 restore: str = "iptables-restore"):
        self._iptables, self._save, self._restore = iptables, save, restore

    def save(self, table: Table) -> str:
        """The table as ``iptables-save`` prints it (the format :meth:`restore` reads)."""
        return self._run([self._save, "-t", table.value]).stdout

    def restore(self, text: str) -> None:
        """Apply restore-format ``text`` (one or more ``*table … COMMIT`` blocks), keeping every
        chain and rule it does not mention."""
        self._run([self._restore, "-w", str(LOCK_WAIT_SECONDS), "--noflush"], stdin=text)

    def rule_exists(self, table: Table, chain: str, args: tuple[str, ...]) -> bool:
        result = self._run([self._iptables, "-w", str(LOCK_WAIT_SECONDS), "-t", table.value, "-C", chain, *args],
                           allowed=(_RULE_MISSING_STATUS,))
        return result.returncode == 0

    def insert_rule(self, table: Table, chain: str, args: tuple[str, ...]) -> None:
        """Put the rule first in ``chain``."""
        self._run([self._iptables, "-w", str(LOCK_WAIT_SECONDS), "-t", table.value, "-I", chain, "1", *args])

    def _run(self, argv: list[str], stdin: str | None = None,
             allowed: tuple[int, ...] = ()) -> subprocess.CompletedProcess:
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=CALL_TIMEOUT_SECONDS)
        except FileNotFoundError:
            raise IptablesError(IptablesFailure.NOT_INSTALLED,
                                f"{argv[0]} was not found on PATH: the service proxy needs iptables (the nf_tables "
                                f"variant Docker uses; Debian/Ubuntu: apt-get install iptables)") from None
        except subprocess.TimeoutExpired:
            raise IptablesError(IptablesFailure.LOCKED,
                                f"{argv[0]} did not finish within {CALL_TIMEOUT_SECONDS}s; another program may be "
                                f"holding the xtables lock (see `ps aux | grep iptables`)") from None
        if result.returncode != 0 and result.returncode not in allowed:
            raise IptablesError(*explain_failure(argv, result.returncode, result.stderr, stdin))
        return result


def explain_failure(argv: list[str], status: int, stderr: str, stdin: str | None = None) -> tuple[IptablesFailure, str]:
    """Name a failed call's reason and say what to do, from its exit status and error output."""
    program = argv[0]
    complaint = " ".join(line for line in stderr.strip().splitlines()
                         if not line.startswith("# Warning:") and not line.startswith("Try `")).strip()
    if "Permission denied" in stderr or "Operation not permitted" in stderr:
        return IptablesFailure.NOT_PERMITTED, (
            f"{program} was refused ({complaint}): the service proxy changes the host's iptables, so the agent "
            f"must run as root or with the CAP_NET_ADMIN capability (sudo dockyard agent …)")
    if status == _LOCK_HELD_STATUS and "lock" in stderr:
        return IptablesFailure.LOCKED, (
            f"{program} waited {LOCK_WAIT_SECONDS}s for the xtables lock and gave up ({complaint}); another "
            f"program is changing iptables for a long time: it is retried on the next sync")
    return IptablesFailure.REJECTED, f"{' '.join(argv)} failed: {complaint}{_offending_line(stderr, stdin)}"


def _offending_line(stderr: str, stdin: str | None) -> str:
    """iptables-restore reports ``Error occurred at line: N``; quote that line of our input."""
    marker = "Error occurred at line: "
    if stdin is None or marker not in stderr:
        return ""
    number = stderr.split(marker, 1)[1].split()[0]
    lines = stdin.splitlines()
    if not number.isdigit() or not 1 <= int(number) <= len(lines):
        return ""
    return f" (input line {number}: {lines[int(number) - 1]})"
