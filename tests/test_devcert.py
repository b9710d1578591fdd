"""
The development certificate.
"""

import ipaddress
import stat

from cryptography import x509

from txpush.devcert import ensureDevelopmentCertificate


def test_certificateForLocalhost(tmp_path):
    """
    A new certificate names localhost, 127.0.0.1 and ::1, and its key is
    readable by its owner only.
    """
    cert, key = ensureDevelopmentCertificate(tmp_path / "state")
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_keptAcrossRuns(tmp_path):
    """
    A second call returns the same files, unchanged.
    """
    cert, key = ensureDevelopmentCertificate(tmp_path)
    before = cert.read_bytes(), key.read_bytes()
    assert ensureDevelopmentCertificate(tmp_path) == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before
