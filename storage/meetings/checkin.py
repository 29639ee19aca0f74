"""Check-in (step 4): the host shows a QR inside the window, participants present its token
(or the typed code under it), and attendance is recorded once.

The token is verified here, with the meeting's rules, so a handler only hands over what the
person presented: a forged or expired token is refused as `InvalidCheckin`, like any other
refusal. Attendance is unique per meeting and person in the database; the row lock keeps the
"how many are here" count exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox, proof_words
from storage.accounts import require_may_act
from storage.errors import (
    AlreadyCheckedIn,
    CheckinClosed,
    InvalidCheckin,
    MeetupNotOpen,
    NotParticipant,
)
from storage.meetings.base import (
    ACTIVE,
    JOINED,
    WAITLISTED,
    Rules,
    count,
    hosted,
    locked,
    participation,
)
from storage.meetings.queries import MeetupView, view
from storage.models import Meeting, Participation, User
from verification.checkin import CODE_LENGTH, InvalidToken, TokenSigner, normalize_code


@dataclass(frozen=True)
class CheckinSheet:
    """What the host's QR message shows: the signed token of the current window, the typed
    code, and the host's own proof word."""

    meetup: MeetupView
    token: str
    code: str
    proof_word: str | None


@dataclass(frozen=True)
class CheckedIn:
    """A check-in just recorded, with the person's proof word for their photo."""

    meetup: MeetupView
    proof_word: str | None


def checkin_window(meeting: Meeting, rules: Rules) -> tuple[datetime, datetime]:
    start = meeting.starts_at
    return start - rules.checkin_opens_before, start + rules.checkin_closes_after


def _ensure_window(meeting: Meeting, rules: Rules, now: datetime) -> None:
    if meeting.status == "cancelled":
        raise MeetupNotOpen("cancelled")
    opens, closes = checkin_window(meeting, rules)
    if now < opens:
        raise CheckinClosed("early")
    if now > closes:
        raise CheckinClosed("late")


async def open_checkin(
    session: AsyncSession, meeting_id: int, host_id: int, rules: Rules, now: datetime
) -> Meeting:
    """The host shows the QR: allowed only inside the window; the host counts as present."""
    meeting = await hosted(session, meeting_id, host_id)
    _ensure_window(meeting, rules, now)
    mine = await participation(session, meeting_id, host_id)
    if mine is not None and mine.checked_in_at is None:
        mine.checked_in_at = now
    if mine is not None:
        await proof_words.assign(session, mine)
    return meeting


async def checkin_sheet(
    session: AsyncSession,
    meeting_id: int,
    host_id: int,
    signer: TokenSigner,
    rules: Rules,
    now: datetime,
) -> CheckinSheet:
    """Opens check-in for the host (`open_checkin`) and signs the current window's token."""
    meeting = await open_checkin(session, meeting_id, host_id, rules, now)
    mine = await participation(session, meeting_id, host_id)
    return CheckinSheet(
        await view(session, meeting_id),
        signer.issue(meeting.id, now),
        meeting.checkin_code or "",
        mine.proof_word if mine else None,
    )


async def check_in(
    session: AsyncSession, meeting_id: int, user_id: int, rules: Rules, now: datetime
) -> tuple[Meeting, int]:
    """Records attendance once; returns the meeting and how many are checked in now. A
    deleted, banned or suspended person may not check in."""
    await require_may_act(session, user_id, now, "checkin")
    meeting = await locked(session, meeting_id)
    _ensure_window(meeting, rules, now)
    mine = await participation(session, meeting_id, user_id)
    if mine is None or mine.status not in ACTIVE:
        raise NotParticipant
    if mine.status == WAITLISTED:
        raise NotParticipant("waitlisted")
    if mine.checked_in_at is not None:
        raise AlreadyCheckedIn
    mine.checked_in_at = now
    await proof_words.assign(session, mine)
    present = int(
        await session.scalar(
            select(func.count())
            .select_from(Participation)
            .where(Participation.meeting_id == meeting_id, Participation.checked_in_at.is_not(None))
        )
        or 0
    )
    user = await session.get(User, user_id)
    await outbox.enqueue(
        session,
        key=f"checkin:{mine.id}",
        chat_id=meeting.host_id,
        kind="checked_in",
        values={"meeting_id": meeting_id, "name": user.display_name if user else "",
                "present": present, "seated": await count(session, meeting_id, JOINED)},
        now=now,
    )  # fmt: skip
    return meeting, present


async def _meeting_presented(
    session: AsyncSession, signer: TokenSigner, now: datetime, token: str | None, code: str | None
) -> int:
    """The meeting a scanned token or a typed code is for; `InvalidCheckin` otherwise."""
    if token is not None:
        try:
            return signer.verify(token, now)
        except InvalidToken as exc:
            raise InvalidCheckin("token") from exc
    typed = normalize_code(code or "")
    if len(typed) != CODE_LENGTH:
        raise InvalidCheckin("malformed_code")
    found = await session.scalar(select(Meeting.id).where(Meeting.checkin_code == typed))
    if found is None:
        raise InvalidCheckin("unknown_code")
    return int(found)


async def check_in_with(
    session: AsyncSession,
    user_id: int,
    signer: TokenSigner,
    rules: Rules,
    now: datetime,
    *,
    token: str | None = None,
    code: str | None = None,
) -> CheckedIn:
    """Checks the person in with what they presented: the token of the host's QR (a scan)
    or the code typed under it. Every refusal is a `MeetupError` (`InvalidCheckin` for a
    forged, expired, malformed or unknown one)."""
    meeting_id = await _meeting_presented(session, signer, now, token, code)
    await check_in(session, meeting_id, user_id, rules, now)
    mine = await participation(session, meeting_id, user_id)
    return CheckedIn(await view(session, meeting_id), mine.proof_word if mine else None)
