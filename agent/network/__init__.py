"""Cluster networking on a node's host: the pod network, the service proxy and cluster DNS.

One Docker bridge network per cluster and host holds every pod's IP; each node picks its pods'
addresses from its own pod CIDR. The service proxy (kube-proxy's iptables mode) and the DNS
server run once per host and cluster, in whichever agent of that host holds the host lock.
"""
