"""Certificates made at test time: a certificate authority of the test's own and a server
certificate it signs, for https servers on 127.0.0.1 that clients check as they would any other.

Made with the ``cryptography`` package when it is installed, else with the ``openssl`` command.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import IN_CI


@dataclass(frozen=True)
class Certificates:
    """The authority's certificate (what a client trusts) and the server's chain and key."""

    ca: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS context for a server presenting the certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_certificates(folder: Path, names: list[str], addresses: list[str]) -> Certificates:
    """A new authority, and a server certificate for ``names`` (DNS) and ``addresses`` (IP)
    that it signs, valid from an hour ago for a day, as PEM files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return _with_openssl(folder, names, addresses)
    return _with_cryptography(folder, names, addresses)


def _with_cryptography(folder: Path, names: list[str], addresses: list[str]) -> Certificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("OfferEngine test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    server = (
        x509.CertificateBuilder()
        .subject_name(name(names[0] if names else addresses[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    found.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    found.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


def _with_openssl(folder: Path, names: list[str], addresses: list[str]) -> Certificates:
    if shutil.which("openssl") is None:
        message = "neither the cryptography package nor the openssl command is installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    ca_key, request = folder / "ca-key.pem", folder / "server.csr"
    extensions = folder / "server.ext"
    alternatives = [f"DNS:{n}" for n in names] + [f"IP:{a}" for a in addresses]
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        f"subjectAltName={','.join(alternatives)}\n"
        "extendedKeyUsage=serverAuth\n"
    )

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    subject = f"/CN={names[0] if names else addresses[0]}"
    openssl(
        "req",
        "-x509",
        *curve,
        "-keyout",
        ca_key,
        "-out",
        found.ca,
        "-days",
        "1",
        "-subj",
        "/CN=OfferEngine test CA",
    )
    openssl("req", "-new", *curve, "-keyout", found.server_key, "-out", request, "-subj", subject)
    openssl(
        "x509",
        "-req",
        "-in",
        request,
        "-CA",
        found.ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        found.server_cert,
        "-days",
        "1",
        "-extfile",
        extensions,
    )
    return found
