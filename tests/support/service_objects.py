"""Services and Endpoints in wire form, as the API server would serve them, for the proxy's tests."""

from __future__ import annotations


def service(name: str, *ports: dict, namespace: str = "default", type: str = "ClusterIP",
            cluster_ip: str = "10.96.0.20", status: dict | None = None, **spec) -> dict:
    """A Service; ``spec`` takes further fields by their wire names (``externalTrafficPolicy=…``)."""
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"type": type, "clusterIP": cluster_ip, "ports": list(ports) or [{"port": 80, "protocol": "TCP"}],
                     **spec},
            "status": status or {"loadBalancer": {}}}


def endpoints(name: str, *addresses: tuple[str, str | None], ports=({"port": 8080, "protocol": "TCP"},),
              namespace: str = "default", not_ready=()) -> dict:
    """Endpoints with one subset: ready ``(ip, nodeName)`` addresses, ``not_ready`` ones, ``ports``."""
    subset = {"addresses": [_address(ip, node) for ip, node in addresses], "ports": list(ports)}
    if not_ready:
        subset["notReadyAddresses"] = [_address(ip, node) for ip, node in not_ready]
    return {"metadata": {"namespace": namespace, "name": name}, "subsets": [subset]}


def _address(ip: str, node: str | None) -> dict:
    return {"ip": ip, **({"nodeName": node} if node else {})}
