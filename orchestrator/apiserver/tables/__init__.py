"""Server-side Table rendering: what ``kubectl get`` prints, computed by the API server.

Why the server renders: since Kubernetes 1.11, ``kubectl get`` does not know how to print a Pod.
It asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints whatever
``columnDefinitions`` and ``rows`` come back. Column logic (a pod's STATUS, RESTARTS' "ago",
AGE rounding) therefore lives with the server, and our own CLI prints the very same Table, so
both clients show identical output. Every column here reproduces kubectl 1.32's printers
(``pkg/printers/internalversion/printers.go``) so the real kubectl looks at home.

Why every column is sent: a column's ``priority`` decides who sees it. Priority 0 columns are
the default view; priority 1 columns are the ``-o wide`` extras, hidden by the client unless it
asks for wide output. The server cannot know, so it always sends all of them.

Layout: ``humanize`` (AGE and "ago" durations), ``fields`` (reading API JSON with Go's
zero-value semantics), ``columns`` (column definitions and the printer contract), one module
per family of kinds (``pods``, ``workloads``, ``network``, ``cluster``, ``events``,
``config``), ``render`` (the Table envelope and the kind registry) and ``printer`` (kubectl's
client-side text layout). All functions are pure: objects in, dicts or text out, with ``now``
passed in rather than read from the clock.
"""

from .humanize import human_duration
from .printer import print_table
from .render import PRINTERS, render_table

__all__ = ["PRINTERS", "human_duration", "print_table", "render_table"]
