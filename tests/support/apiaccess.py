"""Reaching a test cluster's API as its admin, from the kubeconfig the server wrote.

Both the bare control plane (:mod:`tests.support.controlplane`) and a whole local cluster
(:mod:`tests.support.cluster`) offer this; each says where its ``kubeconfig`` is and its ``url``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from orchestrator.cluster.kubeconfig import read_kubeconfig


class ApiAccess:
    kubeconfig: Path
    url: str

    def token(self) -> str:
        return read_kubeconfig(self.kubeconfig)["token"]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=read_kubeconfig(self.kubeconfig)["ca_pem"])

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        """An HTTP client with the admin token, or ``token``; ``token=""`` sends none."""
        headers = {"Authorization": f"Bearer {token or self.token()}"} if token != "" else {}
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), headers=headers, timeout=30, **kwargs)
