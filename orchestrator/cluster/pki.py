"""The cluster's certificate authority, the API server's TLS certificate and its client
certificate towards node agents.

kubectl refuses to send a bearer token over plain HTTP, so the API is HTTPS and every client
(kubectl, our CLI, node agents) trusts one private CA whose certificate travels in the kubeconfig.

Choices, all made for what Go's ``crypto/x509`` (inside kubectl) accepts without complaint:

* **ECDSA P-256 with SHA-256** for both keys: supported by every TLS stack, small and fast to
  generate (RSA-2048 generation takes long enough to notice in tests and ``dockyard init``).
* **Random positive 159-bit serials**: Go 1.23+ rejects negative serials.
* **SANs carry every name**: Go ignores the Common Name for host verification, so ``localhost``,
  ``127.0.0.1`` and ``::1`` are always in, plus each requested host (as an IP SAN when it parses as
  an address, else a DNS SAN). Wildcard listen addresses (``0.0.0.0``, ``::``) are not names
  anyone connects to and are dropped.
* **Proper CA extensions**: critical ``basicConstraints CA:TRUE``, ``keyCertSign``, subject and
  authority key identifiers; the leaf has ``serverAuth`` EKU and ``digitalSignature``. These are
  what strict verifiers (Python 3.13's ``VERIFY_X509_STRICT``, cryptography's own) demand too.
* Validity is backdated five minutes so a node whose clock is slightly behind still accepts a
  fresh certificate. CA: ten years; server: one year, renewed by :func:`ensure_server_cert`
  when it is within 30 days of expiry.

:func:`ensure_server_cert` is idempotent and only re-issues when needed: a host not covered yet
(``--listen`` on a new address), a different CA, a nearly expired or unreadable certificate. The
new certificate covers the union of the old SANs and the requested ones, so adding a name never
takes one away from a client already using it. The server key is kept across re-issues: only the
certificate file changes, in one atomic rename, so a server reading key and certificate while
``dockyard init`` runs never sees a pair that doesn't match.

The API server reaches node agents (for ``kubectl logs`` and ``exec``) over mutual TLS, as
kube-apiserver reaches kubelets: :func:`ensure_apiserver_client_cert` issues
``apiserver-kubelet-client.crt`` (CN ``dockyard-apiserver``, EKU ``clientAuth`` only, so it can
never serve), which agents accept because the cluster CA signed it. Agents hold no CA-signed
certificate of their own; their self-signed serving certificate is pinned by fingerprint
instead (see :mod:`orchestrator.apiserver.nodeproxy`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from orchestrator.api.bootstrap import ca_cert_hash
from orchestrator.cluster.statedir import PUBLIC_MODE, SECRET_MODE, StateDir, atomic_write

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=365)
#: re-issue the server certificate when it has less than this left
RENEW_BEFORE = dt.timedelta(days=30)
#: tolerate clients whose clocks are a little behind ours
BACKDATE = dt.timedelta(minutes=5)
#: names every server certificate covers, so local kubectl works whatever the listen address
ALWAYS_HOSTS = ("localhost", "127.0.0.1", "::1")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PKIError(RuntimeError):
    """The PKI directory is in a state we must not repair silently (e.g. the CA key is gone)."""


@dataclass(frozen=True)
class SubjectNames:
    """The DNS names and IP addresses a certificate is valid for."""

    dns: frozenset[str]
    ips: frozenset[IPAddress]

    @classmethod
    def parse(cls, hosts: list[str] | tuple[str, ...]) -> SubjectNames:
        dns: set[str] = set()
        ips: set[IPAddress] = set()
        for raw in hosts:
            host = raw.strip().strip("[]")  # "[::1]" is how IPv6 hosts appear in URLs
            if not host:
                continue
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                dns.add(host.lower().rstrip("."))  # DNS names compare case-insensitively
                continue
            if not ip.is_unspecified:
                ips.add(ip)
        return cls(frozenset(dns), frozenset(ips))

    @classmethod
    def of(cls, cert: x509.Certificate) -> SubjectNames:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return cls(frozenset(), frozenset())
        return cls(
            frozenset(name.lower() for name in san.get_values_for_type(x509.DNSName)),
            # An IPAddress entry of a subjectAltName is one address; networks only appear in
            # name constraints, which this CA never writes.
            frozenset(ip for ip in san.get_values_for_type(x509.IPAddress)
                      if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))),
        )

    def covers(self, other: SubjectNames) -> bool:
        return other.dns <= self.dns and other.ips <= self.ips

    def __or__(self, other: SubjectNames) -> SubjectNames:
        return SubjectNames(self.dns | other.dns, self.ips | other.ips)

    def extension(self) -> x509.SubjectAlternativeName:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(self.dns)]
        names += [x509.IPAddress(ip) for ip in sorted(self.ips, key=lambda a: (a.version, int(a)))]
        return x509.SubjectAlternativeName(names)


def ensure_ca(state: StateDir, cluster_name: str = "dockyard") -> x509.Certificate:
    """Return the cluster CA, creating it (CN ``dockyard-ca-<cluster>``) on first use."""
    state.ensure()
    have_cert, have_key = state.ca_cert.exists(), state.ca_key.exists()
    if have_cert and have_key:
        cert, key = _load_ca(state)
        return cert
    if have_cert or have_key:
        # A new CA would silently invalidate every kubeconfig and agent that trusts the old one.
        raise PKIError(
            f"{state.pki_dir} holds only half of the CA (ca.crt or ca.key is missing); "
            "restore it, or remove the directory to start the cluster's PKI afresh"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"dockyard-ca-{cluster_name}")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # Key first: a crash in between leaves "key without cert", which the check above reports,
    # rather than a certificate nobody can ever sign with.
    atomic_write(state.ca_key, _key_pem(key), SECRET_MODE)
    atomic_write(state.ca_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    return cert


def ensure_server_cert(state: StateDir, hosts: list[str] | tuple[str, ...]) -> x509.Certificate:
    """Return a server certificate valid for ``hosts`` (plus :data:`ALWAYS_HOSTS`), issuing a new
    one when the current certificate is missing, does not cover them, was signed by another CA,
    or expires within :data:`RENEW_BEFORE`. The CA must exist (:func:`ensure_ca`)."""
    if not (state.ca_cert.exists() and state.ca_key.exists()):
        raise PKIError(f"no CA in {state.pki_dir}; call ensure_ca first")
    ca_cert, ca_key = _load_ca(state)
    wanted = SubjectNames.parse([*ALWAYS_HOSTS, *hosts])
    key = _load_key(state.server_key)
    current = _load_cert(state.server_cert)
    if current is not None and key is not None and _still_good(current, key, ca_cert, wanted):
        return current

    names = (wanted | SubjectNames.of(current)) if current is not None else wanted
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
        atomic_write(state.server_key, _key_pem(key), SECRET_MODE)
    cert = _issue_leaf(ca_cert, ca_key, key, ExtendedKeyUsageOID.SERVER_AUTH, names)
    atomic_write(state.server_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    return cert


def ensure_apiserver_client_cert(state: StateDir) -> x509.Certificate:
    """Return the API server's client certificate for node agents, issuing it when it is missing,
    unreadable, signed by another CA or within :data:`RENEW_BEFORE` of expiry; the key is kept
    across re-issues, as the server key is. The CA must exist (:func:`ensure_ca`)."""
    if not (state.ca_cert.exists() and state.ca_key.exists()):
        raise PKIError(f"no CA in {state.pki_dir}; call ensure_ca first")
    ca_cert, ca_key = _load_ca(state)
    key = _load_key(state.kubelet_client_key)
    current = _load_cert(state.kubelet_client_cert)
    no_names = SubjectNames(frozenset(), frozenset())
    if current is not None and key is not None and _still_good(current, key, ca_cert, no_names):
        return current
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
        atomic_write(state.kubelet_client_key, _key_pem(key), SECRET_MODE)
    cert = _issue_leaf(ca_cert, ca_key, key, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    atomic_write(state.kubelet_client_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    return cert


def ca_pem(state: StateDir) -> str:
    """The CA certificate in PEM, as kubeconfigs and agents need it."""
    return state.ca_cert.read_text()


def ca_fingerprint(state: StateDir) -> str:
    """``sha256:<hex>`` of the CA's public key (SubjectPublicKeyInfo), kubeadm's
    ``--discovery-token-ca-cert-hash`` format: a joining machine that is handed this string along
    with a join token can check it talks to the right cluster before trusting the CA it fetches.
    Computed by :func:`orchestrator.api.bootstrap.ca_cert_hash`, which the joining agent uses too."""
    return ca_cert_hash(state.ca_cert.read_bytes())


# -- helpers --------------------------------------------------------------------------------


def _now() -> dt.datetime:
    # Whole seconds: certificate times have second precision anyway.
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8: the file mode protects it, and the server must start unattended.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ca(state: StateDir) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(state.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(state.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise PKIError(f"{state.ca_key} does not belong to {state.ca_cert}")
    return cert, key


def _issue_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    names: SubjectNames | None,
) -> x509.Certificate:
    """A CN ``dockyard-apiserver`` leaf for ``key`` with exactly one extended key usage (serving
    or client), and SANs when it serves."""
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if names is not None:
        builder = builder.add_extension(names.extension(), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (FileNotFoundError, ValueError, TypeError):
        return None  # missing or unreadable: a fresh key is the only repair
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def _still_good(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    wanted: SubjectNames,
) -> bool:
    if cert.public_key() != key.public_key():
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):  # wrong CA, or a different key type
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    return SubjectNames.of(cert).covers(wanted)
