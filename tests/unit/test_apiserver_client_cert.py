"""The API server's client certificate for node agents: CA-signed, clientAuth only, kept."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orchestrator.cluster.init import init_cluster
from orchestrator.cluster.pki import ensure_apiserver_client_cert, ensure_ca
from orchestrator.cluster.statedir import StateDir


def test_issued_at_init_for_client_auth_only(tmp_path):
    state = StateDir(tmp_path / "state")
    init_cluster(state, cluster_name="dy", api_host="127.0.0.1", api_port=6443)
    cert = x509.load_pem_x509_certificate(state.kubelet_client_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(state.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dockyard-apiserver"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert oct(state.kubelet_client_key.stat().st_mode & 0o777) == "0o600"


def test_kept_across_inits_and_reissued_for_a_new_ca(tmp_path):
    state = StateDir(tmp_path / "state")
    init_cluster(state, cluster_name="dy", api_host="127.0.0.1", api_port=6443)
    first = state.kubelet_client_cert.read_bytes()
    init_cluster(state, cluster_name="dy", api_host="127.0.0.1", api_port=7443)
    assert state.kubelet_client_cert.read_bytes() == first
    key = state.kubelet_client_key.read_bytes()
    state.ca_cert.unlink()
    state.ca_key.unlink()
    ensure_ca(state)
    renewed = ensure_apiserver_client_cert(state)
    renewed.verify_directly_issued_by(x509.load_pem_x509_certificate(state.ca_cert.read_bytes()))
    assert state.kubelet_client_key.read_bytes() == key  # only the certificate changes
