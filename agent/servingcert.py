"""The agent endpoint's own TLS certificate: self-signed, made once, pinned by the API server.

Agents hold no CA key, and asking the control plane to sign a certificate for each node (the
kubelet's CSR dance) would need a whole approval flow. Instead, as SSH host keys work, the agent
makes a self-signed certificate at first start (ECDSA P-256, like the cluster's own), keeps it in
its state directory across restarts, and publishes its SHA-256 on its Node
(:data:`orchestrator.api.agentendpoint.SERVING_CERT_ANNOTATION`); the API server then accepts no
other certificate from this node. A new certificate is made only when the files are missing,
unreadable or near expiry, and the new fingerprint goes out with the next Node registration.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orchestrator.api.agentendpoint import cert_sha256

VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ServingCert:
    cert_file: Path
    key_file: Path
    fingerprint: str  # hex SHA-256 of the DER certificate, the pin


def ensure_serving_cert(state_dir: Path, node_name: str, hosts: list[str]) -> ServingCert:
    """Load ``serving.crt``/``serving.key`` from ``state_dir``, or make them (see module doc)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_file, key_file = state_dir / "serving.crt", state_dir / "serving.key"
    cert = _usable(cert_file, key_file)
    if cert is None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _self_signed(key, node_name, hosts)
        _write(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return ServingCert(cert_file, key_file, cert_sha256(cert.public_bytes(serialization.Encoding.DER)))


def _usable(cert_file: Path, key_file: Path) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (FileNotFoundError, ValueError, TypeError):
        return None
    if key.public_key() != cert.public_key():
        return None
    if cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) < RENEW_BEFORE:
        return None
    return cert


def _self_signed(key: ec.EllipticCurvePrivateKey, node_name: str, hosts: list[str]) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@dockyard-agent")])
    sans: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    for host in {*hosts, "127.0.0.1"}:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if host != node_name:
                sans.append(x509.DNSName(host))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode and renamed into place: a key is never briefly world-readable
    # and a crash never leaves half a file.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            os.fchmod(out.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
