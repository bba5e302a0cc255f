"""The agent's one adapter to the API server: HTTPS, the node's bearer token, Kubernetes paths.

Only what a kubelet and a kube-proxy do: register and heartbeat its Node, list and watch the pods
bound to it, write their status, finish their deletion, read the ConfigMaps and Secrets they use,
record Events, and list and watch the Services, Endpoints and Nodes the host's networking needs. HTTP failures become :class:`ApiUnavailable` (the server is down or unreachable: retry
later) or :class:`ApiRejected` (the server said no: carries the Status reason and code), so the
loops above decide with named errors, never by parsing text.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Iterator, Mapping

import httpx

log = logging.getLogger("dockyard.agent.api")


class ApiUnavailable(Exception):
    """The API server could not be reached or timed out."""


class ApiRejected(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message = code, reason, message


class ApiClient:
    def __init__(self, server: str, token: str, ca_pem: str, node_name: str, timeout: float = 15.0) -> None:
        self.node_name = node_name
        context = ssl.create_default_context(cadata=ca_pem)
        self._http = httpx.Client(base_url=server.rstrip("/"), verify=context, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})
        self._watch_http = httpx.Client(base_url=server.rstrip("/"), verify=context,
                                        timeout=httpx.Timeout(timeout, read=None),
                                        headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()
        self._watch_http.close()

    def request(self, method: str, path: str, *, body: Mapping[str, object] | None = None, params: dict | None = None,
                content_type: str = "application/json") -> dict:
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body)
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise ApiUnavailable(f"{method} {path}: {error}") from None
        return _decode(response)

    # -- nodes -------------------------------------------------------------------------------

    def get_node(self) -> dict | None:
        try:
            return self.request("GET", f"/api/v1/nodes/{self.node_name}")
        except ApiRejected as error:
            if error.code == 404:
                return None
            raise

    def create_node(self, node: dict) -> dict:
        return self.request("POST", "/api/v1/nodes", body=node)

    def patch_node(self, patch: dict) -> dict:
        return self.request("PATCH", f"/api/v1/nodes/{self.node_name}", body=patch,
                            content_type="application/merge-patch+json")

    def patch_node_status(self, status: dict) -> dict:
        return self.request("PATCH", f"/api/v1/nodes/{self.node_name}/status", body={"status": status},
                            content_type="application/merge-patch+json")

    # -- the node's Lease ----------------------------------------------------------------------

    def renew_lease(self, lease: dict) -> dict:
        """Create the node's Lease, or write its new spec over the one stored (a conflict with a
        concurrent write is an :class:`ApiRejected` 409: the next renewal wins)."""
        meta = lease["metadata"]
        path = f"/apis/coordination.k8s.io/v1/namespaces/{meta['namespace']}/leases"
        try:
            current = self.request("GET", f"{path}/{meta['name']}")
        except ApiRejected as error:
            if error.code != 404:
                raise
            return self.request("POST", path, body=lease)
        return self.request("PUT", f"{path}/{meta['name']}", body={**current, "spec": lease["spec"]})

    # -- pods --------------------------------------------------------------------------------

    def bound_pods(self) -> tuple[str, dict]:
        """The collection of the pods bound to this node, to list and watch: path and selector."""
        return "/api/v1/pods", {"fieldSelector": f"spec.nodeName={self.node_name}"}

    # -- any collection ----------------------------------------------------------------------

    def list(self, path: str, params: dict | None = None) -> tuple[list[dict], str]:
        """The items of a collection and the revision to watch from."""
        listed = self.request("GET", path, params=params)
        return listed.get("items") or [], listed.get("metadata", {}).get("resourceVersion", "0")

    def watch(self, path: str, resource_version: str, params: dict | None = None,
              timeout_seconds: int = 300) -> Iterator[tuple[str, dict]]:
        """(type, object) for every change after ``resource_version``, and a BOOKMARK (an object
        with only the revision to resume from) when the server ends the stream cleanly. Raises
        :class:`ApiRejected` with code 410 when the version is too old, :class:`ApiUnavailable`
        when the stream breaks."""
        params = {**(params or {}), "watch": "true", "resourceVersion": resource_version,
                  "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        try:
            with self._watch_http.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    _decode(response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiRejected(int(status.get("code") or 500), status.get("reason", ""),
                                          status.get("message", ""))
                    yield event["type"], event["object"]
        except httpx.HTTPError as error:
            raise ApiUnavailable(f"watch {path}: {error}") from None

    # -- one pod -----------------------------------------------------------------------------

    def get_pod(self, namespace: str, name: str) -> dict | None:
        try:
            return self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        except ApiRejected as error:
            if error.code == 404:
                return None
            raise

    def put_pod_status(self, pod: dict, status: Mapping[str, object]) -> dict:
        """Replace the status, guarded by the resourceVersion read (409 if the pod moved on)."""
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"]}, "spec": pod["spec"], "status": status}
        return self.request("PUT", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status", body=body)

    def finish_pod_deletion(self, pod: dict) -> None:
        """Delete with grace period 0 once the containers are gone; the uid precondition keeps a
        new pod of the same name safe."""
        meta = pod["metadata"]
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]}}
        try:
            self.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", body=body)
        except ApiRejected as error:
            # 404: gone; 409: a new pod of the name; 403: the node authorizer relates no pod of
            # that name to this node any more (gone, or a new one bound elsewhere) — done either way
            if error.code not in (403, 404, 409):
                raise

    # -- what pods read ----------------------------------------------------------------------

    def get_config(self, kind: str, namespace: str, name: str) -> dict | None:
        plural = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        try:
            return self.request("GET", f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        except ApiRejected as error:
            if error.code in (403, 404):
                return None
            raise

    # -- events ------------------------------------------------------------------------------

    def create_event(self, namespace: str, event: dict) -> dict:
        return self.request("POST", f"/api/v1/namespaces/{namespace}/events", body=event)

    def patch_event(self, namespace: str, name: str, patch: dict) -> dict:
        return self.request("PATCH", f"/api/v1/namespaces/{namespace}/events/{name}", body=patch,
                            content_type="application/merge-patch+json")


def _decode(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = {"message": response.text}
    if response.status_code >= 400:
        raise ApiRejected(response.status_code, data.get("reason", "") if isinstance(data, dict) else "",
                          data.get("message", response.text) if isinstance(data, dict) else response.text)
    return data
