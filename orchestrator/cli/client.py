"""The CLI's HTTP client: kubeconfig credentials, discovery-based resource names, Status errors.

The ``dockyard`` verbs talk to the API exactly as kubectl does — same paths, same Table requests,
same patches — so the server renders one table for both tools. Resource names typed by the user
(``po``, ``deploy``, ``deployments.apps``, ``Service``) are resolved through the server's own
discovery documents, never a hard-coded list.
"""

from __future__ import annotations

import json
import os
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

import httpx

from orchestrator.cluster.kubeconfig import read_kubeconfig

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class ClientError(Exception):
    """An error to print as kubectl would: ``Error from server (Reason): message``."""

    def __init__(self, message: str, status: dict | None = None) -> None:
        super().__init__(message)
        self.status = status or {}

    @classmethod
    def refused(cls, code: int, body: str) -> ClientError:
        """The error for an HTTP refusal whose body is (normally) a ``metav1.Status``."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        status = data if isinstance(data, dict) and data.get("kind") == "Status" else {"message": body, "code": code}
        return cls(f"Error from server ({status.get('reason') or 'Unknown'}): {status.get('message', '')}", status)

    @property
    def code(self) -> int:
        return int(self.status.get("code") or 0)

    @property
    def reason(self) -> str:
        return self.status.get("reason", "")


@dataclass(frozen=True)
class ApiResource:
    name: str  # plural
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...]
    singular: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods``, ``deployment.apps`` — the prefix kubectl prints before a name."""
        return f"{self.singular or self.kind.lower()}{'.' + self.group if self.group else ''}"

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{name}" if name else ""
        sub = f"/{subresource}" if subresource else ""
        return f"{root}{scope}/{self.name}{tail}{sub}"


def kubeconfig_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    state = Path(os.environ.get("DOCKYARD_STATE_DIR", Path.home() / ".dockyard"))
    return state / "kubeconfig"


class ApiClient:
    def __init__(self, kubeconfig: str | None = None, timeout: float = 30.0) -> None:
        path = kubeconfig_path(kubeconfig)
        if not path.exists():
            raise ClientError(f"no kubeconfig at {path}: start a cluster with `dockyard up` or pass --kubeconfig")
        creds = read_kubeconfig(path)
        self.server = creds["server"].rstrip("/")
        context = ssl.create_default_context(cadata=creds["ca_pem"]) if self.server.startswith("https") else None
        # kept for connections httpx does not make (the exec WebSocket)
        self.token: str = creds["token"]
        self.ssl_context: ssl.SSLContext | None = context
        self._http = httpx.Client(base_url=self.server, verify=context or True, timeout=timeout,
                                  headers={"Authorization": f"Bearer {creds['token']}"})

    def close(self) -> None:
        """Close the pooled connections. One left open keeps a stopping server waiting: uvicorn
        lets open connections finish until its graceful-shutdown timeout runs out."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | list | None = None,
                content_type: str = "application/json", accept: str = "application/json") -> dict:
        headers = {"Accept": accept}
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body)
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise ClientError(f"unable to connect to the server at {self.server}: {error}") from None
        return self._decode(response)

    def get_or_none(self, path: str) -> dict | None:
        """``GET path``, or None when the server answers 404 (other refusals raise)."""
        try:
            return self.request("GET", path)
        except ClientError as error:
            if error.code == 404:
                return None
            raise

    @staticmethod
    def _decode(response: httpx.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = {"message": response.text}
        if response.status_code >= 400:
            raise ClientError.refused(response.status_code, response.text)
        return data

    def stream(self, path: str, params: dict, accept: str = "application/json") -> Iterator[str]:
        with self._open_stream(path, params, accept) as response:
            yield from response.iter_lines()

    def stream_bytes(self, path: str, params: dict) -> Iterator[bytes]:
        """A body exactly as it arrives, chunk by chunk (``logs -f``)."""
        with self._open_stream(path, params, "*/*") as response:
            yield from response.iter_raw()

    @contextmanager
    def _open_stream(self, path: str, params: dict, accept: str) -> Iterator[httpx.Response]:
        try:
            with self._http.stream("GET", path, params=params, headers={"Accept": accept}, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    self._decode(response)
                yield response
        except httpx.TransportError as error:
            raise ClientError(f"the connection to the server at {self.server} broke: {error}") from None

    # -- discovery -------------------------------------------------------------------------

    @cached_property
    def resources(self) -> list[ApiResource]:
        found = []
        group_versions = ["v1"] + [
            version["groupVersion"]
            for group in self.request("GET", "/apis").get("groups", [])
            for version in group["versions"][:1]
        ]
        for group_version in group_versions:
            path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            group, _, version = group_version.rpartition("/")
            for entry in self.request("GET", path).get("resources", []):
                if "/" in entry["name"]:
                    continue
                found.append(ApiResource(entry["name"], entry["kind"], group, version or group_version,
                                         entry["namespaced"], tuple(entry.get("shortNames") or ()),
                                         entry.get("singularName", "")))
        return found

    def resource(self, typed: str) -> ApiResource:
        """Resolve what a user typed: plural, singular, short name, kind, or ``name.group``."""
        wanted = typed.lower()
        name, _, group = wanted.partition(".")
        for resource in self.resources:
            names = {resource.name, resource.singular, resource.kind.lower(), *resource.short_names}
            if name in names and (not group or group == resource.group):
                return resource
        raise ClientError(f'error: the server doesn\'t have a resource type "{typed}"')

    def resource_for_kind(self, api_version: str, kind: str) -> ApiResource:
        group, _, version = api_version.rpartition("/")
        for resource in self.resources:
            if resource.kind == kind and resource.group == group and resource.version == (version or api_version):
                return resource
        raise ClientError(f'error: resource mapping not found for kind "{kind}" in version "{api_version}"; '
                          f"is the manifest's apiVersion/kind right?")

