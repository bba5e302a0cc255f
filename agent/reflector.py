"""Keeping one collection of the API in step on the agent's side: list once, then watch, and
resume every watch from the last resourceVersion seen (client-go's reflector).

A watch ends for many reasons: its ``timeoutSeconds`` ran out, the connection broke, the control
plane was restarted or is still down. None of them is a reason to list again, since the server
keeps its event log across restarts (:mod:`orchestrator.store.sqlite`) and replays whatever
happened after the revision a watch asks for. So the reflector lists only twice in its life:

* at its first start, and
* when the server answers ``410 Gone`` (its history no longer reaches back to the revision asked
  for): then the list replaces everything held, deletions included.

The revision it resumes from is that of the last event, or of the BOOKMARK a server sends as a
watch ends (``allowWatchBookmarks``, asked for on every watch by :meth:`ApiClient.watch`), which
also counts events the watch's selectors filtered out, so a resumed watch's replay stays short.

Without this, every agent listed its pods and the cluster's Services, Endpoints and Nodes again
on each watch's end and after every control-plane restart: with two agents, 8 LISTs on a restart
and 8 more every ``--resync-interval`` (``tests/integration/test_watch_resumption.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.apiclient import ApiClient, ApiRejected, ApiUnavailable

log = logging.getLogger("dockyard.agent.reflector")

#: the watch event that carries no change, only the revision to resume from
BOOKMARK = "BOOKMARK"


class Reflector:
    """List ``path`` once and watch it for ever, resuming; ``replace`` gets every list's items,
    ``apply`` every change (ADDED, MODIFIED, DELETED) in order. Both run on the reflector's thread;
    a change whose ``apply`` raised is delivered again by the next watch."""

    def __init__(self, api: ApiClient, path: str, *, replace: Callable[[list[dict]], None],
                 apply: Callable[[str, dict], None], params: dict | None = None, watch_seconds: float = 30.0,
                 retry_seconds: float = 1.0) -> None:
        self.api, self.path, self.params = api, path, params
        self.replace, self.apply = replace, apply
        self.watch_seconds, self.retry_seconds = watch_seconds, retry_seconds
        #: the revision the next watch starts from; None until listed (and after a 410)
        self.revision: str | None = None
        #: how many times the collection was listed (the first list included)
        self.lists = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.revision is None:
                    items, revision = self.api.list(self.path, self.params)
                    self.lists += 1
                    self.replace(items)
                    self.revision = revision
                self._follow(stop)
            except ApiRejected as error:
                if error.code == 410:
                    log.info("%s: revision %s is no longer in the server's history; listing again",
                             self.path, self.revision)
                    self.revision = None
                else:
                    log.warning("watching %s: %s", self.path, error)
                    stop.wait(self.retry_seconds)
            except ApiUnavailable as error:
                log.warning("API server unreachable while watching %s (%s); watching again from revision %s",
                            self.path, error, self.revision)
                stop.wait(self.retry_seconds)
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                # e.g. Docker down while a deletion is handled: the revision has not moved past the
                # change, so the next watch brings it again
                log.exception("handling a change of %s failed; watching again from revision %s",
                              self.path, self.revision)
                stop.wait(self.retry_seconds)

    def _follow(self, stop: threading.Event) -> None:
        """One watch from :attr:`revision`, until it ends."""
        assert self.revision is not None
        for kind, obj in self.api.watch(self.path, self.revision, self.params, int(self.watch_seconds)):
            if stop.is_set():
                return
            if kind != BOOKMARK:
                self.apply(kind, obj)
            self.revision = (obj.get("metadata") or {}).get("resourceVersion") or self.revision
