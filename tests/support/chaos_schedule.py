"""The faults a chaos run plays, and their order: a pure function of a seed.

A run is ``rounds`` rounds; each round plays every :class:`Fault` once, in an order and with a
downtime that the seed decides. A fault aimed at one worker takes the first worker, in an order
the seed also decides, that runs a pod of the app when the step begins: Kubernetes does not move
pods back onto a machine that lost them, so after a partition or a drain a worker may run none,
and a fault there would test nothing. The same seed gives the same schedule, which the run prints
before it starts and with its figures, so a run that found something can be played again (``make
chaos CHAOS_SEED=…``). The timings a run measures depend on the machine's load and are not
reproducible to the millisecond; what is reproducible is what was done in which order, and to
whom as far as the pods' placement is the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum


class Fault(str, Enum):
    KILL_CONTROL_PLANE = "kill -9 the control plane, start it again"
    KILL_AGENT = "kill -9 an agent, start it again"
    RESTART_ENGINE = "restart a machine's Docker engine"
    PARTITION = "cut a machine off the LAN until its pods are elsewhere, then reconnect it"
    DRAIN = "drain a node, then uncordon it"
    ROLLOUT = "roll the Deployment (rollout restart)"


#: faults aimed at one worker machine
TARGETED = frozenset({Fault.KILL_AGENT, Fault.RESTART_ENGINE, Fault.PARTITION, Fault.DRAIN})
#: faults that leave a process down for a while before it is started again
WITH_DOWNTIME = frozenset({Fault.KILL_CONTROL_PLANE, Fault.KILL_AGENT})
#: how long a killed process stays down, in seconds
DOWNTIME_RANGE = (1.0, 3.0)


@dataclass(frozen=True)
class Step:
    fault: Fault
    workers: tuple[str, ...] = ()   # for TARGETED faults: the workers to aim at, in order of preference
    downtime: float = 0.0           # seconds down, for faults WITH_DOWNTIME

    def target(self, running_the_app: set[str]) -> str | None:
        """The worker this step hits, given those that run a pod of the app now."""
        if not self.workers:
            return None
        return next((worker for worker in self.workers if worker in running_the_app), self.workers[0])

    def __str__(self) -> str:
        where = f" on the first of {', '.join(self.workers)} running the app" if self.workers else ""
        down = f", down {self.downtime:.1f} s" if self.downtime else ""
        return f"{self.fault.value}{where}{down}"


def plan(seed: int, rounds: int, workers: list[str]) -> list[Step]:
    """Every fault once per round, in the order and against the targets ``seed`` picks."""
    chooser = random.Random(seed)
    steps = []
    for _ in range(rounds):
        faults = list(Fault)
        chooser.shuffle(faults)
        for fault in faults:
            preference = tuple(chooser.sample(workers, len(workers))) if fault in TARGETED else ()
            downtime = round(chooser.uniform(*DOWNTIME_RANGE), 1) if fault in WITH_DOWNTIME else 0.0
            steps.append(Step(fault, preference, downtime))
    return steps


def describe(seed: int, steps: list[Step]) -> str:
    return "\n".join([f"chaos schedule, seed {seed}:", *(f"  {i:2d}. {step}" for i, step in enumerate(steps, 1))])
