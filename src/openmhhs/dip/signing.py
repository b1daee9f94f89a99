"""DIP request signing: the four X-DIP headers, made and checked.

Per request: ``X-DIP-Content-Hash`` is base64(SHA-256(body)); the string
``METHOD;lowercased-url;timestamp;contenthash`` is signed with the sender's RSA key
(PKCS#1 v1.5, SHA-256) into ``X-DIP-Signature``; ``X-DIP-Signature-Date`` is the timestamp
(UTC, ISO 8601 with milliseconds, ``2025-06-27T14:29:09.061Z``);
``X-DIP-Signature-Certificate`` is base64 of the sender's PEM certificate.

Verification checks, in order: the hash matches the body, the certificate was issued by a
trusted authority and is within its validity, the signature is the certificate's, the date
is within the allowed skew of the verifier's clock, and (when the caller names one) the
certificate belongs to the expected DIP ID. Any failure is RCP9999.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from openmhhs.codes import CodedError, ResponseCode

__all__ = [
    "CONTENT_HASH",
    "SIGNATURE",
    "SIGNATURE_CERTIFICATE",
    "SIGNATURE_DATE",
    "SignatureInvalid",
    "Signer",
    "Verified",
    "Verifier",
    "certificate_dip_id",
    "signing_string",
]

CONTENT_HASH = "X-DIP-Content-Hash"
SIGNATURE = "X-DIP-Signature"
SIGNATURE_DATE = "X-DIP-Signature-Date"
SIGNATURE_CERTIFICATE = "X-DIP-Signature-Certificate"
HEADERS = (CONTENT_HASH, SIGNATURE, SIGNATURE_DATE, SIGNATURE_CERTIFICATE)

DEFAULT_SKEW = timedelta(minutes=5)
DIP_ID_URI_PREFIX = "urn:openmhhs:dip-id:"


class SignatureInvalid(CodedError):
    code = ResponseCode.RCP9999
    rule = "dip.signature.valid"


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def signature_date(moment: datetime) -> str:
    """``2025-06-27T14:29:09.061Z``: UTC with milliseconds."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def signing_string(method: str, url: str, timestamp: str, hashed: str) -> bytes:
    return f"{method.upper()};{url.lower()};{timestamp};{hashed}".encode()


def certificate_dip_id(certificate: x509.Certificate) -> str | None:
    """The DIP ID a certificate stands for: its ``urn:openmhhs:dip-id:`` URI, else its CN."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        for uri in names.value.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith(DIP_ID_URI_PREFIX):
                return uri[len(DIP_ID_URI_PREFIX) :]
    except x509.ExtensionNotFound:
        pass
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = common[0].value if common else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs requests with one participant's key and certificate."""

    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes, password: bytes | None = None) -> Signer:
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the DIP signs with RSA keys")
        x509.load_pem_x509_certificate(certificate_pem)  # fail early on a bad certificate
        return cls(key=key, certificate_pem=certificate_pem)

    def headers(self, *, method: str, url: str, body: bytes, now: datetime) -> dict[str, str]:
        hashed = content_hash(body)
        timestamp = signature_date(now)
        signature = self.key.sign(
            signing_string(method, url, timestamp, hashed), padding.PKCS1v15(), hashes.SHA256()
        )
        return {
            CONTENT_HASH: hashed,
            SIGNATURE: base64.b64encode(signature).decode("ascii"),
            SIGNATURE_DATE: timestamp,
            SIGNATURE_CERTIFICATE: base64.b64encode(self.certificate_pem).decode("ascii"),
        }


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature checked out, and who signed it."""

    dip_id: str | None
    certificate: x509.Certificate
    signed_at: datetime


class Verifier:
    """Checks X-DIP headers against trusted certificate authorities."""

    def __init__(self, authorities: Sequence[x509.Certificate], *, skew: timedelta = DEFAULT_SKEW) -> None:
        if not authorities:
            raise ValueError("a verifier needs at least one trusted authority")
        self._authorities = list(authorities)
        self._skew = skew

    @classmethod
    def from_pem(cls, *pems: bytes, skew: timedelta = DEFAULT_SKEW) -> Verifier:
        authorities: list[x509.Certificate] = []
        for pem in pems:
            authorities.extend(x509.load_pem_x509_certificates(pem))
        return cls(authorities, skew=skew)

    def _trusted(self, certificate: x509.Certificate, now: datetime) -> None:
        if not (certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc):
            raise SignatureInvalid("signing certificate is outside its validity period")
        for authority in self._authorities:
            if certificate.issuer != authority.subject:
                continue
            public = authority.public_key()
            if not isinstance(public, rsa.RSAPublicKey) or certificate.signature_hash_algorithm is None:
                continue
            try:
                public.verify(
                    certificate.signature,
                    certificate.tbs_certificate_bytes,
                    padding.PKCS1v15(),
                    certificate.signature_hash_algorithm,
                )
            except InvalidSignature:
                continue
            return
        raise SignatureInvalid("signing certificate is not issued by a trusted authority")

    def verify(
        self,
        *,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        now: datetime,
        expected_dip_id: str | None = None,
    ) -> Verified:
        lowered = {k.lower(): v for k, v in headers.items()}
        missing = [h for h in HEADERS if h.lower() not in lowered]
        if missing:
            raise SignatureInvalid(f"missing header(s) {', '.join(missing)}")
        hashed = lowered[CONTENT_HASH.lower()]
        if hashed != content_hash(body):
            raise SignatureInvalid("X-DIP-Content-Hash does not match the body")
        try:
            pem = base64.b64decode(lowered[SIGNATURE_CERTIFICATE.lower()], validate=True)
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise SignatureInvalid("X-DIP-Signature-Certificate is not a base64 PEM certificate") from None
        self._trusted(certificate, now)
        timestamp = lowered[SIGNATURE_DATE.lower()]
        try:
            signed_at = datetime.fromisoformat(timestamp)
        except ValueError:
            raise SignatureInvalid(f"X-DIP-Signature-Date {timestamp!r} is not a date-time") from None
        if signed_at.tzinfo is None:
            raise SignatureInvalid("X-DIP-Signature-Date must be UTC (ending Z)")
        if abs(signed_at - now) > self._skew:
            raise SignatureInvalid(
                f"X-DIP-Signature-Date {timestamp} is more than "
                f"{int(self._skew.total_seconds())} s from now ({signature_date(now)})"
            )
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise SignatureInvalid("signing certificate does not hold an RSA key")
        try:
            signature = base64.b64decode(lowered[SIGNATURE.lower()], validate=True)
            public.verify(
                signature,
                signing_string(method, url, timestamp, hashed),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, InvalidSignature):
            raise SignatureInvalid("X-DIP-Signature does not verify with the certificate's key") from None
        dip_id = certificate_dip_id(certificate)
        if expected_dip_id is not None and dip_id != expected_dip_id:
            raise SignatureInvalid(f"signed by {dip_id}, not by {expected_dip_id}")
        return Verified(dip_id=dip_id, certificate=certificate, signed_at=signed_at)
