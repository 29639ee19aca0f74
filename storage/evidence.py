"""Photo evidence (steps 5 and 6): intake, the verification job's claims, admin decisions.

A checked-in participant may send a photo for a meetup that has started, until some hours
after it ended, while no photo of theirs for it is approved or still being looked at, within a
number of tries. Each state change is a guarded UPDATE (`WHERE status = …`), so two workers
never check one photo and two admins pressing at once give one decision: the second finds the
status changed (and the review unique per evidence backs that up). Approval pays through the
ledger with reference `evidence:<id>`, so nothing can pay twice. Notices to the sender go to
the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import ledger, meetings, outbox, proof_words, users
from storage.accounts import require_may_act
from storage.errors import (
    AlreadyDecided,
    EvidenceNotFound,
    NotAdmin,
    NothingPending,
    NotReady,
    NoTriesLeft,
    SamePhoto,
)
from storage.models import (
    EVIDENCE_MEDIA,
    EVIDENCE_STATUSES,
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


@dataclass(frozen=True)
class EvidenceRules:
    max_attempts: int = 3
    window_after: timedelta = timedelta(hours=48)

    @classmethod
    def from_settings(cls, settings: RuleSettings) -> EvidenceRules:
        return cls(
            max_attempts=settings.evidence_max_attempts,
            window_after=timedelta(hours=settings.evidence_window_hours),
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


# --------------------------------------------------------------------------- intake


async def _own_evidence(session: AsyncSession, meeting_id: int, user_id: int) -> list[Evidence]:
    rows = await session.scalars(
        select(Evidence).where(Evidence.meeting_id == meeting_id, Evidence.user_id == user_id)
    )
    return list(rows)


def _standing(photos: list[Evidence], rules: EvidenceRules) -> str:
    """ "open" when a photo may be sent, else why not: approved, in_review or no_tries."""
    if any(p.status == APPROVED for p in photos):
        return APPROVED
    if any(p.status in IN_FLIGHT for p in photos):
        return IN_REVIEW
    return "no_tries" if len(photos) >= rules.max_attempts else "open"


async def pending_meetups(
    session: AsyncSession, user_id: int, now: datetime, rules: EvidenceRules
) -> Pending:
    """Meetups the person checked in to that have started and still wait for their photo."""
    ids = await session.scalars(
        select(Meeting.id)
        .join(Participation, Participation.meeting_id == Meeting.id)
        .where(
            Participation.user_id == user_id,
            Participation.checked_in_at.is_not(None),
            Meeting.status != "cancelled",
            Meeting.starts_at <= now,
            Meeting.ends_at >= now - rules.window_after,
        )
        .order_by(Meeting.starts_at.desc())
    )
    waiting: list[meetings.MeetupView] = []
    in_review = no_tries = 0
    for meeting_id in list(ids):
        standing = _standing(await _own_evidence(session, meeting_id, user_id), rules)
        if standing == "open":
            waiting.append(await meetings.view(session, meeting_id))
        elif standing == IN_REVIEW:
            in_review += 1
        elif standing == "no_tries":
            no_tries += 1
    return Pending(waiting, in_review, no_tries)


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
        or mine.checked_in_at is None
        or meeting is None
        or meeting.status == "cancelled"
        or meeting.starts_at > now
        or meeting.ends_at < now - rules.window_after
    ):
        raise NothingPending("none")
    photos = await _own_evidence(session, meeting_id, user_id)
    standing = _standing(photos, rules)
    if standing != "open":
        raise NothingPending(standing)
    seen = await session.scalar(
        select(Evidence.id).where(
            Evidence.user_id == user_id, Evidence.file_unique_id == upload.file_unique_id
        )
    )
    if seen is not None:
        raise SamePhoto
    evidence = Evidence(
        participation_id=mine.id, meeting_id=meeting_id, user_id=user_id,
        file_id=upload.file_id, file_unique_id=upload.file_unique_id,
        as_document=upload.as_document, media_kind=upload.media_kind, flags=[],
        signals={"named_format": upload.named_format} if upload.named_format else {},
        attempt=len(photos) + 1, status=RECEIVED, submitted_at=now,
    )  # fmt: skip
    session.add(evidence)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same file, sent twice at the same moment
        raise SamePhoto from exc
    return evidence


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
    and whatever `submit` raises (first of all: a person who may not act is refused).
    """
    await require_may_act(session, user_id, now, "photo")
    if meeting_id is None:
        pending = await pending_meetups(session, user_id, now, rules)
        if len(pending.meetups) > 1:
            return Received(choices=pending.meetups)
        if not pending.meetups:
            why = (
                IN_REVIEW if pending.in_review else "no_tries" if pending.no_tries else "no_meetup"
            )
            raise NothingPending(why)
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


async def claim_card(session: AsyncSession, evidence_id: int, chat_id: int) -> bool:
    """Claims posting this photo's card, so two workers never post it twice."""
    result = await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.review_chat_id.is_(None))
        .values(review_chat_id=chat_id)
        .returning(Evidence.id)
    )
    return result.first() is not None


async def card_posted(session: AsyncSession, evidence_id: int, message_id: int | None) -> None:
    """Records the card's message (None: the post failed and is tried again)."""
    values: dict[str, Any] = {"review_message_id": message_id}
    if message_id is None:
        values["review_chat_id"] = None
    await session.execute(update(Evidence).where(Evidence.id == evidence_id).values(**values))


async def review_view(session: AsyncSession, evidence_id: int, max_attempts: int) -> ReviewView:
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    sender = await session.get(User, evidence.user_id)
    decision = await session.scalar(select(Review).where(Review.evidence_id == evidence_id))
    reviewer = await session.get(User, decision.reviewer_id) if decision else None
    return ReviewView(
        evidence=evidence,
        meetup=await meetings.view(session, evidence.meeting_id),
        sender_name=sender.display_name if sender else "",
        trust_score=sender.trust_score if sender else 0.0,
        max_attempts=max_attempts,
        decision=decision,
        reviewer_name=(reviewer.display_name if reviewer else "") or "",
        proof_word=await proof_words.word_of(session, evidence.participation_id),
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
    """A card's photo, for an admin pressing one of its buttons."""
    await require_admin(session, admin_id, "review")
    return await review_view(session, evidence_id, max_attempts)


async def review_queue(
    session: AsyncSession, admin_id: int, max_attempts: int, limit: int = 5
) -> ReviewQueue:
    """`/review`: the oldest photos waiting for a decision, and how many wait in all."""
    await require_admin(session, admin_id, "command")
    total = int(
        await session.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.status == IN_REVIEW)
        )
        or 0
    )
    ids = await session.scalars(
        select(Evidence.id).where(Evidence.status == IN_REVIEW).order_by(Evidence.id).limit(limit)
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
    """An admin's decision; the first one wins, approval pays once, the sender is told."""
    if action not in (APPROVE, REJECT, ASK_AGAIN) or (action == REJECT and reason not in REASONS):
        raise ValueError("unknown decision")
    await require_admin(session, reviewer_id, "review")
    evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise EvidenceNotFound
    if action == ASK_AGAIN and evidence.attempt >= rules.max_attempts:
        raise NoTriesLeft
    status = {APPROVE: APPROVED, REJECT: REJECTED, ASK_AGAIN: RETRY}[action]
    # The guard: only a photo still waiting is decided; a second press changes no row.
    changed = await session.execute(
        update(Evidence)
        .where(Evidence.id == evidence_id, Evidence.status == IN_REVIEW)
        .values(status=status)
        .returning(Evidence.id)
    )
    if changed.first() is None:
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
    view = await review_view(session, evidence_id, rules.max_attempts)
    points = view.meetup.mission.points if action == APPROVE else 0
    balance = 0
    if points > 0:
        await ledger.post(
            session, user_id=evidence.user_id, amount=points, kind=ledger.REWARD,
            reference=f"evidence:{evidence_id}", now=now, actor_id=reviewer_id,
        )  # fmt: skip
        balance = await ledger.balance(session, evidence.user_id)
    left = rules.max_attempts - evidence.attempt
    kind, values = _outcome_notice(action, reason, left, points, balance)
    await outbox.enqueue(
        session, key=f"evidence_outcome:{evidence_id}", chat_id=evidence.user_id, kind=kind,
        values={"meeting_id": evidence.meeting_id, **values}, now=now,
    )  # fmt: skip
    return Decision(status, points, balance, view)


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
        return Decision(view.evidence.status, 0, 0, view, first=False)
