"""How controllers and the scheduler see the cluster: a client seam and a shared, indexed cache.

* :mod:`.protocol` — :class:`~.protocol.Client`, the verbs of the Kubernetes API for one caller;
  the only way a controller writes;
* :mod:`.cache` — an indexed in-memory copy of one kind (namespace, label, owner, node);
* :mod:`.informer` — one list-and-watch per kind keeping a cache current and telling handlers
  what changed; the only way a controller reads;
* :mod:`.consistency` — a controller reads its own writes, though the cache lags behind them.

None of this knows the API server: :mod:`orchestrator.controlplane` plugs an in-process client
in, and an HTTP one could take its place.
"""
