"""Check-in tokens (step 4), as properties: any token is a valid deep-link payload, it checks in
to its own meeting only within its windows, and any alteration is refused."""

from __future__ import annotations

import re
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
