"""DIP request signing: interoperates with an independent implementation of the published
recipe, and refuses every kind of tampering with RCP9999."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from openmhhs.codes import ResponseCode
from openmhhs.dip.certs import Issued, issue_participant, make_authority
from openmhhs.dip.signing import SignatureInvalid, Signer, Verifier

NOW = datetime(2025, 6, 27, 14, 29, 9, 61000, tzinfo=UTC)
URL = "https://dip.example/DIP-Channel/IF-031"
BODY = b'[{"CommonBlock": {}}]'


@pytest.fixture(scope="module")
def pki() -> dict[str, Issued]:
    authority = make_authority(name="test CA", now=NOW)
    other = make_authority(name="someone else's CA", now=NOW)
    return {
        "ca": authority,
        "other-ca": other,
        "supplier": issue_participant(authority, dip_id="1111111111", organisation="Aurora", now=NOW),
        "sds": issue_participant(authority, dip_id="2222222222", organisation="Beacon", now=NOW),
        "stranger": issue_participant(other, dip_id="1111111111", organisation="Mallory", now=NOW),
    }


def independent_headers(issued: Issued, method: str, url: str, body: bytes, when: str) -> dict[str, str]:
    """The published recipe, written here with cryptography primitives only."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    message = f"{method};{url.lower()};{when};{digest}".encode()
    signature = issued.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    pem = issued.certificate.public_bytes(serialization.Encoding.PEM)
    return {
        "X-DIP-Content-Hash": digest,
        "X-DIP-Signature": base64.b64encode(signature).decode(),
        "X-DIP-Signature-Date": when,
        "X-DIP-Signature-Certificate": base64.b64encode(pem).decode(),
    }


def verifier(pki: dict[str, Issued]) -> Verifier:
    return Verifier([pki["ca"].certificate])


def signer(issued: Issued) -> Signer:
    return Signer(key=issued.key, certificate_pem=issued.certificate_pem)


def test_project_verifies_an_independently_signed_request(pki: dict[str, Issued]) -> None:
    headers = independent_headers(pki["supplier"], "POST", URL, BODY, "2025-06-27T14:29:09.061Z")
    verified = verifier(pki).verify(method="POST", url=URL, body=BODY, headers=headers, now=NOW)
    assert verified.dip_id == "1111111111"


def test_independent_code_verifies_a_project_signed_request(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="post", url=URL, body=BODY, now=NOW)
    assert headers["X-DIP-Signature-Date"] == "2025-06-27T14:29:09.061Z"
    assert headers["X-DIP-Content-Hash"] == base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    pem = base64.b64decode(headers["X-DIP-Signature-Certificate"])
    certificate = x509.load_pem_x509_certificate(pem)
    message = f"POST;{URL.lower()};{headers['X-DIP-Signature-Date']};{headers['X-DIP-Content-Hash']}".encode()
    certificate.public_key().verify(  # type: ignore[call-arg, union-attr]
        base64.b64decode(headers["X-DIP-Signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def rejected(
    pki: dict[str, Issued],
    headers: dict[str, str],
    *,
    body: bytes = BODY,
    now: datetime = NOW,
    **kw: str,
) -> str:
    with pytest.raises(SignatureInvalid) as raised:
        verifier(pki).verify(method="POST", url=URL, body=body, headers=headers, now=now, **kw)
    assert raised.value.code is ResponseCode.RCP9999
    return raised.value.detail


def test_rcp9999_tampered_body(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    assert "Content-Hash" in rejected(pki, headers, body=BODY + b" ")


def test_rcp9999_hash_and_body_both_changed(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    other = b"[]"
    headers["X-DIP-Content-Hash"] = base64.b64encode(hashlib.sha256(other).digest()).decode()
    assert "does not verify" in rejected(pki, headers, body=other)


def test_rcp9999_wrong_key_for_the_certificate(pki: dict[str, Issued]) -> None:
    forged = Signer(key=pki["sds"].key, certificate_pem=pki["supplier"].certificate_pem)
    headers = forged.headers(method="POST", url=URL, body=BODY, now=NOW)
    assert "does not verify" in rejected(pki, headers)


def test_rcp9999_certificate_from_an_untrusted_authority(pki: dict[str, Issued]) -> None:
    headers = signer(pki["stranger"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    assert "trusted authority" in rejected(pki, headers)


def test_rcp9999_stale_signature_date(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL, body=BODY, now=NOW - timedelta(hours=1))
    assert "from now" in rejected(pki, headers)


def test_rcp9999_signed_by_someone_else(pki: dict[str, Issued]) -> None:
    headers = signer(pki["sds"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    assert "not by" in rejected(pki, headers, expected_dip_id="1111111111")


def test_rcp9999_other_url_or_method(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL + "x", body=BODY, now=NOW)
    rejected(pki, headers)
    headers = signer(pki["supplier"]).headers(method="PUT", url=URL, body=BODY, now=NOW)
    rejected(pki, headers)


def test_rcp9999_missing_header(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    del headers["X-DIP-Signature"]
    assert "missing" in rejected(pki, headers)


def test_headers_are_case_insensitive(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL, body=BODY, now=NOW)
    lowered = {k.lower(): v for k, v in headers.items()}
    verifier(pki).verify(method="POST", url=URL, body=BODY, headers=lowered, now=NOW)


def test_url_case_does_not_matter(pki: dict[str, Issued]) -> None:
    headers = signer(pki["supplier"]).headers(method="POST", url=URL.upper(), body=BODY, now=NOW)
    verifier(pki).verify(method="POST", url=URL, body=BODY, headers=headers, now=NOW)


def test_encrypted_key_round_trip(pki: dict[str, Issued]) -> None:
    pem = pki["supplier"].key_pem(b"correct horse")
    assert b"ENCRYPTED" in pem
    loaded = Signer.from_pem(pem, pki["supplier"].certificate_pem, b"correct horse")
    headers = loaded.headers(method="POST", url=URL, body=BODY, now=NOW)
    verifier(pki).verify(method="POST", url=URL, body=BODY, headers=headers, now=NOW)
