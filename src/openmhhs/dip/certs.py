"""A test certificate authority and per-participant keys and certificates.

``openmhhs certs init`` makes one CA and, for each participant (and the hub), an RSA key
and a certificate usable for DIP request signing and for mutual TLS on loopback: the
subject CN and a ``urn:openmhhs:dip-id:`` URI name the DIP ID; the SAN also lists
``localhost`` and ``127.0.0.1``. Keys are written with owner-only permissions, encrypted
only when a password is supplied (never a built-in one); no file is ever written through a
link planted in the folder, and an existing CA is only replaced when asked (``--force``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openmhhs.codes import CodedError, ResponseCode
from openmhhs.dip.signing import DIP_ID_URI_PREFIX

__all__ = [
    "FileExists",
    "Issued",
    "issue_participant",
    "make_authority",
    "refuse_to_replace",
    "write_file",
    "write_key",
]

KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class Issued:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def make_authority(*, name: str, now: datetime, days: int = 3650) -> Issued:
    key = _key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "openmhhs test"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key=key, certificate=certificate)


def issue_participant(
    authority: Issued, *, dip_id: str, organisation: str, now: datetime, days: int = 825
) -> Issued:
    key = _key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64] or dip_id),
            x509.NameAttribute(NameOID.COMMON_NAME, dip_id),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(DIP_ID_URI_PREFIX + dip_id),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
        .sign(authority.key, hashes.SHA256())
    )
    return Issued(key=key, certificate=certificate)


class FileExists(CodedError):
    code = ResponseCode.OMH0800
    rule = "files.no_silent_replace"


def write_key(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only (0600), never through a link."""
    write_file(path, data, mode=0o600)


def write_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` without ever following a link planted there.

    The bytes go to a new file in the same folder (``O_CREAT|O_EXCL|O_NOFOLLOW``, created
    with ``mode``), which is then renamed over ``path``: a rename replaces a symbolic link
    itself, never the file it points to, and the file appears whole or not at all.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def refuse_to_replace(*paths: Path) -> None:
    """Raise ``FileExists`` (OMH0800) if any path exists or is a (even dangling) link."""
    for path in paths:
        if path.is_symlink() or path.exists():
            kind = "a link" if path.is_symlink() else "a file"
            raise FileExists(f"{path} is already {kind}; pass --force to replace it")
