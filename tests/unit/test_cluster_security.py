"""The cluster's state directory, PKI, tokens and kubeconfig, down to a real TLS handshake with
Python's ``ssl`` and with the real ``kubectl``."""

import base64
import datetime as dt
import ipaddress
import json
import os
import shutil
import ssl
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from orchestrator.cluster import (
    Identity, PKIError, StateDir, TokenBook, ca_fingerprint, ca_pem, default_state_dir, ensure_ca,
    ensure_server_cert, init_cluster, read_kubeconfig, server_url, write_kubeconfig,
)


@pytest.fixture
def state(tmp_path):
    return StateDir(tmp_path / "dockyard")


@pytest.fixture
def cluster(state):
    return init_cluster(state, cluster_name="test", api_host="127.0.0.1", api_port=6443,
                        extra_hosts=["node1.example", "10.0.0.7"])


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def load_cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify(state, host):
    """Path-validate the server certificate for ``host`` the way a TLS client would."""
    ca, leaf = load_cert(state.ca_cert), load_cert(state.server_cert)
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = PolicyBuilder().store(Store([ca])).build_server_verifier(subject)
    return verifier.verify(leaf, [])


# -- state directory ----------------------------------------------------------------------------


def test_default_state_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKYARD_STATE_DIR", str(tmp_path / "elsewhere"))
    assert default_state_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DOCKYARD_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / ".dockyard"


def test_state_dir_layout(state):
    assert state.db.name == "state.db" and state.db.parent == state.root
    assert state.ca_key == state.root / "pki" / "ca.key"
    assert state.server_log == state.root / "logs" / "server.log"
    assert state.agent_log("node1") == state.root / "logs" / "agent-node1.log"
    assert state.pid_file("server") == state.root / "run" / "server.pid"
    with pytest.raises(ValueError):
        state.log_file("../escape")


def test_file_and_directory_modes(cluster, state):
    for directory in (state.root, state.pki_dir, state.logs_dir, state.run_dir):
        assert mode(directory) == 0o700, directory
    for secret in (state.ca_key, state.server_key, state.tokens, state.kubeconfig):
        assert mode(secret) == 0o600, secret


# -- init ---------------------------------------------------------------------------------------


def test_init_twice_is_idempotent(cluster, state):
    before = {p: p.read_bytes() for p in (state.ca_cert, state.ca_key, state.server_cert,
                                          state.server_key, state.tokens, state.kubeconfig,
                                          state.cluster_json)}
    again = init_cluster(state, cluster_name="test", api_host="127.0.0.1", api_port=6443,
                         extra_hosts=["node1.example", "10.0.0.7"])
    assert cluster.admin_token_issued and not again.admin_token_issued
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path.name} changed on re-init"
    assert again.server_url == "https://127.0.0.1:6443"


def test_reinit_on_new_port_keeps_admin_token_and_ca(cluster, state):
    token, ca = read_kubeconfig(state.kubeconfig)["token"], state.ca_cert.read_bytes()
    created = json.loads(state.cluster_json.read_text())["created"]
    init_cluster(state, cluster_name="test", api_host="127.0.0.1", api_port=7000)
    creds = read_kubeconfig(state.kubeconfig)
    assert creds["token"] == token and creds["server"] == "https://127.0.0.1:7000"
    assert state.ca_cert.read_bytes() == ca
    info = json.loads(state.cluster_json.read_text())
    assert info["api_port"] == 7000 and info["created"] == created and info["name"] == "test"


def test_lost_admin_token_is_replaced(cluster, state):
    old = read_kubeconfig(state.kubeconfig)["token"]
    TokenBook.for_state(state).revoke(old)
    again = init_cluster(state, cluster_name="test", api_host="127.0.0.1", api_port=6443)
    new = read_kubeconfig(state.kubeconfig)["token"]
    assert again.admin_token_issued and new != old
    assert TokenBook.for_state(state).authenticate(new).is_admin


def test_wildcard_listen_address(state):
    made = init_cluster(state, cluster_name="test", api_host="0.0.0.0", api_port=6443)
    assert made.server_url == "https://127.0.0.1:6443"
    names = load_cert(state.server_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("0.0.0.0") not in names.get_values_for_type(x509.IPAddress)
    verify(state, "127.0.0.1")
    assert server_url("::1", 6443) == "https://[::1]:6443"


def test_init_rejects_bad_input(state):
    with pytest.raises(ValueError):
        init_cluster(state, cluster_name="Bad Name", api_host="127.0.0.1", api_port=6443)
    with pytest.raises(ValueError):
        init_cluster(state, cluster_name="ok", api_host="127.0.0.1", api_port=0)


# -- PKI ----------------------------------------------------------------------------------------


def test_server_cert_verifies_against_ca_and_covers_sans(cluster, state):
    ca, leaf = load_cert(state.ca_cert), load_cert(state.server_cert)
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dockyard-ca-test"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= dt.timedelta(days=3649)
    leaf.verify_directly_issued_by(ca)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert dt.timedelta(days=364) <= leaf.not_valid_after_utc - leaf.not_valid_before_utc
    for host in ("localhost", "127.0.0.1", "::1", "node1.example", "10.0.0.7"):
        verify(state, host)
    with pytest.raises(Exception):
        verify(state, "not-covered.example")


def test_new_san_triggers_reissue_and_keeps_old_ones(cluster, state):
    first = load_cert(state.server_cert)
    key = state.server_key.read_bytes()
    assert ensure_server_cert(state, ["10.0.0.7"]).serial_number == first.serial_number
    reissued = ensure_server_cert(state, ["192.168.5.5", "new-node.example"])
    assert reissued.serial_number != first.serial_number
    for host in ("192.168.5.5", "new-node.example", "node1.example", "10.0.0.7", "localhost"):
        verify(state, host)
    # The key stays, so a server reading key + cert mid-reissue never sees a mismatched pair.
    assert state.server_key.read_bytes() == key


def test_ca_is_created_once_and_half_a_ca_is_refused(cluster, state):
    assert ensure_ca(state, "test").serial_number == load_cert(state.ca_cert).serial_number
    assert ca_pem(state).startswith("-----BEGIN CERTIFICATE-----")
    assert ca_fingerprint(state).startswith("sha256:") and len(ca_fingerprint(state)) == 71
    state.ca_key.unlink()
    with pytest.raises(PKIError):
        ensure_ca(state, "test")


def test_cert_from_another_ca_is_replaced(cluster, state, tmp_path):
    other = StateDir(tmp_path / "other")
    ensure_ca(other, "other")
    ensure_server_cert(other, [])
    shutil.copy(other.server_cert, state.server_cert)
    shutil.copy(other.server_key, state.server_key)
    ensure_server_cert(state, [])
    verify(state, "localhost")


# -- tokens -------------------------------------------------------------------------------------


@pytest.fixture
def book(tmp_path):
    return TokenBook(tmp_path / "tokens.json")


def test_admin_token_authenticates_and_unknown_or_revoked_do_not(book):
    token = book.issue_admin()
    assert token.startswith("dya_")
    who = book.authenticate(token)
    assert who.is_admin and not who.is_node and who.user == "dockyard-admin"
    assert book.authenticate("dya_" + "x" * 43) is None
    assert book.authenticate("") is None and book.authenticate("y" * 10_000) is None
    assert book.revoke(token) and not book.revoke(token)
    assert book.authenticate(token) is None


def test_node_token_identity(book):
    token = book.issue_node("worker-1")
    assert token.startswith("dyn_")
    who = book.authenticate(token)
    assert who == Identity("system:node:worker-1", who.groups, "worker-1")
    assert "system:nodes" in who.groups and who.is_node and not who.is_admin
    with pytest.raises(ValueError):
        book.issue_node("../Evil")
    assert book.revoke_node("worker-1") == 1 and book.authenticate(token) is None


def test_join_token_exchanges_once_per_node_name(book):
    join = book.issue_join()
    assert join.startswith("dyj_")
    assert book.authenticate(join).is_bootstrap and not book.authenticate(join).is_node
    node_token = book.exchange_join(join, "worker-1")
    assert book.authenticate(node_token).node_name == "worker-1"
    assert book.exchange_join(join, "worker-1") is None
    assert book.exchange_join(join, "worker-2") is not None  # one join token, many machines
    # A join token must not mint a second identity for a node that is already registered.
    book.issue_node("worker-3")
    assert book.exchange_join(book.issue_join(), "worker-3") is None
    assert book.exchange_join("dyj_unknown", "worker-4") is None
    assert book.exchange_join(book.issue_admin(), "worker-4") is None


def test_expired_join_token_is_refused(tmp_path):
    now = [1_000_000.0]
    book = TokenBook(tmp_path / "tokens.json", clock=lambda: now[0])
    join = book.issue_join(ttl_seconds=60)
    now[0] += 61
    assert book.exchange_join(join, "late-node") is None
    assert book.authenticate(join) is None
    forever = book.issue_join(ttl_seconds=None)
    now[0] += 10**8
    assert book.exchange_join(forever, "patient-node") is not None


def test_stored_file_has_only_hashes(book):
    tokens = [book.issue_admin(), book.issue_node("n1"), book.issue_join()]
    tokens.append(book.exchange_join(tokens[2], "n2"))
    text = book.path.read_text()
    for token in tokens:
        assert token not in text and token[4:] not in text
    assert "dya_" not in text and "dyn_" not in text and "dyj_" not in text
    assert mode(book.path) == 0o600
    assert len(json.loads(text)["tokens"]) == 4


def test_changes_by_another_process_are_seen(book):
    server = book
    cli = TokenBook(book.path)  # what `dockyard token create` would hold
    server.issue_admin()  # the server has loaded the file once
    join = cli.issue_join()
    assert server.authenticate(join) is not None
    node = server.exchange_join(join, "n1")
    assert cli.authenticate(node).node_name == "n1"
    cli.revoke(node)
    assert server.authenticate(node) is None


def test_concurrent_issues_lose_nothing(book, tmp_path):
    other = TokenBook(book.path)
    issued, lock = [], threading.Lock()

    def work(which):
        for _ in range(10):
            token = which.issue_join()
            with lock:
                issued.append(token)

    threads = [threading.Thread(target=work, args=(b,)) for b in (book, other, book, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = TokenBook(book.path)
    assert len(fresh.records()) == 40
    assert all(fresh.authenticate(t) for t in issued)


# -- kubeconfig ---------------------------------------------------------------------------------


def test_kubeconfig_fields(cluster, state):
    doc = yaml.safe_load(state.kubeconfig.read_text())
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    assert doc["current-context"] == "dockyard-test"
    (context,) = doc["contexts"]
    assert context["name"] == "dockyard-test"
    (cluster_entry,) = doc["clusters"]
    assert cluster_entry["name"] == context["context"]["cluster"]
    assert cluster_entry["cluster"]["server"] == "https://127.0.0.1:6443"
    ca_data = cluster_entry["cluster"]["certificate-authority-data"]
    assert base64.b64decode(ca_data).decode() == ca_pem(state)
    (user,) = doc["users"]
    assert user["name"] == context["context"]["user"]
    assert TokenBook.for_state(state).authenticate(user["user"]["token"]).is_admin


def test_write_and_read_kubeconfig(tmp_path):
    path = tmp_path / "kcfg"
    write_kubeconfig(path, cluster_name="c", server_url="https://h:1", ca_pem="PEM\n", user="u",
                     token="t0k")
    assert mode(path) == 0o600
    assert read_kubeconfig(path) == {"server": "https://h:1", "ca_pem": "PEM\n", "token": "t0k"}
    assert [p.name for p in tmp_path.iterdir()] == ["kcfg"]  # no temp file left behind


# -- a real TLS round-trip ----------------------------------------------------------------------


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        # kubectl appends ?timeout=…; only the path matters here
        path = urllib.parse.urlsplit(self.path).path
        self.server.seen.append((path, self.headers.get("Authorization")))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.kubectl
@pytest.mark.timeout(10)
def test_tls_round_trip_with_python_and_kubectl(state, tmp_path):
    started = time.monotonic()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.seen = []
    thread = None
    try:
        port = httpd.server_address[1]
        # Init against the real port, so the kubeconfig kubectl reads is the one init wrote.
        init_cluster(state, cluster_name="test", api_host="127.0.0.1", api_port=port)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(state.server_cert, state.server_key)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        token = read_kubeconfig(state.kubeconfig)["token"]

        client = ssl.create_default_context(cadata=ca_pem(state))
        client.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default; be ready for it
        for host in ("localhost", "127.0.0.1"):
            request = urllib.request.Request(f"https://{host}:{port}/py",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, context=client, timeout=3) as response:
                assert response.status == 200 and json.loads(response.read()) == {}

        stranger = StateDir(tmp_path / "stranger")
        ensure_ca(stranger, "stranger")
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/", timeout=3,
                                   context=ssl.create_default_context(cadata=ca_pem(stranger)))
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)

        kubectl = shutil.which("kubectl")
        assert kubectl, "kubectl must be on PATH: this test proves real kubectl accepts our PKI"
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["HOME"] = str(tmp_path)  # kubectl's discovery cache goes here, not in the real home

        def run_kubectl(kubeconfig):
            return subprocess.run(
                [kubectl, "--kubeconfig", str(kubeconfig), "--request-timeout=3s",
                 "get", "--raw", "/hello"],
                env=env, capture_output=True, text=True, timeout=4,
            )

        result = run_kubectl(state.kubeconfig)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {}
        assert ("/hello", f"Bearer {token}") in httpd.seen
        assert httpd.seen.count(("/py", f"Bearer {token}")) == 2

        # And kubectl really checks the chain: the same server under another CA is refused.
        wrong = tmp_path / "wrong-ca.kubeconfig"
        write_kubeconfig(wrong, cluster_name="test", server_url=f"https://127.0.0.1:{port}",
                         ca_pem=ca_pem(stranger), user="admin", token=token)
        served = len(httpd.seen)  # kubectl also asks for /version: don't count on exact calls
        refused = run_kubectl(wrong)
        assert refused.returncode != 0 and "certificate" in refused.stderr, refused.stderr
        assert len(httpd.seen) == served
    finally:
        if thread is not None:
            httpd.shutdown()  # blocks until serve_forever returns, so only when it runs
            thread.join(timeout=5)
        httpd.server_close()
    assert time.monotonic() - started < 5
