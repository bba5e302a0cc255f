"""What a chaos run's records say: the figures of its table, computed by pure functions.

The inputs are the JSON lines the load wrote (:mod:`tests.support.chaos_load`), what the run read
back at the end, and what each step of the schedule measured; nothing here touches a machine, so
every rule is unit-tested on literal records (``tests/unit/test_chaos_figures.py``).

* **Acknowledged writes lost**: a write answered ``201 Created`` whose object is not there at the
  end, or not with the data written. Must be 0.
* **Failed requests, longest gap**: requests to the Service that got no ``200``; the longest time
  between two answered requests (any machine), and when it began.
* **Duplicate pods**: the pod watch replayed in order. A pod is *active* from when it appears
  until it is deleted, marked for deletion, or has ended (Succeeded, Failed). At no revision may
  more be active than ``replicas + maxSurge``; beyond that count, each oddity counts once: a pod
  (uid) that moves to another node, comes back after its deletion, or shares its name with another
  active pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.chaos_schedule import Step

ENDED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class WriteFigures:
    acked: int
    lost: tuple[int, ...]       # sequence numbers acknowledged but not read back as written
    refused: int                # answered with an error: nothing stored, nothing promised
    unknown: int                # no answer at all (connection refused, timed out)
    unknown_stored: int         # … of which the object exists at the end


def write_figures(lines: list[dict], stored: dict[str, dict]) -> WriteFigures:
    """``stored``: every ConfigMap of the writes' namespace at the end, name -> data."""
    acked = [line["seq"] for line in lines if line["outcome"] == "acked"]
    unknown = [line["seq"] for line in lines if line["outcome"] == "unknown"]
    lost = tuple(seq for seq in acked if stored.get(write_name(seq)) != {"seq": str(seq)})
    return WriteFigures(acked=len(acked), lost=lost, refused=sum(line["outcome"] == "refused" for line in lines),
                        unknown=len(unknown), unknown_stored=sum(write_name(seq) in stored for seq in unknown))


def write_name(seq: int) -> str:
    return f"w-{seq:06d}"


@dataclass(frozen=True)
class RequestFigures:
    total: int
    failed: int
    longest_gap: float          # seconds without an answered request
    gap_began: float | None     # when that gap began (time.time())


def request_figures(lines: list[dict], began: float, ended: float) -> RequestFigures:
    """The requests sent between ``began`` and ``ended``; the gap counts from ``began`` and to
    ``ended`` too, so a Service that never answered has a gap as long as the run."""
    inside = [line for line in lines if began <= line["t"] <= ended]
    answered = sorted(line["t"] for line in inside if line["ok"])
    edges = [began, *answered, ended]
    gap, at = 0.0, None
    for earlier, later in zip(edges, edges[1:]):
        if later - earlier > gap:
            gap, at = later - earlier, earlier
    return RequestFigures(total=len(inside), failed=sum(not line["ok"] for line in inside), longest_gap=gap,
                          gap_began=at)


@dataclass
class PodFigures:
    limit: int                          # replicas + maxSurge
    max_active: int = 0
    max_active_at: float | None = None
    oddities: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return max(0, self.max_active - self.limit) + len(self.oddities)


def pod_figures(lines: list[dict], limit: int) -> PodFigures:
    """Replay the pod watch (see the module docstring). ``LIST`` lines in a row are one list,
    which replaces what was held."""
    figures = PodFigures(limit)
    held: dict[str, dict] = {}          # uid -> its latest line, while it exists
    deleted: set[str] = set()
    previous_type = None
    for line in lines:
        kind = line["type"]
        if kind not in ("LIST", "ADDED", "MODIFIED", "DELETED"):
            previous_type = kind
            continue
        if kind == "LIST" and previous_type != "LIST":
            held = {}
        previous_type = kind
        uid = line["uid"]
        if uid in deleted and kind != "DELETED":
            figures.oddities.append(f"pod {line['name']} ({uid}) is back after its deletion")
        before = held.get(uid)
        if before is not None and before["node"] and line["node"] and before["node"] != line["node"]:
            figures.oddities.append(f"pod {line['name']} ({uid}) moved from {before['node']} to {line['node']}")
        if kind == "DELETED":
            held.pop(uid, None)
            deleted.add(uid)
        else:
            held[uid] = line
        active = [pod for pod in held.values() if _active(pod)]
        names = [pod["name"] for pod in active]
        for name in {name for name in names if names.count(name) > 1}:
            figures.oddities.append(f"two active pods named {name}")
        if len(active) > figures.max_active:
            figures.max_active, figures.max_active_at = len(active), line["t"]
    return figures


def _active(line: dict) -> bool:
    return not line["deleting"] and line["phase"] not in ENDED_PHASES


# -- the table ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepOutcome:
    """One step as it was played: when (time.time()) and what it measured."""

    step: Step
    target: str | None          # the worker it hit
    began: float
    ended: float
    measured: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f" on {self.target}" if self.target else ""
        down = f", down {self.step.downtime:.1f} s" if self.step.downtime else ""
        return f"{self.step.fault.value}{where}{down}"


#: what a step may measure, as the table names it
RESCHEDULE = "reschedule_seconds"           # machine cut off -> its pods Ready elsewhere
CONTAINER_RESTARTS = "container_restarts"   # across an agent restart
CONTAINERS_COMPARED = "containers_compared"
STALE_SECONDS = "stale_seconds"             # machine back -> its evicted pods' containers gone
LISTS_AFTER_RESTART = "lists_after_restart"  # LIST requests to a restarted control plane
RECOVERY = "recovery_seconds"               # the fault's start -> the Deployment fully available again
ENGINE_BACK = "pods_back_seconds"           # an engine restarted -> its pods' containers running again
EVICTED = "pods_evicted"                    # pods of a machine whose engine restarted, evicted meanwhile


@dataclass(frozen=True)
class Run:
    seed: int
    rounds: int
    workers: int
    command: str
    began: float
    ended: float
    steps: list[StepOutcome]
    writes: WriteFigures
    requests: RequestFigures
    pods: PodFigures
    leftovers: dict[str, list[str]]

    @property
    def leftover_count(self) -> int:
        return sum(len(found) for found in self.leftovers.values())

    def measured(self, name: str) -> list[float]:
        return [outcome.measured[name] for outcome in self.steps if name in outcome.measured]


def table(run: Run, request_lines: list[dict]) -> str:
    """The run's figures, one table, then the schedule as played."""
    reschedule = run.measured(RESCHEDULE)
    restarts = run.measured(CONTAINER_RESTARTS)
    lists = run.measured(LISTS_AFTER_RESTART)
    stale = run.measured(STALE_SECONDS)
    rows = [
        ("acknowledged writes lost", f"{len(run.writes.lost)} of {run.writes.acked}", "0"),
        ("writes without an answer (stored anyway)", f"{run.writes.unknown} ({run.writes.unknown_stored})", ""),
        ("writes refused", str(run.writes.refused), ""),
        ("failed Service requests", f"{run.requests.failed} of {run.requests.total}", ""),
        ("longest gap without an answered request", f"{run.requests.longest_gap:.1f} s{_during(run)}", ""),
        ("container restarts caused by agent restarts",
         f"{int(sum(restarts))} ({len(restarts)} agent restarts, "
         f"{int(sum(run.measured(CONTAINERS_COMPARED)))} containers compared)", "0"),
        ("time to reschedule after machine loss", _seconds(reschedule), ""),
        ("evicted pods' containers gone after reconnection", _seconds(stale), ""),
        ("pods running again after an engine restart", _seconds(run.measured(ENGINE_BACK))
         + f" ({int(sum(run.measured(EVICTED)))} evicted instead)", ""),
        ("LISTs to a restarted control plane (first 3 s)", f"{int(sum(lists))} ({len(lists)} restarts)", ""),
        ("duplicate pods ever seen", f"{run.pods.duplicates} (at most {run.pods.max_active} active, "
                                     f"limit {run.pods.limit})", "0"),
        ("leftovers after teardown", f"{run.leftover_count}"
         + (f" {dict((k, v) for k, v in run.leftovers.items() if v)}" if run.leftover_count else ""), "0"),
    ]
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    lines = [f"chaos under load: seed {run.seed}, {run.workers} workers, {run.rounds} round(s) of "
             f"{len(run.steps) // max(run.rounds, 1)} faults, {run.ended - run.began:.0f} s under load",
             f"command: {run.command}", "",
             f"{'figure':<{width}}  {'value':<{value_width}}  must be",
             f"{'-' * width}  {'-' * value_width}  -------"]
    lines += [f"{name:<{width}}  {value:<{value_width}}  {bound}" for name, value, bound in rows]
    lines += ["", "steps (failed requests while each played):"]
    for index, outcome in enumerate(run.steps, 1):
        failed = sum(1 for line in request_lines if outcome.began <= line["t"] <= outcome.ended and not line["ok"])
        measured = ", ".join(f"{name} {value:g}" for name, value in outcome.measured.items())
        lines.append(f"  {index:2d}. {outcome}: {outcome.ended - outcome.began:.1f} s, {failed} failed"
                     + (f"; {measured}" if measured else ""))
    return "\n".join(lines)


def _during(run: Run) -> str:
    """Which step the longest gap began in, if one."""
    at = run.requests.gap_began
    for index, outcome in enumerate(run.steps, 1):
        if at is not None and outcome.began <= at <= outcome.ended:
            return f" (step {index})"
    return ""


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return " / ".join(f"{value:.1f} s" for value in values)
