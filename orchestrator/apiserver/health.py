"""``/healthz``, ``/livez`` and ``/readyz``, answered as kube-apiserver answers them.

Each endpoint is a list of named checks (Kubernetes' ``healthz`` package):

* ``GET /readyz`` → ``ok`` (200) when every check passes; otherwise 500 with the listing below;
* ``GET /readyz?verbose`` → one line per check, ``[+]informer-sync ok`` or
  ``[-]informer-sync failed: reason withheld``, then ``readyz check passed`` (or ``failed``);
* ``?exclude=NAME`` (repeatable) leaves a check out (``[+]NAME excluded: ok``);
* ``GET /readyz/NAME`` → that check alone: ``ok``, or 500 ``internal server error: WHY``; a
  name the endpoint does not have is a 404.

Liveness says the process works (it answers, its store answers); readiness adds what it needs
before it should get traffic (the informers have listed every kind, the controllers run, it is
not shutting down). ``/healthz`` is the older name for liveness and answers the same checks.
The reason a check failed is shown only for a single check, as Kubernetes withholds it from
the listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, NamedTuple, Sequence


class Endpoint(str, Enum):
    HEALTHZ = "healthz"
    LIVEZ = "livez"
    READYZ = "readyz"


@dataclass(frozen=True)
class Check:
    """A named check: ``probe()`` returns None when healthy, else why not."""

    name: str
    probe: Callable[[], str | None]


#: the process answers at all: every endpoint has it
PING = Check("ping", lambda: None)


class HealthAnswer(NamedTuple):
    status: int
    text: str


def answer(endpoint: Endpoint, checks: Sequence[Check], single: str | None, verbose: bool,
           excluded: Sequence[str]) -> HealthAnswer:
    """The answer to ``GET /<endpoint>[/<single>][?verbose][&exclude=…]``."""
    if single is not None:
        check = next((c for c in checks if c.name == single), None)
        if check is None:
            return HealthAnswer(404, "404 page not found\n")
        failure = check.probe()
        return HealthAnswer(200, "ok") if failure is None else HealthAnswer(500, f"internal server error: {failure}\n")
    lines, healthy = [], True
    for check in checks:
        if check.name in excluded:
            lines.append(f"[+]{check.name} excluded: ok")
            continue
        if check.probe() is None:
            lines.append(f"[+]{check.name} ok")
        else:
            healthy = False
            lines.append(f"[-]{check.name} failed: reason withheld")
    if healthy and not verbose:
        return HealthAnswer(200, "ok")
    lines.append(f"{endpoint.value} check {'passed' if healthy else 'failed'}")
    return HealthAnswer(200 if healthy else 500, "\n".join(lines) + "\n")


def route(path: str) -> tuple[Endpoint, str | None] | None:
    """``/readyz/informer-sync`` → (READYZ, "informer-sync"); ``/livez`` → (LIVEZ, None); None for
    any other path."""
    segments = [s for s in path.split("/") if s]
    if not segments or len(segments) > 2:
        return None
    try:
        endpoint = Endpoint(segments[0])
    except ValueError:
        return None
    return endpoint, segments[1] if len(segments) == 2 else None
