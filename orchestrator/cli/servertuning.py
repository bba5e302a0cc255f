"""The control plane's lab knobs: how fast a lost node turns NotReady and loses its pods, how long Events last.

Declared once because two commands take them: ``dockyard server`` turns them into its
:class:`~orchestrator.controlplane.process.ServerConfig`, and ``dockyard up`` passes the ones a user set
through to the server it starts (:func:`server_tuning_argv`). The flag names are Kubernetes' own
(kube-controller-manager's ``--node-monitor-grace-period``, kube-apiserver's
``--default-not-ready-toleration-seconds``, ``--event-ttl``); unset ones keep Kubernetes' defaults,
40 s, 300 s and 1 h.
"""

from __future__ import annotations

import argparse

from orchestrator.cli.durations import duration_argument
from orchestrator.cli.knobs import Knob, add_knobs, knobs_argv

SERVER_TUNING = (
    Knob("--node-monitor-grace-period", float,
         "seconds without a heartbeat before a node turns Unknown and is tainted (default 40)"),
    Knob("--default-not-ready-toleration-seconds", int,
         "seconds pods stay on a not-ready or unreachable node before they are evicted (default 300)"),
    Knob("--event-ttl", duration_argument,
         "how long an Event is kept after it last happened, e.g. 1h or 90s (default 1h)"),
)


def add_server_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    add_knobs(parser, "control-plane tuning (lab knobs; unset ones keep Kubernetes' defaults)", SERVER_TUNING)


def server_tuning_argv(args: argparse.Namespace) -> list[str]:
    """The knobs that were set in ``args``, as ``dockyard server`` takes them."""
    return knobs_argv(args, SERVER_TUNING)


def server_tuning_config(args: argparse.Namespace) -> dict:
    """The :class:`ServerConfig` fields for the knobs that were set (field names = flag names)."""
    return {knob.dest: getattr(args, knob.dest) for knob in SERVER_TUNING if getattr(args, knob.dest, None) is not None}
