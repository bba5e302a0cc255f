"""Cluster DNS: the resolver every host runs for its pods (CoreDNS's ``kubernetes`` plugin and
``forward . /etc/resolv.conf``, in one small server).

Every pod's resolv.conf names the ``kube-dns`` Service; its endpoint is the pod network's gateway
on port 53, which is local on every host, so each host answers its own pods. The pieces, from
the question inward:

* ``server``   — UDP and TCP sockets, threads, a bounded worker pool; ``DnsServer``.
* ``resolver`` — a request to its reply: the zone from the snapshot, the rest upstream.
* ``records``  — the zone's answers as a pure function (the naming rules, NXDOMAIN vs NODATA).
* ``query``    — what a name points at (service, endpoint, SRV port, pod, reverse, outside).
* ``index``    — a snapshot's Services and Endpoints indexed for those look-ups.
* ``wire``     — dnslib messages, EDNS sizes, truncation, TCP framing.
* ``upstream`` — the host's resolvers from /etc/resolv.conf, and asking them.
* ``errors``   — named failures with advice (``DnsBindError``, ``UpstreamUnavailable``).
"""
