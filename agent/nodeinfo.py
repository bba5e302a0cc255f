"""The agent endpoint's own read-only routes, the kubelet's in miniature: ``/healthz`` and ``/pods``.

``kubectl get --raw /api/v1/nodes/NODE/proxy/healthz`` (and ``…/proxy/pods``) reaches them through
the API server's ``nodes/proxy`` subresource, over the same mutual-TLS endpoint as logs and exec
(:mod:`agent.endpoint`): only the API server can call them, as only it can call the others.

* ``GET /healthz``: ``ok`` while the agent serves;
* ``GET /pods``: a ``PodList`` of the pods this agent is running, each as the agent last saw it
  (the kubelet's read-only listing, which node-level tools read to learn one node's pods).
"""

from __future__ import annotations

from typing import Callable

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

#: the pods this agent runs now (threads may call it)
PodsSource = Callable[[], list[dict]]


def node_routes(pods: PodsSource) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def pod_list(request: Request) -> Response:
        items = await to_thread.run_sync(pods)  # it takes the pod workers' locks
        return JSONResponse({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/pods", pod_list, methods=["GET"])]
