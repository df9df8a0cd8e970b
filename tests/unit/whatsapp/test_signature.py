"""The X-Hub-Signature-256 check on webhook bodies."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsapp.signature import sign, verify_signature

SECRET = "app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_sign_is_hmac_sha256_hex_with_prefix() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == f"sha256={expected}"
    assert sign(SECRET.encode(), BODY) == sign(SECRET, BODY)


def test_a_valid_signature_verifies() -> None:
    assert verify_signature(SECRET, BODY, sign(SECRET, BODY))
    assert verify_signature(SECRET, BODY, sign(SECRET, BODY).upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=zz",
        "sha256=" + "0" * 64,
        sign("other-secret", BODY),
        sign(SECRET, BODY)[len("sha256=") :],  # no prefix
        sign(SECRET, BODY).replace("sha256=", "sha1="),
        sign(SECRET, BODY).replace("sha256=", "SHA256:"),
        "sha256=" + "é" * 64,
    ],
)
def test_missing_wrong_or_malformed_signatures_fail(header: str | None) -> None:
    assert verify_signature(SECRET, BODY, header) is False


def test_the_signature_covers_the_raw_bytes() -> None:
    assert not verify_signature(SECRET, BODY + b" ", sign(SECRET, BODY))


@settings(max_examples=60, deadline=None)
@given(secret=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512), data=st.data())
def test_sign_then_verify_and_any_flipped_byte_fails(
    secret: bytes, body: bytes, data: st.DataObject
) -> None:
    header = sign(secret, body)
    assert verify_signature(secret, body, header)
    if body:
        index = data.draw(st.integers(0, len(body) - 1))
        flipped = bytearray(body)
        flipped[index] ^= data.draw(st.integers(1, 255))
        assert not verify_signature(secret, bytes(flipped), header)
