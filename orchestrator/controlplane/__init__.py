"""The control-plane process: where the API server, the store and the controllers meet.

* :mod:`.process` — :class:`~.process.ControlPlane` wires the store, the object API, the HTTPS
  server, the shared informers, the controllers and the scheduler together (``dockyard server``);
* :mod:`.localclient` — the client seam served in-process, so controllers reach the object API
  without HTTP and without importing the API server themselves.

Nothing else in the control plane imports both halves (import-linter checks it).
"""
