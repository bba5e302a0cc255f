"""Prometheus metrics for the API server, in the text exposition format (no client library).

Named after the kube-apiserver's own series so dashboards people know keep meaning the same:
``apiserver_request_total{verb,resource,code}`` (``verb`` as kube-apiserver reports it:
:func:`reported_verb`), ``apiserver_request_duration_seconds`` (a
histogram), ``apiserver_registered_watchers``, plus ``dockyard_store_revision``; the process
adds its controllers' series (client-go's ``workqueue_*``).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

from orchestrator.apiserver.requestinfo import RequestInfo, Verb

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


#: the label kube-apiserver gives a resource request's verb where it is not the HTTP method's
_REPORTED = {Verb.LIST: "LIST", Verb.WATCH: "WATCH", Verb.DELETE_COLLECTION: "DELETECOLLECTION"}


def reported_verb(method: str, info: RequestInfo | None) -> str:
    """The ``verb`` label of a request, as kube-apiserver's metrics give it: the HTTP method,
    except that a GET of a collection is ``LIST``, a GET with ``?watch=true`` ``WATCH``, a DELETE
    of a collection ``DELETECOLLECTION`` and an ``exec``/``attach`` ``CONNECT``. So
    ``apiserver_request_total{verb="LIST"}`` counts relists, the figure a client that resumes its
    watches after a restart keeps low."""
    if info is None:
        return method.upper()
    if info.stream is not None:
        return "CONNECT"
    return _REPORTED.get(info.verb, method.upper())


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        with self._lock:
            self._requests[(verb, resource, code)] += 1
            buckets = self._buckets[(verb, resource)]
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            buckets[-1] += 1
            self._sums[(verb, resource)] += seconds

    def render(self, *, watchers: int, revision: int, more: list[str] | None = None) -> str:
        lines = [
            "# HELP apiserver_request_total Requests by verb, resource and HTTP code.",
            "# TYPE apiserver_request_total counter",
        ]
        with self._lock:
            for (verb, resource, code), count in sorted(self._requests.items()):
                lines.append(f'apiserver_request_total{{verb="{verb}",resource="{resource}",code="{code}"}} {count}')
            lines += ["# HELP apiserver_request_duration_seconds Request latency.",
                      "# TYPE apiserver_request_duration_seconds histogram"]
            for (verb, resource), buckets in sorted(self._buckets.items()):
                labels = f'verb="{verb}",resource="{resource}"'
                for bound, count in zip(BUCKETS, buckets):
                    lines.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}')
                lines.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="+Inf"}} {buckets[-1]}')
                lines.append(f"apiserver_request_duration_seconds_sum{{{labels}}} {self._sums[(verb, resource)]:.6f}")
                lines.append(f"apiserver_request_duration_seconds_count{{{labels}}} {buckets[-1]}")
        lines += [
            "# HELP apiserver_registered_watchers Open watch streams.",
            "# TYPE apiserver_registered_watchers gauge",
            f"apiserver_registered_watchers {watchers}",
            "# HELP dockyard_store_revision The store's latest revision (resourceVersion).",
            "# TYPE dockyard_store_revision gauge",
            f"dockyard_store_revision {revision}",
            *(more or []),
        ]
        return "\n".join(lines) + "\n"
