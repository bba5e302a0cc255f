"""Controllers driven by hand in unit tests: no threads, the test decides when things happen.

:func:`drive` builds a controller the way the control plane does (a
:class:`~orchestrator.controlplane.localclient.LocalClient` over the test's object API, shared
informers) but without starting them. Every call into the returned :class:`Driven` first
applies whatever changes are pending to the caches, in the test's thread — what the informer
threads would have done by then — and afterwards applies the controller's own writes, with the
mutation detector checking that no controller edited an object the cache shares.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.client.informer import Informers
from orchestrator.controllers.base import Controller
from orchestrator.controlplane.localclient import LocalClient

C = TypeVar("C", bound=Controller[Any])


class Driven(Generic[C]):
    def __init__(self, controller: C, informers: Informers) -> None:
        self.controller = controller
        self.informers = informers

    def pump(self) -> None:
        self.informers.pump()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.controller, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.informers.pump()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.informers.pump()

        return call


def drive(make: Callable[..., C], api: ObjectAPI, *args: Any, **kwargs: Any) -> Driven[C]:
    """``drive(ReplicaSetController, api, clock=…)``: the controller over ``api``, driven by hand."""
    client = LocalClient(api)
    informers = Informers(client, detect_mutations=True)
    driven = Driven(make(client, informers, *args, **kwargs), informers)
    driven.pump()
    return driven
