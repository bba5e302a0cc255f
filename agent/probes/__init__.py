"""Container probes, the kubelet's prober: liveness, readiness and startup.

The package keeps Docker out: commands run through an injected ``exec_in`` callable (the runtime
adapter's), and network checks go straight from the agent's host to the pod IP.

* :mod:`agent.handlers` — one check, once: ``httpGet``, ``tcpSocket``, ``exec`` (``grpc``
  is reported as unsupported), with the kubelet's success rules and message wordings. The
  lifecycle hooks of :mod:`agent.hooks` reuse its HTTP and exec pieces.
* :mod:`agent.probes.results` — pure bookkeeping: thresholds, initial delay and period, startup
  gating, the event texts. Tested with plain numbers for time.
* :mod:`agent.probes.worker` — one thread per (pod, container, probe kind) that runs checks on
  schedule and publishes results.
* :mod:`agent.probes.manager` — :class:`~agent.probes.manager.ProbeManager`, the pod worker's
  :class:`~agent.prober.Prober`: keeps one set of workers per running container instance, and
  runs the postStart / preStop hooks.
"""
