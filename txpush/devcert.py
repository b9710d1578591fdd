"""
A self-signed certificate for serving C{https://localhost} in development.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERTIFICATE_FILE = "localhost-cert.pem"
"""The certificate's file name in its directory."""

KEY_FILE = "localhost-key.pem"
"""The private key's file name in its directory."""

VALIDITY = datetime.timedelta(days=365)
"""How long a new certificate is valid (browsers refuse more than 398 days)."""


def ensureDevelopmentCertificate(directory: Path) -> tuple[Path, Path]:
    """
    Return the development certificate kept in C{directory}, making it first
    if it is not there.

    The certificate is self-signed for C{localhost}, C{127.0.0.1} and C{::1},
    with an ECDSA P-256 key.  It is not trusted by any client: pass
    C{--ignore-certificate-errors-spki-list} to Chromium, or C{-k} to curl.

    @param directory: Where to keep the files; created if missing.
    @return: The paths of the certificate and of its private key (PEM).
    @raise OSError: The directory or files cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    certificatePath = directory / CERTIFICATE_FILE
    keyPath = directory / KEY_FILE
    if certificatePath.exists() and keyPath.exists():
        return certificatePath, keyPath
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    keyBytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key is written readable by its owner only, before the certificate,
    # so a half-written pair is never taken for a complete one.
    descriptor = os.open(keyPath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as keyFile:
        keyFile.write(keyBytes)
    certificatePath.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificatePath, keyPath
