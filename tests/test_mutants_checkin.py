"""Check-in tokens pinned to their specification (issue 22, `make mutation`): tokens and typed
codes computed here from the documented layout, keys and alphabet (and one known answer) must
be what verification/checkin.py makes; every refusal names its reason; a token's every spelling
but the canonical one is refused; a typed code is found only within the windows asked for.
Each test kills mutants tests/test_checkin_tokens.py let live."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import UTC, datetime, timedelta

import pytest

from verification.checkin import CODE_ALPHABET, InvalidToken, TokenSigner

SECRET = b"server-secret"
SIGNER = TokenSigner(SECRET, rotation_seconds=180)
NOW = datetime(2026, 11, 25, tzinfo=UTC)
# The token of meeting 42 at NOW under SECRET (a known answer: it changes only with a new VERSION).
KNOWN_TOKEN = "AQAAAAAAAAAqAJg2QEJh2b1Vl6YN1ZLCXg"


def _key(label: bytes) -> bytes:
    return hmac.new(SECRET, label, hashlib.sha256).digest()


def _spec_token(meeting_id: int, window: int, version: int = 1) -> str:
    """Version, meeting id and window (big-endian B, Q, I), then 12 bytes of HMAC-SHA256 under
    a key derived for check-in, base64url without padding."""
    body = struct.pack(">BQI", version, meeting_id, window)
    mac = hmac.new(_key(b"halsaram-checkin-v1"), body, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def _spec_code(meeting_id: int, window: int) -> str:
    """The first 8 bytes of HMAC-SHA256 (under a key of its own) of meeting id and window, as
    a big-endian number written in 6 letters of the alphabet, least significant first."""
    mac = hmac.new(
        _key(b"halsaram-checkin-code-v1"), struct.pack(">QI", meeting_id, window), hashlib.sha256
    ).digest()
    number, letters = int.from_bytes(mac[:8], "big"), []
    for _ in range(6):
        number, index = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters)


def test_tokens_and_codes_are_made_as_specified() -> None:
    window = int(NOW.timestamp()) // 180
    assert SIGNER.window(NOW) == window
    assert SIGNER.issue(42, NOW) == _spec_token(42, window) == KNOWN_TOKEN
    for meeting_id in (1, 42, 7_000_000, 2**63 - 1):
        for age in range(3):
            moment = NOW - timedelta(seconds=180 * age)
            assert SIGNER.issue(meeting_id, moment) == _spec_token(meeting_id, window - age)
            assert SIGNER.code(meeting_id, moment) == _spec_code(meeting_id, window - age)


def test_only_the_canonical_spelling_of_a_token_is_accepted() -> None:
    """25 bytes take 34 characters whose last carries 4 unused bits: other values of those bits
    decode to the same bytes, and are still refused."""
    raw = base64.urlsafe_b64decode(KNOWN_TOKEN + "==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [
        KNOWN_TOKEN[:-1] + c
        for c in alphabet
        if c != KNOWN_TOKEN[-1] and base64.urlsafe_b64decode(KNOWN_TOKEN[:-1] + c + "==") == raw
    ]
    assert twins
    for twin in twins:
        with pytest.raises(InvalidToken, match=r"^wrong size$"):
            SIGNER.verify(twin, NOW)


def test_each_refusal_names_its_reason() -> None:
    window = SIGNER.window(NOW)
    cases = {
        KNOWN_TOKEN[:-1]: "not base64url",  # 33 characters cannot be base64
        KNOWN_TOKEN + "AAAA": "wrong size",
        KNOWN_TOKEN[:-2] + ("B" if KNOWN_TOKEN[-2] != "B" else "C") + KNOWN_TOKEN[-1]: (
            "bad signature"
        ),
        _spec_token(42, window, version=2): "unknown version",
        _spec_token(42, window - 2): "expired",
        _spec_token(42, window + 1): "expired",
    }
    for token, reason in cases.items():
        with pytest.raises(InvalidToken, match=rf"^{reason}$"):
            SIGNER.verify(token, NOW)


def test_a_typed_code_is_found_only_within_the_windows_asked_for() -> None:
    two_ago = SIGNER.code(7, NOW - timedelta(seconds=360))
    assert SIGNER.matching(two_ago, [6, 7], NOW) == []  # by default: this window and the last
    assert SIGNER.matching(two_ago, [6, 7], NOW, back=2) == [(7, 2)]
    last = SIGNER.code(7, NOW - timedelta(seconds=180))
    assert SIGNER.matching(last, [6, 7], NOW) == [(7, 1)]
