"""``POST /dockyard/v1/join``: a join token is traded for a node token.

The contract (path, body, answer) is :mod:`orchestrator.api.bootstrap`'s; the bookkeeping (one
node token per node name, expiry, never handing out a second token for a registered node) is
:meth:`TokenBook.exchange_join`'s. What is left here is the HTTP edge: only a caller that
authenticated *with a join token* may call it, and every refusal says what to do next.
"""

from __future__ import annotations

from typing import Callable

from starlette.requests import Request
from starlette.responses import Response

from orchestrator.api import errors
from orchestrator.api.bootstrap import JOIN_NODE_NAME, JOIN_TOKEN
from orchestrator.apiserver.handlers import json_response
from orchestrator.apiserver.negotiation import decode_body

#: (join token, node name) -> node token, or None when it may not be exchanged
Exchange = Callable[[str, str], str | None]


class JoinEndpoint:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def handle(self, request: Request, token: str) -> Response:
        if request.method != "POST":
            raise errors.method_not_allowed(f"{request.method} is not supported here; POST a join request")
        identity = request.state.identity
        if not identity.is_bootstrap:
            raise errors.forbidden(
                identity.user, "create", "nodetokens", "dockyard.io", "",
                "only a join token (dyj_…) can be exchanged for a node token; "
                "make one with `dockyard token create` on the control plane")
        body = decode_body(await request.body(), request.headers.get("content-type"))
        node_name = body.get(JOIN_NODE_NAME)
        if not isinstance(node_name, str):
            raise errors.bad_request(f"{JOIN_NODE_NAME}: required, the joining machine's node name "
                                     "(a lowercase DNS-1123 subdomain)")
        try:
            node_token = self.exchange(token, node_name)
        except ValueError as error:  # an invalid node name
            raise errors.bad_request(f"{JOIN_NODE_NAME}: {error}") from None
        if node_token is None:
            raise errors.conflict(
                "nodes", "", node_name,
                f"node {node_name!r} has joined before and already holds a node token. Restart its "
                f"agent with the same --state-dir (it saved the token there), pick another "
                f"--node-name, or revoke the old credentials with `dockyard token revoke --node "
                f"{node_name}` and join again")
        return json_response({JOIN_NODE_NAME: node_name, JOIN_TOKEN: node_token}, 201)
