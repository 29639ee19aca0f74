"""Photo evidence (steps 5 and 6): intake, the verification job's claims, admin decisions.

Evidence belongs to the people who were there (issue 21). A participant or host who checked in
may send a photo from their check-in on until some hours after the meetup ended, while no
photo of theirs for it is approved or still being looked at, within a number of tries; someone
who has not checked in is told how and from when they can (`NotCheckedIn`). The same message
handled twice (Telegram redelivering it) is the one photo it was.

Copies never pay twice: the verification job refuses a photo whose bytes (SHA-256) or picture
(perceptual hash within `TWIN` bits) are those of an approved photo, and identical bytes a
person sends again after their photo was not accepted; such a copy goes to "retry" with the
`COPY` signal, its sender is told why, and it uses none of their tries. Nearer misses stay a
signal on the review card. An approval checks the same against approved photos once more
(approvals take turns), and a partial unique index lets the same bytes be approved once.

Nobody reviews their own evidence or that of a meetup they hosted, joined or checked in to
(`NotImpartial`). Each state change is a guarded UPDATE (`WHERE status = …`), so two workers
never check one photo and two admins pressing at once give one decision: the second finds the
status changed (and the review unique per evidence backs that up); the same admin's press
handled twice is recognised as the decision it made. Approval pays through the ledger with
reference `evidence:<id>`, so nothing can pay twice. Notices to the sender go to the outbox in
the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger, meetings, outbox, progress, proof_words, trust, users
from storage.accounts import require_may_act
from storage.errors import (
    AlreadyDecided,
    CopyOfApproved,
    DomainError,
    EvidenceNotFound,
    NotAdmin,
    NotCheckedIn,
    NothingPending,
    NotImpartial,
    NotReady,
    NoTriesLeft,
    SamePhoto,
)
from storage.models import (
    EVIDENCE_MEDIA,
    EVIDENCE_STATUSES,
    Appeal,
    Evidence,
    Meeting,
    Participation,
    Review,
    User,
)

RECEIVED, CHECKING, IN_REVIEW, APPROVED, REJECTED, RETRY = EVIDENCE_STATUSES
# What the evidence is (issue 21): a photo, a round video message (live), an ordinary video.
PHOTO, VIDEO_NOTE, VIDEO = EVIDENCE_MEDIA
# A signal of the checks: the store keeps a JPEG of an original Telegram cannot show (HEIC).
SHOWN_AS_JPEG = "shown_as_jpeg"
IN_FLIGHT = (RECEIVED, CHECKING, IN_REVIEW)
APPROVE, REJECT, ASK_AGAIN = "approve", "reject", "again"
# Why a reviewer may reject a photo: the set of keys (ui/review.py says each in words).
REASONS = ("blurry", "place", "mission", "duplicate", "other")
# A photo still "checking" this long after it arrived was claimed by a worker that died.
STALE_CHECK = timedelta(minutes=10)
# A signal of the checks: this photo is a copy ({"why": "approved" | "repeat", "of": id,
# "distance": bits}); it was refused without a reviewer and used no try.
COPY = "copy"
# Perceptual hashes this close (of 64 bits) are one picture: re-encoded, resized, re-saved.
TWIN = 2
# The person's message that carried a photo (in its signals): a redelivery is that message.
MESSAGE_ID = "message_id"
# Approvals take turns on PostgreSQL (a transaction-scoped advisory lock), so two admins
# approving two copies at once cannot both find no approved twin.
APPROVAL_LOCK = 2_021_0001


def is_copy(item: Evidence) -> bool:
    """Whether the checks refused this photo as a copy (it used no try)."""
    return COPY in (item.signals or {})


def shown_jpeg_key(item: Evidence) -> str | None:
    """The stored JPEG a review card shows instead of the original file, or None."""
    if item.storage_key is None or not (item.signals or {}).get(SHOWN_AS_JPEG):
        return None
    return item.storage_key


class RuleSettings(Protocol):
    """The settings the evidence rules come from (`bot.settings.Settings` has them)."""

    @property
    def evidence_max_attempts(self) -> int: ...

    @property
    def evidence_window_hours(self) -> int: ...

    @property
    def checkin_opens_minutes(self) -> int: ...

    @property
    def checkin_closes_minutes(self) -> int: ...


@dataclass(frozen=True)
class EvidenceRules:
    max_attempts: int = 3
    window_after: timedelta = timedelta(hours=48)
    # The check-in window (as `meetings.Rules`), to tell someone not checked in when they can.
    checkin_opens_before: timedelta = timedelta(minutes=15)
    checkin_closes_after: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> EvidenceRules:
        return cls(
            max_attempts=settings.evidence_max_attempts,
            window_after=timedelta(hours=settings.evidence_window_hours),
            checkin_opens_before=timedelta(minutes=settings.checkin_opens_minutes),
            checkin_closes_after=timedelta(minutes=settings.checkin_closes_minutes),
        )


@dataclass(frozen=True)
class Upload:
    """A photo as Telegram delivered it; `named_format` is what a document's name promises."""

    file_id: str
    file_unique_id: str
    as_document: bool
    named_format: str | None = None
    # The message that carried it: handled twice (a redelivery), it is still one photo.
    message_id: int | None = None
    # PHOTO, VIDEO_NOTE or VIDEO (issue 21): a video is checked and shown as one frame of it.
    media_kind: str = "photo"


@dataclass(frozen=True)
class Pending:
    meetups: list[meetings.MeetupView]
    in_review: int = 0
    no_tries: int = 0


@dataclass(frozen=True)
class Received:
    """A photo taken in: the meetup it now counts for, or (several waiting, none picked yet)
    the meetups to choose from."""

    meetup: meetings.MeetupView | None = None
    choices: list[meetings.MeetupView] = field(default_factory=list)
    # The same message taken in before (handled twice): nothing new was recorded.
    repeat: bool = False


@dataclass(frozen=True)
class CheckinMark:
    """How someone checked in: QR or code, and where ("live", "location", "unverified")."""

    method: str | None
    location: str | None
    distance_m: int | None


@dataclass(frozen=True)
class ReviewView:
    """Everything a review card shows."""

    evidence: Evidence
    meetup: meetings.MeetupView
    sender_name: str
    trust_score: float
    max_attempts: int
    decision: Review | None = None
    reviewer_name: str = ""
    # The word the sender was given at check-in, to look for in the photo.
    proof_word: str | None = None
    # How the sender checked in (Participation.checkin_*, issue 21): the reviewer sees a
    # "location unverified" check-in as the host does. None: no check-in on record.
    checkin: CheckinMark | None = None

    @property
    def can_ask_again(self) -> bool:
        return self.evidence.attempt < self.max_attempts


@dataclass(frozen=True)
class CheckItem:
    """What the verification job needs to check one photo."""

    evidence_id: int
    user_id: int
    file_id: str
    as_document: bool
    named_format: str | None
    starts_at: datetime
    ends_at: datetime
    lat: float
    lon: float
    mission_title: str
    evidence_rule: str
    proof_word: str | None = None
    checked_in_at: datetime | None = None
    meeting_id: int = 0
    # Issue 21: a video's checks (verification/video.py) read its kind and when it was sent.
    media_kind: str = "photo"
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ReviewQueue:
    """The oldest photos waiting for a decision, and how many wait in all."""

    views: list[ReviewView]
    total: int


@dataclass(frozen=True)
class Decision:
    """A press's outcome; `first` is False when another admin had decided already (then
    `status` and `view` show their decision, and nothing was changed)."""

    status: str
    points: int
    balance: int
    view: ReviewView
    first: bool = True
    # Not first, but this admin's own decision on record, pressed again (a redelivered press or
    # a double tap): nothing to refuse.
    repeat: bool = False


@dataclass
class CheckResult:
    storage_key: str | None
    phash: str | None
    taken_at: datetime | None
    lat: float | None
    lon: float | None
    signals: dict[str, Any]
    flags: list[str] = field(default_factory=list)
    ai_verdict: str | None = None
    ai_reason: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Copy:
    """What makes a photo a copy: the same as approved photo `of` ("approved", `distance` bits
    apart, 0 for the same bytes), or the same bytes as the sender's photo `of` that was not
    accepted ("repeat")."""

    why: str
    of: int
    distance: int = 0


# --------------------------------------------------------------------------- intake


async def _own_evidence(session: AsyncSession, meeting_id: int, user_id: int) -> list[Evidence]:
    rows = await session.scalars(
        select(Evidence).where(Evidence.meeting_id == meeting_id, Evidence.user_id == user_id)
    )
    return list(rows)


def _tries(photos: list[Evidence]) -> int:
    """The tries these photos used: a copy refused by the checks uses none."""
    return sum(1 for p in photos if not is_copy(p))


def _standing(photos: list[Evidence], rules: EvidenceRules) -> str:
    """ "open" when a photo may be sent, else why not: approved, in_review or no_tries."""
    if any(p.status == APPROVED for p in photos):
        return APPROVED
    if any(p.status in IN_FLIGHT for p in photos):
        return IN_REVIEW
    return "no_tries" if _tries(photos) >= rules.max_attempts else "open"


async def pending_meetups(
    session: AsyncSession, user_id: int, now: datetime, rules: EvidenceRules
) -> Pending:
    """Meetups the person checked in to (from check-in on, whether or not they have started)
    that still wait for their photo."""
    ids = await session.scalars(
        select(Meeting.id)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(
            Participation.user_id == user_id,
            Participation.checked_in_at.is_not(None),
            Participation.checked_in_at <= now,
            Meeting.status != "cancelled",
            Meeting.ends_at >= now - rules.window_after,
        )
        .order_by(Meeting.starts_at.desc())
    )
    waiting: list[meetings.MeetupView] = []
    in_review = no_tries = 0
    for meeting_id in list(ids):
        standing = _standing(await _own_evidence(session, meeting_id, user_id), rules)
        if standing == "open" and await _appeal_waits(session, meeting_id, user_id):
            standing = IN_REVIEW
        if standing == "open":
            waiting.append(await meetings.view(session, meeting_id))
        elif standing == IN_REVIEW:
            in_review += 1
        elif standing == "no_tries":
            no_tries += 1
    return Pending(waiting, in_review, no_tries)


async def _appeal_waits(session: AsyncSession, meeting_id: int, user_id: int) -> bool:
    """Whether an appeal of one of the person's photos for this meetup waits for a decision:
    the meetup takes no new photo from them meanwhile (issue 23), so both never pay."""
    found = await session.scalar(
        select(Appeal.id)
        .join(Evidence, Evidence.id == Appeal.evidence_id)
        .where(
            Evidence.meeting_id == meeting_id,
            Evidence.user_id == user_id,
            Appeal.status == "pending",
        )
    )
    return found is not None


async def submit(
    session: AsyncSession,
    *,
    user_id: int,
    meeting_id: int,
    upload: Upload,
    now: datetime,
    rules: EvidenceRules,
) -> Evidence:
    """Records a photo for the verification job; raises when this meetup takes none now, or
    when the person may not act (deleted, banned, suspended)."""
    await require_may_act(session, user_id, now, "photo")
    earlier = await _same_message(session, user_id, upload)
    if earlier is not None:
        return earlier  # this message was taken in already (handled twice)
    # Locks the person's seat (PostgreSQL; SQLite serialises writers): two photos sent at
    # once are counted one after the other.
    mine = await session.scalar(
        select(Participation)
        .where(Participation.meeting_id == meeting_id, Participation.user_id == user_id)
        .with_for_update()
    )
    meeting = await session.get(Meeting, meeting_id)
    if (
        mine is None
        or meeting is None
        or meeting.status == "cancelled"
        or meeting.ends_at < now - rules.window_after
    ):
        raise NothingPending("none")
    if mine.checked_in_at is None or mine.checked_in_at > now:
        if mine.status != meetings.JOINED:
            raise NothingPending("none")
        raise _not_checked_in(meeting, user_id, now, rules)
    photos = await _own_evidence(session, meeting_id, user_id)
    standing = _standing(photos, rules)
    if standing != "open":
        raise NothingPending(standing)
    if await _appeal_waits(session, meeting_id, user_id):  # being looked at again (issue 23)
        raise NothingPending(IN_REVIEW)
    seen = await session.scalar(
        select(Evidence.id).where(
            Evidence.user_id == user_id, Evidence.file_unique_id == upload.file_unique_id
        )
    )
    if seen is not None:
        raise SamePhoto
    signals: dict[str, Any] = {}
    if upload.named_format:
        signals["named_format"] = upload.named_format
    if upload.message_id is not None:
        signals[MESSAGE_ID] = upload.message_id
    evidence = Evidence(
        participation_id=mine.id, meeting_id=meeting_id, user_id=user_id,
        file_id=upload.file_id, file_unique_id=upload.file_unique_id,
        as_document=upload.as_document, media_kind=upload.media_kind, flags=[], signals=signals,
        attempt=_tries(photos) + 1, status=RECEIVED, submitted_at=now,
    )  # fmt: skip
    session.add(evidence)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same file, sent twice at the same moment
        raise SamePhoto from exc
    return evidence


async def _same_message(session: AsyncSession, user_id: int, upload: Upload) -> Evidence | None:
    """The photo this very message already gave (the message handled a second time), or None.
    A file sent again in a new message is not this: it is refused as `SamePhoto`."""
    if upload.message_id is None:
        return None
    found = await session.scalar(
        select(Evidence).where(
            Evidence.user_id == user_id, Evidence.file_unique_id == upload.file_unique_id
        )
    )
    if found is None or (found.signals or {}).get(MESSAGE_ID) != upload.message_id:
        return None
    return found


def _not_checked_in(
    meeting: Meeting, user_id: int, now: datetime, rules: EvidenceRules
) -> NotCheckedIn:
    """Why a seat in `meeting` takes no photo yet, with what the person can do about it."""
    opens = meeting.starts_at - rules.checkin_opens_before
    closes = meeting.starts_at + rules.checkin_closes_after
    reason = "early" if now < opens else "open" if now <= closes else "missed"
    return NotCheckedIn(
        reason, starts_at=meeting.starts_at, opens_at=opens, host=meeting.host_id == user_id
    )


async def _unchecked_seat(
    session: AsyncSession, user_id: int, now: datetime, rules: EvidenceRules
) -> NotCheckedIn | None:
    """When a person with no meetup waiting for their photo holds a seat (or hosts) one they
    have not checked in to, the refusal that tells them how and when: the meetup whose
    check-in is open first, else the next one, else the latest one they missed."""
    rows = await session.scalars(
        select(Meeting)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(
            Participation.user_id == user_id,
            Participation.status == meetings.JOINED,
            Participation.checked_in_at.is_(None),
            Meeting.status != "cancelled",
            Meeting.ends_at >= now - rules.window_after,
        )
        .order_by(Meeting.starts_at)
    )
    found = [_not_checked_in(m, user_id, now, rules) for m in rows]
    for reason in ("open", "early"):
        for refusal in found:
            if refusal.reason.removeprefix("host_") == reason:
                return refusal
    return found[-1] if found else None


async def _nothing_waiting(
    session: AsyncSession, user_id: int, now: datetime, rules: EvidenceRules, pending: Pending
) -> DomainError:
    """Why no meetup takes this person's photo now, as the refusal to tell them."""
    if pending.in_review:
        return NothingPending(IN_REVIEW)
    if pending.no_tries:
        return NothingPending("no_tries")
    return await _unchecked_seat(session, user_id, now, rules) or NothingPending("no_meetup")


async def receive(
    session: AsyncSession,
    *,
    user_id: int,
    upload: Upload,
    now: datetime,
    rules: EvidenceRules,
    meeting_id: int | None = None,
) -> Received:
    """A photo in the private chat: submitted for `meeting_id` (the person's pick), or for the
    one meetup waiting for it; with several waiting, returns them to choose from.

    Raises `NothingPending` ("in_review", "no_tries" or "no_meetup") when no meetup waits,
    `NotCheckedIn` when the person holds a seat they have not checked in to (saying how and
    when), and whatever `submit` raises (first of all: a person who may not act is refused).
    The same message handled again returns what it gave the first time (`repeat`).
    """
    await require_may_act(session, user_id, now, "photo")
    earlier = await _same_message(session, user_id, upload)
    if earlier is not None:
        return Received(meetup=await meetings.view(session, earlier.meeting_id), repeat=True)
    if meeting_id is None:
        pending = await pending_meetups(session, user_id, now, rules)
        if len(pending.meetups) > 1:
            return Received(choices=pending.meetups)
        if not pending.meetups:
            raise await _nothing_waiting(session, user_id, now, rules, pending)
        meeting_id = pending.meetups[0].meeting.id
    await submit(
        session, user_id=user_id, meeting_id=meeting_id, upload=upload, now=now, rules=rules
    )
    return Received(meetup=await meetings.view(session, meeting_id))


# --------------------------------------------------------------------------- checking


async def claim_for_checking(session: AsyncSession, now: datetime, limit: int = 5) -> list[int]:
    """Claims received photos (and ones a dead worker left) for checking."""
    due = (Evidence.status == RECEIVED) | (
        (Evidence.status == CHECKING) & (Evidence.submitted_at < now - STALE_CHECK)
    )
    ids = list(
        await session.scalars(select(Evidence.id).where(due).order_by(Evidence.id).limit(limit))
    )
    claimed = []
    for evidence_id in ids:
        result = await session.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id, due)
            .values(status=CHECKING)
            .returning(Evidence.id)
        )
        if result.first() is not None:
            claimed.append(evidence_id)
    return claimed


async def check_item(session: AsyncSession, evidence_id: int) -> CheckItem:
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    view = await meetings.view(session, evidence.meeting_id)
    meeting, mission = view.meeting, view.mission
    named = (evidence.signals or {}).get("named_format")
    mine = await session.get(Participation, evidence.participation_id)
    return CheckItem(
        evidence_id=evidence.id, user_id=evidence.user_id, file_id=evidence.file_id,
        as_document=evidence.as_document, named_format=named if isinstance(named, str) else None,
        starts_at=meeting.starts_at, ends_at=meeting.ends_at,
        lat=meeting.place_lat, lon=meeting.place_lon,
        mission_title=mission.title_en, evidence_rule=mission.evidence_rule_en,
        proof_word=mine.proof_word if mine else None,
        checked_in_at=mine.checked_in_at if mine else None, meeting_id=meeting.id,
        media_kind=evidence.media_kind, submitted_at=evidence.submitted_at,
    )  # fmt: skip


async def release(session: AsyncSession, evidence_id: int) -> None:
    """Puts a claimed photo back (the download failed for a passing reason)."""
    await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == CHECKING)
        .values(status=RECEIVED)
    )


async def hold_for_storage(session: AsyncSession, evidence_id: int, now: datetime) -> None:
    """Puts a photo back because the photo store failed, and tells its sender once that it is
    safe and only delayed (so they do not send it again)."""
    await release(session, evidence_id)
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        return
    await outbox.enqueue(
        session, key=f"evidence_delayed:{evidence_id}", chat_id=evidence.user_id,
        kind="evidence_delayed", values={"meeting_id": evidence.meeting_id}, now=now,
    )  # fmt: skip


async def record_checks(session: AsyncSession, evidence_id: int, result: CheckResult) -> bool:
    """Stores what the checks found and queues the photo for review (once)."""
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        return False
    signals = {**(evidence.signals or {}), **result.signals}
    done = await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == CHECKING)
        .values(
            status=IN_REVIEW,
            storage_key=result.storage_key,
            phash=result.phash,
            sha256=result.sha256,
            exif_taken_at=result.taken_at,
            exif_lat=result.lat,
            exif_lon=result.lon,
            signals=signals,
            flags=result.flags,
            ai_verdict=result.ai_verdict,
            ai_reason=result.ai_reason,
        )
        .returning(Evidence.id)
    )
    return done.first() is not None


async def find_copy(
    session: AsyncSession, evidence_id: int, sha256: str, twins: list[tuple[int, int]]
) -> Copy | None:
    """Whether the photo whose bytes hash to `sha256` is a copy: of an approved photo (the same
    bytes, or one of `twins`, (evidence id, bits apart) found in the duplicate index, within
    `TWIN` bits), else of a photo of the same sender that was not accepted (the same bytes)."""
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    approved = await session.scalar(
        select(Evidence.id)
        .where(Evidence.sha256 == sha256, Evidence.status == APPROVED, Evidence.id != evidence_id)
        .order_by(Evidence.id)
        .limit(1)
    )
    if approved is not None:
        return Copy(APPROVED, int(approved), 0)
    close = {i: d for i, d in twins if d <= TWIN and i != evidence_id}
    if close:
        shown = await session.scalars(
            select(Evidence.id).where(Evidence.id.in_(close), Evidence.status == APPROVED)
        )
        nearest = sorted((close[int(i)], int(i)) for i in shown)
        if nearest:
            return Copy(APPROVED, nearest[0][1], nearest[0][0])
    refused = await session.scalar(
        select(Evidence.id)
        .where(
            Evidence.user_id == evidence.user_id,
            Evidence.sha256 == sha256,
            Evidence.status.in_((REJECTED, RETRY)),
            Evidence.id != evidence_id,
        )
        .order_by(Evidence.id)
        .limit(1)
    )
    return Copy("repeat", int(refused)) if refused is not None else None


async def refuse_copy(
    session: AsyncSession,
    evidence_id: int,
    copy: Copy,
    *,
    sha256: str,
    phash: str | None,
    now: datetime,
    rules: EvidenceRules,
) -> bool:
    """Refuses a photo being checked as a copy (no reviewer needed): it goes to "retry" with
    the `COPY` signal, uses no try, and its sender is told why. False when it was not being
    checked any more (another worker finished it)."""
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        return False
    signals = {
        **(evidence.signals or {}),
        COPY: {"why": copy.why, "of": copy.of, "distance": copy.distance},
    }
    done = await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == CHECKING)
        .values(status=RETRY, sha256=sha256, phash=phash, signals=signals, flags=[COPY])
        .returning(Evidence.id)
    )
    if done.first() is None:
        return False
    photos = await _own_evidence(session, evidence.meeting_id, evidence.user_id)
    kind: outbox.NoticeKind = "evidence_copy" if copy.why == APPROVED else "evidence_repeat"
    await outbox.enqueue(
        session, key=f"evidence_outcome:{evidence_id}", chat_id=evidence.user_id, kind=kind,
        values={"meeting_id": evidence.meeting_id,
                "left": max(0, rules.max_attempts - _tries(photos))},
        now=now,
    )  # fmt: skip
    return True


async def phashes_after(
    session: AsyncSession, after_id: int, limit: int = 200_000
) -> list[tuple[int, str]]:
    """Hashed photos with ids above `after_id`, in id order (loading the duplicate index)."""
    rows = await session.execute(
        select(Evidence.id, Evidence.phash)
        .where(Evidence.id > after_id, Evidence.phash.is_not(None))
        .order_by(Evidence.id)
        .limit(limit)
    )
    return [(int(i), str(h)) for i, h in rows]


async def unhashed_up_to(session: AsyncSession, up_to_id: int) -> list[int]:
    """Photos at or below an id still waiting for their hash (the index checks them later)."""
    rows = await session.scalars(
        select(Evidence.id).where(
            Evidence.id <= up_to_id, Evidence.status.in_((RECEIVED, CHECKING))
        )
    )
    return [int(i) for i in rows]


async def phashes_of(session: AsyncSession, ids: list[int]) -> list[tuple[int, str]]:
    if not ids:
        return []
    rows = await session.execute(
        select(Evidence.id, Evidence.phash).where(Evidence.id.in_(ids), Evidence.phash.is_not(None))
    )
    return [(int(i), str(h)) for i, h in rows]


async def senders(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """Who sent each of these photos (for "a duplicate of someone else's photo")."""
    if not ids:
        return {}
    rows = await session.execute(select(Evidence.id, Evidence.user_id).where(Evidence.id.in_(ids)))
    return {int(i): int(u) for i, u in rows}


# --------------------------------------------------------------------------- review cards


async def cards_due(session: AsyncSession, limit: int = 10) -> list[int]:
    rows = await session.scalars(
        select(Evidence.id)
        .where(Evidence.status == IN_REVIEW, Evidence.review_chat_id.is_(None))
        .order_by(Evidence.id)
        .limit(limit)
    )
    return list(rows)


async def queue_card(
    session: AsyncSession, evidence_id: int, chat_id: int, max_attempts: int, now: datetime
) -> bool:
    """Queues the photo's review card for the admin group in the outbox (kind `review_card`,
    drawn when sent), claimed on the row in the same transaction so it is queued once; where
    it went is recorded on the row when sent (`outbox.REVIEW_CARD`). False: queued already."""
    result = await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.review_chat_id.is_(None))
        .values(review_chat_id=chat_id)
        .returning(Evidence.id)
    )
    if result.first() is None:
        return False
    await outbox.enqueue(
        session, key=f"{outbox.REVIEW_CARD}{evidence_id}", chat_id=chat_id, kind="review_card",
        values={"evidence_id": evidence_id, "max_attempts": max_attempts}, now=now,
    )  # fmt: skip
    return True


async def review_view(session: AsyncSession, evidence_id: int, max_attempts: int) -> ReviewView:
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    sender = await session.get(User, evidence.user_id)
    decision = await session.scalar(select(Review).where(Review.evidence_id == evidence_id))
    reviewer = await session.get(User, decision.reviewer_id) if decision else None
    seat = await session.get(Participation, evidence.participation_id)
    presence = None
    if seat is not None and seat.checked_in_at is not None:
        presence = CheckinMark(seat.checkin_method, seat.checkin_location, seat.checkin_distance_m)
    return ReviewView(
        evidence=evidence,
        meetup=await meetings.view(session, evidence.meeting_id),
        sender_name=sender.display_name if sender else "",
        trust_score=sender.trust_score if sender else 0.0,
        max_attempts=max_attempts,
        decision=decision,
        reviewer_name=(reviewer.display_name if reviewer else "") or "",
        proof_word=await proof_words.word_of(session, evidence.participation_id),
        checkin=presence,
    )


async def require_admin(session: AsyncSession, user_id: int, reason: str = "") -> User:
    """The user when they may act as an admin now; else `NotAdmin(reason)` ("review": on a
    review card, "command": an admin command)."""
    user = await users.acting_admin(session, user_id)
    if user is None:
        raise NotAdmin(reason)
    return user


async def review_for_admin(
    session: AsyncSession, admin_id: int, evidence_id: int, max_attempts: int
) -> ReviewView:
    """A card's photo, for an admin pressing one of its buttons (one who may judge it)."""
    await require_admin(session, admin_id, "review")
    view = await review_view(session, evidence_id, max_attempts)
    await ensure_impartial(session, view.evidence, admin_id)
    return view


def _attended_by(user_id: int) -> ColumnElement[bool]:
    """Evidence of meetups `user_id` hosted, holds a seat in, or checked in to."""
    seats = select(Participation.meeting_id).where(
        Participation.user_id == user_id,
        or_(Participation.status == meetings.JOINED, Participation.checked_in_at.is_not(None)),
    )
    hosted = select(Meeting.id).where(Meeting.host_id == user_id)
    return or_(Evidence.meeting_id.in_(seats), Evidence.meeting_id.in_(hosted))


async def ensure_impartial(session: AsyncSession, evidence: Evidence, reviewer_id: int) -> None:
    """Nobody judges their own evidence (`NotImpartial("own")`) or that of a meetup they
    hosted, hold a seat in or checked in to (`NotImpartial("attended")`)."""
    if evidence.user_id == reviewer_id:
        raise NotImpartial("own")
    attended = await session.scalar(
        select(Evidence.id).where(Evidence.id == evidence.id, _attended_by(reviewer_id))
    )
    if attended is not None:
        raise NotImpartial("attended")


async def review_queue(
    session: AsyncSession, admin_id: int, max_attempts: int, limit: int = 5
) -> ReviewQueue:
    """`/review`: the oldest photos waiting for this admin's decision (not their own, nor of a
    meetup they attended), and how many wait in all for them."""
    await require_admin(session, admin_id, "command")
    theirs = (
        (Evidence.status == IN_REVIEW) & (Evidence.user_id != admin_id) & ~_attended_by(admin_id)
    )
    total = int(await session.scalar(select(func.count()).select_from(Evidence).where(theirs)) or 0)
    ids = await session.scalars(
        select(Evidence.id).where(theirs).order_by(Evidence.id).limit(limit)
    )
    return ReviewQueue([await review_view(session, i, max_attempts) for i in list(ids)], total)


# --------------------------------------------------------------------------- decisions


async def decide(
    session: AsyncSession,
    *,
    evidence_id: int,
    reviewer_id: int,
    action: str,
    reason: str | None,
    now: datetime,
    rules: EvidenceRules,
) -> Decision:
    """An admin's decision; the first one wins, approval pays once, the sender is told.

    Refused with `NotImpartial` for an admin's own photo or one of a meetup they attended,
    and (approving) with `CopyOfApproved` for a copy of a photo already approved."""
    if action not in (APPROVE, REJECT, ASK_AGAIN) or (action == REJECT and reason not in REASONS):
        raise ValueError("unknown decision")
    await require_admin(session, reviewer_id, "review")
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    await ensure_impartial(session, evidence, reviewer_id)
    if action == ASK_AGAIN and evidence.attempt >= rules.max_attempts:
        raise NoTriesLeft
    if action == APPROVE and evidence.status == IN_REVIEW:
        await _take_approval_turn(session)
        if await approved_twin(session, evidence) is not None:
            raise CopyOfApproved
    status = {APPROVE: APPROVED, REJECT: REJECTED, ASK_AGAIN: RETRY}[action]
    # The guard: only a photo still waiting is decided; a second press changes no row. The
    # same bytes approved already make the UPDATE fail (uq_evidence_sha256_approved).
    try:
        async with session.begin_nested():
            changed = await session.execute(
                update(Evidence)
                .where(Evidence.id == evidence_id, Evidence.status == IN_REVIEW)
                .values(status=status)
                .returning(Evidence.id)
            )
            decided = changed.first() is not None
    except IntegrityError as exc:
        raise CopyOfApproved from exc
    if not decided:
        await session.refresh(evidence, ["status"])
        if evidence.status in (RECEIVED, CHECKING):
            raise NotReady
        raise AlreadyDecided(evidence.status)
    review = Review(
        evidence_id=evidence_id, reviewer_id=reviewer_id,
        decision=APPROVED if action == APPROVE else REJECTED,
        reason=reason if action == REJECT else ("ask_again" if action == ASK_AGAIN else None),
        decided_at=now,
    )  # fmt: skip
    session.add(review)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise AlreadyDecided(status) from exc
    # Trust and milestones follow the decision at once (issue 23): the join and host gates
    # read the stored score, and a badge this approval earns is not left to the meetup's
    # close, which may have passed already. Before the card's view, which shows the score.
    if status in (APPROVED, REJECTED):
        await trust.recompute(session, evidence.user_id)
    if status == APPROVED:
        await progress.award_badges(session, evidence.user_id, now)
    view = await review_view(session, evidence_id, rules.max_attempts)
    points = view.meetup.mission.points if action == APPROVE else 0
    balance = 0
    if points > 0:
        await ledger.post(
            session, user_id=evidence.user_id, amount=points, kind=ledger.REWARD,
            reference=f"evidence:{evidence_id}", now=now, actor_id=reviewer_id,
        )  # fmt: skip
    if action == APPROVE:  # the balance the notice tells, points or none (issue 23)
        balance = await ledger.balance(session, evidence.user_id)
    left = rules.max_attempts - evidence.attempt
    kind, values = _outcome_notice(action, reason, left, points, balance)
    if status == REJECTED:  # its notice carries the appeal button (issue 23)
        values["evidence_id"] = evidence_id
    await outbox.enqueue(
        session, key=f"evidence_outcome:{evidence_id}", chat_id=evidence.user_id, kind=kind,
        values={"meeting_id": evidence.meeting_id, **values}, now=now,
    )  # fmt: skip
    return Decision(status, points, balance, view)


async def _take_approval_turn(session: AsyncSession) -> None:
    """Approvals take turns until the transaction ends (PostgreSQL; SQLite's write
    transactions already do), so each one sees the approvals before it."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPROVAL_LOCK})


async def approved_twin(session: AsyncSession, evidence: Evidence) -> int | None:
    """An approved photo with the same bytes as `evidence`, or a picture within `TWIN` bits of
    it: its id, or None. (Hashes within 2 bits share at least one of their four 16-bit bands
    exactly, so only approved photos sharing a band are compared.)"""
    if evidence.sha256:
        same = await session.scalar(
            select(Evidence.id).where(
                Evidence.sha256 == evidence.sha256,
                Evidence.status == APPROVED,
                Evidence.id != evidence.id,
            )
        )
        if same is not None:
            return int(same)
    try:
        mine = int(evidence.phash or "", 16)
    except ValueError:
        return None
    phash = str(evidence.phash)
    bands = [
        func.substr(Evidence.phash, 1 + 4 * i, 4) == phash[4 * i : 4 * i + 4] for i in range(4)
    ]
    rows = await session.execute(
        select(Evidence.id, Evidence.phash).where(
            Evidence.status == APPROVED, Evidence.id != evidence.id, or_(*bands)
        )
    )
    for other_id, other in rows:
        try:
            if (int(str(other), 16) ^ mine).bit_count() <= TWIN:
                return int(other_id)
        except ValueError:
            continue
    return None


def _same_decision(
    decision: Review | None, reviewer_id: int, action: str, reason: str | None
) -> bool:
    """Whether the decision on record is this admin's press of this very button."""
    if decision is None or decision.reviewer_id != reviewer_id:
        return False
    recorded = {
        APPROVE: (APPROVED, None),
        REJECT: (REJECTED, reason),
        ASK_AGAIN: (REJECTED, "ask_again"),
    }[action]
    return (decision.decision, decision.reason) == recorded


def _outcome_notice(
    action: str, reason: str | None, left: int, points: int, balance: int
) -> tuple[outbox.NoticeKind, dict[str, Any]]:
    """What the sender is told of a decision, with `left` tries to go."""
    if action == APPROVE:
        return "evidence_approved", {"points": points, "balance": balance}
    if left <= 0:
        return "evidence_rejected_final", {"reason": reason}
    if action == REJECT:
        return "evidence_rejected", {"reason": reason, "left": left}
    return "evidence_again", {"left": left}


async def decide_or_show(
    session: AsyncSession,
    *,
    evidence_id: int,
    reviewer_id: int,
    action: str,
    reason: str | None,
    now: datetime,
    rules: EvidenceRules,
) -> Decision:
    """An admin's press on a card: their decision when it came first (`decide`), else the
    decision another admin made, unchanged (`first` False), so the card can show it."""
    try:
        async with session.begin_nested():
            return await decide(
                session, evidence_id=evidence_id, reviewer_id=reviewer_id, action=action,
                reason=reason, now=now, rules=rules,
            )  # fmt: skip
    except AlreadyDecided:
        view = await review_view(session, evidence_id, rules.max_attempts)
        repeat = _same_decision(view.decision, reviewer_id, action, reason)
        return Decision(view.evidence.status, 0, 0, view, first=False, repeat=repeat)
