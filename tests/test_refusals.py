"""One error path: every refusal a storage operation can raise has its own polite text, in
Korean and English, from the one table in ui/refusals.py."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from storage import errors
from ui.i18n import t
from ui.refusals import FALLBACK, TABLE, refusal

SEOUL = ZoneInfo("Asia/Seoul")
# Families that are caught as a whole and never raised to a person on their own, and a
# reference clash the market resolves itself (a double tap) before anyone sees it.
NEVER_SHOWN = {
    errors.DomainError,
    errors.AccountError,
    errors.MeetupError,
    errors.LedgerError,
    errors.MarketError,
    errors.EvidenceError,
    errors.GroupError,
    errors.FeedbackError,
    errors.ModerationError,
    errors.ReferenceConflict,
}


def _every_refusal() -> list[type[errors.DomainError]]:
    found: list[type[errors.DomainError]] = []
    pending = [errors.DomainError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls not in NEVER_SHOWN]


def _instance(cls: type[errors.DomainError]) -> errors.DomainError:
    if cls is errors.Suspended:
        return errors.Suspended(datetime(2026, 12, 9, 3, 0, tzinfo=UTC))
    if cls in (errors.AlreadyReviewed, errors.AlreadyHandled):
        return cls("published")
    return cls()


@pytest.mark.parametrize("cls", _every_refusal(), ids=lambda cls: cls.__name__)
def test_every_refusal_has_its_own_text_in_both_languages(cls: type[errors.DomainError]) -> None:
    error = _instance(cls)
    english = refusal("en", error, SEOUL)
    korean = refusal("ko", error, SEOUL)
    assert english != t("en", FALLBACK), f"{cls.__name__} ({cls.code}) has no entry"
    assert korean != english, f"{cls.__name__}: {english!r} has no Korean translation"


def test_codes_are_unique_and_every_entry_names_a_code() -> None:
    classes = [c for c in _every_refusal() if "code" in vars(c)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    known = {c.code for c in _every_refusal()}
    assert {key.split(":")[0] for key in TABLE} <= known


def test_a_reason_refines_a_code_and_values_use_the_local_time() -> None:
    waitlisted = refusal("en", errors.NotParticipant("waitlisted"), SEOUL)
    assert waitlisted != refusal("en", errors.NotParticipant(), SEOUL)
    until = refusal("en", _instance(errors.Suspended), SEOUL)
    assert "2026-12-09 12:00" in until  # 03:00 UTC is noon in Seoul
