"""Check-in tokens (step 4), as properties: any token is a valid deep-link payload, it checks in
to its own meeting only within its windows, and any alteration is refused. The typed code
(issue 21) rotates with the token: short, of the alphabet without look-alikes, accepted for the
current and the previous window only, found among candidate meetings, and derived apart from
the token's signature."""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verification.checkin import (
    CODE_ALPHABET,
    CODE_LENGTH,
    InvalidToken,
    TokenSigner,
    new_code,
    normalize_code,
)

DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIGNER = TokenSigner(b"server-secret", rotation_seconds=180)
meeting_ids = st.integers(min_value=1, max_value=2**63 - 1)
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(meeting_ids, moments)
def test_a_token_is_a_deep_link_payload_for_its_meeting(meeting_id: int, now: datetime) -> None:
    token = SIGNER.issue(meeting_id, now)
    assert DEEP_LINK.match(token)
    assert SIGNER.verify(token, now) == meeting_id
    assert SIGNER.verify(token, now + timedelta(seconds=180)) == meeting_id  # previous window


@given(meeting_ids, moments, st.data())
def test_any_altered_token_is_refused(meeting_id: int, now: datetime, data: st.DataObject) -> None:
    token = SIGNER.issue(meeting_id, now)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    )
    altered = token[:position] + replacement + token[position + 1 :]
    if altered == token:
        return
    with pytest.raises(InvalidToken):
        SIGNER.verify(altered, now)


@given(meeting_ids, moments, st.text(max_size=3))
def test_truncated_or_extended_tokens_are_refused(
    meeting_id: int, now: datetime, extra: str
) -> None:
    token = SIGNER.issue(meeting_id, now)
    with pytest.raises(InvalidToken):
        SIGNER.verify(token[:-1], now)
    if extra:
        with pytest.raises(InvalidToken):
            SIGNER.verify(token + extra, now)


@given(meeting_ids, moments)
def test_a_token_expires_after_two_windows(meeting_id: int, now: datetime) -> None:
    token = SIGNER.issue(meeting_id, now)
    with pytest.raises(InvalidToken):
        SIGNER.verify(token, now + timedelta(seconds=360))
    with pytest.raises(InvalidToken):
        SIGNER.verify(token, now - timedelta(seconds=180))  # from the future: not yet valid


@given(meeting_ids, moments)
def test_another_secret_refuses_it(meeting_id: int, now: datetime) -> None:
    token = SIGNER.issue(meeting_id, now)
    with pytest.raises(InvalidToken):
        TokenSigner(b"another-secret").verify(token, now)


def test_typed_codes_are_easy_to_read_and_type() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) > 190
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert normalize_code(" ab3-xyz ") == "AB3XYZ"


# --------------------------------------------------------------------------- typed codes (issue 21)


def _accepted(signer: TokenSigner, typed: str, meeting_id: int, now: datetime) -> bool:
    return any(age <= 1 for found, age in signer.matching(typed, [meeting_id], now, back=5)
               if found == meeting_id)  # fmt: skip


@given(meeting_ids, moments)
def test_a_code_is_short_readable_and_rotates_with_the_token(
    meeting_id: int, now: datetime
) -> None:
    code = SIGNER.code(meeting_id, now)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set(code) & set("01IOL")  # nothing to mistake when read aloud
    assert _accepted(SIGNER, code, meeting_id, now)
    assert _accepted(SIGNER, code.lower()[:3] + " " + code.lower()[3:], meeting_id, now)
    assert _accepted(SIGNER, code, meeting_id, now + timedelta(seconds=180))  # previous window
    assert not _accepted(SIGNER, code, meeting_id, now + timedelta(seconds=360))  # two ago
    assert not _accepted(SIGNER, code, meeting_id, now - timedelta(seconds=180))  # future


def test_codes_change_every_window_and_differ_between_meetings() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    windows = {SIGNER.code(7, now + timedelta(seconds=180 * i)) for i in range(200)}
    meetups = {SIGNER.code(i, now) for i in range(1, 201)}
    assert len(windows) > 195 and len(meetups) > 195
    assert SIGNER.code(7, now) != TokenSigner(b"another-secret").code(7, now)


def test_a_code_of_an_older_window_is_found_with_its_age() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    old = SIGNER.code(7, now - timedelta(seconds=3 * 180))
    assert SIGNER.matching(old, [5, 6, 7, 8], now, back=1) == []
    assert SIGNER.matching(old, [5, 6, 7, 8], now, back=5) == [(7, 3)]
    assert SIGNER.matching(SIGNER.code(7, now), [5, 6, 7, 8], now) == [(7, 0)]
    assert SIGNER.matching("", [7], now) == [] and SIGNER.matching("ABC", [7], now) == []


def test_the_code_is_a_derivation_of_its_own() -> None:
    """Not the token's MAC cut short: knowing codes tells nothing about tokens, and back."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    token_key = hmac.new(b"server-secret", b"halsaram-checkin-v1", hashlib.sha256).digest()
    body = struct.pack(">BQI", 1, 7, SIGNER.window(now))
    mac = hmac.new(token_key, body, hashlib.sha256).digest()
    as_code = TokenSigner(b"server-secret").code_of_window
    number = int.from_bytes(mac[:8], "big")
    letters = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    assert as_code(7, SIGNER.window(now)) != "".join(letters)
