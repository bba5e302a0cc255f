"""``kubectl port-forward``: the protocol's stream headers and messages, and the agent's session
bookkeeping (:class:`agent.portforward.session.ForwardSession`), frame by frame as kubectl sends
them (client-go's ``tools/portforward``)."""

from __future__ import annotations

import pytest

from agent.portforward.session import (
    MAX_DATA_FRAME, Connect, Disconnect, ForwardSession, Send, ShutdownWrite, Write,
)
from orchestrator.api import spdy
from orchestrator.api.errors import ApiError
from orchestrator.api.registry import kind_for
from orchestrator.api.portforward import (
    TUNNELED_PROTOCOL, ForwardStream, StreamRejected, StreamType, connect_failure, forwarding_error, negotiate_tunnel,
    parse_stream, stream_headers,
)
from orchestrator.api.spdy import Data, GoAway, Ping, RstStatus, RstStream, SynReply, SynStream
from orchestrator.apiserver.auth import authorize_request
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.requestinfo import Verb, resolve
from orchestrator.apiserver.routing import Target
from orchestrator.cluster.identity import admin_identity, node_identity
from orchestrator.store import MemoryStore

CANCEL = RstStatus.CANCEL


# -- the protocol ---------------------------------------------------------------------------------

def test_the_tunneled_subprotocol_is_offered_by_name():
    assert TUNNELED_PROTOCOL == "SPDY/3.1+portforward.k8s.io"
    assert negotiate_tunnel(["v5.channel.k8s.io", " SPDY/3.1+portforward.k8s.io"]) == TUNNELED_PROTOCOL
    assert negotiate_tunnel(["portforward.k8s.io"]) is None


def test_a_stream_names_its_connection_role_and_port():
    assert parse_stream(5, stream_headers(StreamType.DATA, 8080, "3")) == ForwardStream(5, StreamType.DATA, 8080, "3")


@pytest.mark.parametrize("headers, message", [
    ((("streamtype", "data"),), '"port" header is required'),
    ((("port", "http"), ("streamtype", "data")),
     'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax'),
    ((("port", "70000"), ("streamtype", "data")),
     'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range'),
    ((("port", "0"), ("streamtype", "data")), 'port "0" must be > 0'),
    ((("port", "80"),), '"streamType" header is required'),
    ((("port", "80"), ("streamtype", "stdout")), 'invalid stream type "stdout"'),
])
def test_streams_the_kubelet_rejects_and_its_reasons(headers, message):
    with pytest.raises(StreamRejected) as raised:
        parse_stream(1, headers)
    assert str(raised.value) == message


def test_without_a_request_id_the_kubelets_stand_in_pairs_consecutive_streams():
    assert parse_stream(7, (("port", "80"), ("streamtype", "error"))).request_id == "7"
    assert parse_stream(9, (("port", "80"), ("streamtype", "data"))).request_id == "7"


def test_the_error_messages_are_the_kubelets_and_containerds():
    cause = connect_failure(81, "net:[1]", "dial tcp4 127.0.0.1:81: connect: connection refused",
                            "dial tcp6 [::1]:81: connect: connection refused")
    assert forwarding_error(81, "web", "u1", cause) == (
        'error forwarding port 81 to pod web, uid u1: failed to connect to localhost:81 inside namespace "net:[1]", '
        "IPv4: dial tcp4 127.0.0.1:81: connect: connection refused "
        "IPv6 dial tcp6 [::1]:81: connect: connection refused ")


# -- the session: one connection as kubectl runs it -------------------------------------------------

def syn(stream_id: int, kind: StreamType, port: int = 80, request_id: str = "0", fin: bool = False) -> SynStream:
    return SynStream(stream_id, stream_headers(kind, port, request_id), fin=fin)


def opened(session: ForwardSession, request_id: str = "0", error: int = 1, data: int = 3,
           port: int = 80) -> None:
    """kubectl's opening of one connection: error stream, its FIN, data stream; then connected."""
    session.receive(syn(error, StreamType.ERROR, port, request_id), 0)
    session.receive(Data(error, b"", fin=True), 0)
    session.receive(syn(data, StreamType.DATA, port, request_id), 0)
    session.connected(request_id)


def test_both_streams_are_answered_and_the_second_asks_for_the_connection():
    session = ForwardSession("web", "u1")
    assert session.receive(syn(1, StreamType.ERROR), 0) == [Send(SynReply(1))]
    assert session.receive(Data(1, b"", fin=True), 0) == []  # kubectl closes its half of the error stream
    assert session.receive(syn(3, StreamType.DATA), 0) == [Send(SynReply(3)), Connect("0", 80)]


def test_the_streams_pair_in_either_order():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.DATA, request_id="a"), 0)
    assert session.receive(syn(3, StreamType.ERROR, request_id="a"), 0)[-1] == Connect("a", 80)


def test_bytes_sent_while_connecting_wait_for_the_socket():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR), 0)
    session.receive(syn(3, StreamType.DATA), 0)
    assert session.receive(Data(3, b"GET / "), 0) == []
    assert session.receive(Data(3, b"HTTP/1.1\r\n\r\n", fin=True), 0) == []
    assert session.connected("0") == [Write("0", b"GET / "), Write("0", b"HTTP/1.1\r\n\r\n"), ShutdownWrite("0")]


def test_a_whole_connection_kubectl_closing_first():
    """curl sends its request, reads the answer and closes: kubectl sends FIN, the pod closes,
    our FIN goes back, kubectl resets the data stream and reads the error stream's empty end."""
    session = ForwardSession("web", "u1")
    opened(session)
    assert session.receive(Data(3, b"GET /"), 0) == [Write("0", b"GET /")]
    assert session.pod_data("0", b"200 OK") == [Send(Data(3, b"200 OK"))]
    assert session.receive(Data(3, b"", fin=True), 0) == [ShutdownWrite("0")]
    assert session.pod_data("0", b" more") == [Send(Data(3, b" more"))]  # half-closed: the answer goes on
    assert session.pod_closed("0") == [Send(Data(3, b"", fin=True)), Disconnect("0"), Send(Data(1, b"", fin=True))]
    assert session.connections == 0
    assert session.receive(RstStream(3, CANCEL), 0) == []  # too late to matter


def test_a_whole_connection_the_pod_closing_first():
    session = ForwardSession("web", "u1")
    opened(session)
    assert session.pod_closed("0") == [Send(Data(3, b"", fin=True))]
    # kubectl's copy from the stream ends; it resets the data stream and waits for the error stream
    assert session.receive(RstStream(3, CANCEL), 0) == [Disconnect("0"), Send(Data(1, b"", fin=True))]
    assert session.connections == 0


def test_a_refused_connection_gets_the_kubelets_error_and_both_streams_reset():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR, 9999), 0)
    session.receive(syn(3, StreamType.DATA, 9999), 0)
    assert session.connect_failed("0", "connection refused") == [
        Send(Data(1, b"error forwarding port 9999 to pod web, uid u1: connection refused")),
        Send(RstStream(3, CANCEL)), Send(RstStream(1, CANCEL))]
    assert session.connections == 0


def test_one_refused_connection_leaves_the_others_alone():
    session = ForwardSession("web", "u1")
    opened(session, "0", 1, 3)
    session.receive(syn(5, StreamType.ERROR, 9999, "1"), 0)
    session.receive(syn(7, StreamType.DATA, 9999, "1"), 0)
    session.connect_failed("1", "refused")
    assert session.receive(Data(3, b"still"), 0) == [Write("0", b"still")]
    assert session.pod_data("0", b"here") == [Send(Data(3, b"here"))]
    opened(session, "2", 9, 11)
    assert session.connections == 2 and not session.finished


def test_many_connections_interleave():
    """20 connections at once: every error stream first (ids 1…39), then the data streams (41…79)."""
    session = ForwardSession("web", "u1")
    for n in range(20):
        session.receive(syn(2 * n + 1, StreamType.ERROR, request_id=str(n)), 0)
    for n in range(20):
        assert session.receive(syn(41 + 2 * n, StreamType.DATA, request_id=str(n)), 0)[-1] == Connect(str(n), 80)
        session.connected(str(n))
    assert session.receive(Data(43, b"x"), 0) == [Write("1", b"x")]
    assert session.pod_data("19", b"y") == [Send(Data(79, b"y"))]


def test_kubectl_resetting_a_stream_mid_connect_abandons_the_socket():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR), 0)
    session.receive(syn(3, StreamType.DATA), 0)
    assert session.receive(RstStream(3, CANCEL), 0) == [Disconnect("0"), Send(Data(1, b"", fin=True))]
    assert session.connected("0") == [Disconnect("0")]  # the socket that opened after all is closed


def test_nothing_is_written_on_an_error_stream_kubectl_reset():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR), 0)
    session.receive(syn(3, StreamType.DATA), 0)
    session.receive(RstStream(1, CANCEL), 0)
    assert session.connect_failed("0", "refused") == [Send(RstStream(3, CANCEL))]


def test_pod_bytes_go_out_in_frames_of_bounded_size():
    session = ForwardSession("web", "u1")
    opened(session)
    frames = session.pod_data("0", bytes(2 * MAX_DATA_FRAME + 1))
    assert [len(action.frame.data) for action in frames] == [MAX_DATA_FRAME, MAX_DATA_FRAME, 1]  # type: ignore[union-attr]


# -- what the session refuses -----------------------------------------------------------------------

def test_streams_with_bad_headers_are_reset_without_a_reply():
    session = ForwardSession("web", "u1")
    assert session.receive(SynStream(1, (("port", "0"), ("streamtype", "data"))), 0) == [Send(RstStream(1, CANCEL))]
    assert session.connections == 0


@pytest.mark.parametrize("stream_id", [2, 1])
def test_stream_ids_must_be_odd_and_increasing(stream_id):
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR, request_id="a"), 0)
    assert session.receive(syn(stream_id, StreamType.DATA, request_id="b"), 0) == [
        Send(RstStream(stream_id, RstStatus.PROTOCOL_ERROR))]


def test_a_second_stream_of_one_type_gets_the_kubelets_note():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR), 0)
    assert session.receive(syn(3, StreamType.ERROR), 0) == [
        Send(SynReply(3)), Send(Data(1, b"error processing stream for request 0: error stream already assigned"))]


def test_a_connection_whose_second_stream_never_comes_is_timed_out():
    session = ForwardSession("web", "u1", creation_timeout=30)
    session.receive(syn(1, StreamType.ERROR, request_id="7"), 100)
    assert session.expire(129) == []
    assert session.expire(130) == [Send(Data(1, b"(request=7) timed out waiting for streams")),
                                   Send(RstStream(1, CANCEL))]
    assert session.connections == 0


def test_the_clients_pings_are_echoed_and_nothing_else():
    session = ForwardSession("web", "u1")
    assert session.receive(Ping(5), 0) == [Send(Ping(5))]
    assert session.receive(Ping(4), 0) == []


# -- the end ---------------------------------------------------------------------------------------

def test_goaway_from_kubectl_closes_every_socket_and_sends_nothing():
    session = ForwardSession("web", "u1")
    opened(session, "0", 1, 3)
    session.receive(syn(5, StreamType.ERROR, request_id="1"), 0)  # waiting: no socket yet
    assert session.receive(GoAway(0), 0) == [Disconnect("0")]
    assert session.finished and session.connections == 0
    assert session.receive(syn(7, StreamType.ERROR, request_id="2"), 0) == []


def test_the_pod_going_away_resets_every_stream_and_says_goaway():
    session = ForwardSession("web", "u1")
    opened(session, "0", 1, 3)
    session.receive(syn(5, StreamType.ERROR, request_id="1"), 0)
    assert session.shutdown() == [Send(RstStream(3, CANCEL)), Send(RstStream(1, CANCEL)), Disconnect("0"),
                                  Send(RstStream(5, CANCEL)), Send(GoAway(5))]
    assert session.finished and session.shutdown() == []


def test_a_protocol_error_says_so_in_goaway():
    session = ForwardSession("web", "u1")
    session.receive(syn(1, StreamType.ERROR), 0)
    assert session.protocol_error()[-1] == Send(GoAway(1, spdy.GoAwayStatus.PROTOCOL_ERROR))


# -- who may ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_port_forward_is_create_on_pods_portforward_whatever_the_method(method):
    """The WebSocket upgrade is a GET and the SPDY upgrade a POST: both are ``create``."""
    info = resolve(method, Target(kind_for("v1", "Pod"), "default", "web", "portforward"), {})
    assert info.verb is Verb.CREATE and info.port_forward and info.stream is None


def test_a_node_may_not_port_forward_even_into_its_own_pods():
    api = ObjectAPI(MemoryStore())
    api.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})
    api.create(kind_for("v1", "Pod"), "default", {"metadata": {"name": "web"}, "spec": {
        "nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]}})
    info = resolve("POST", Target(kind_for("v1", "Pod"), "default", "web", "portforward"), {})
    with pytest.raises(ApiError) as raised:
        authorize_request(node_identity("node-1"), info, api)
    assert raised.value.code == 403
    assert raised.value.message == ('pods/portforward is forbidden: User "system:node:node-1" cannot create '
                                    'resource "pods/portforward" in API group "" in the namespace "default"')
    assert authorize_request(admin_identity(), info, api).info is info
