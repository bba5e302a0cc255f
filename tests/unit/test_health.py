"""/healthz, /livez and /readyz as kube-apiserver answers them (orchestrator.apiserver.health)."""

from __future__ import annotations

from orchestrator.apiserver.health import PING, Check, Endpoint, answer, route

SYNCED = Check("informer-sync", lambda: None)
LISTING = Check("informer-sync", lambda: "the informers are listing")


def test_healthy_is_a_bare_ok_unless_verbose():
    assert answer(Endpoint.READYZ, [PING, SYNCED], None, False, []) == (200, "ok")
    assert answer(Endpoint.READYZ, [PING, SYNCED], None, True, []).text == \
        "[+]ping ok\n[+]informer-sync ok\nreadyz check passed\n"


def test_a_failing_check_is_500_with_the_listing_and_the_reason_withheld():
    failed = answer(Endpoint.READYZ, [PING, LISTING], None, False, [])
    assert failed.status == 500
    assert failed.text == "[+]ping ok\n[-]informer-sync failed: reason withheld\nreadyz check failed\n"


def test_an_excluded_check_does_not_count():
    assert answer(Endpoint.READYZ, [PING, LISTING], None, True, ["informer-sync"]) == (
        200, "[+]ping ok\n[+]informer-sync excluded: ok\nreadyz check passed\n")


def test_one_check_alone_says_why_it_fails():
    assert answer(Endpoint.LIVEZ, [PING, LISTING], "ping", False, []) == (200, "ok")
    assert answer(Endpoint.LIVEZ, [PING, LISTING], "informer-sync", False, []) == (
        500, "internal server error: the informers are listing\n")
    assert answer(Endpoint.LIVEZ, [PING], "nothing", False, []).status == 404


def test_routes():
    assert route("/readyz") == (Endpoint.READYZ, None)
    assert route("/livez/ping") == (Endpoint.LIVEZ, "ping")
    assert route("/healthz") == (Endpoint.HEALTHZ, None)
    assert route("/readyz/a/b") is None and route("/api") is None
