"""An appeal, once (issue 23): the sender of a rejected photo asks a second admin to look again.

Only the sender may appeal, once per photo, with a short reason, while the photo is kept
(`photo_retention_days` after its meetup ended, and not yet deleted by the retention job), and
only a photo an admin rejected (not one approved, still being decided, or "send another"); and
not while another photo of theirs for that meetup is approved or being checked. While the
appeal waits, that meetup takes no new photo from them (`evidence.submit` counts it as being
checked), so an appeal and a new photo never both pay.

A second admin decides: not the one who rejected the photo (`NotImpartial("first_reviewer")`),
nor anyone who may not judge the photo at all (`evidence.ensure_impartial`). The decision is
final. It is one guarded UPDATE (`WHERE status = 'pending'`): two admins pressing at once, or
one pressing twice, give one decision; the same admin's press handled again is recognised as
the decision it made. An approval turns the photo approved and pays through the ledger exactly
as a normal approval (reference `evidence:<id>`, which also cannot pay twice); the sender is
told the outcome through the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import evidence, ledger, outbox, progress, trust
from storage.accounts import require_may_act
from storage.errors import AppealRefused, CopyOfApproved, NotImpartial
from storage.models import APPEAL_STATUSES, Appeal, Evidence, Meeting, Review, User
from storage.text import clean

PENDING, APPROVED, REJECTED = APPEAL_STATUSES
# How long a reason may be (characters, after cleaning): a short step, not a letter.
MAX_REASON = 300
# The two decisions on an appeal card (the callback's argument).
UPHOLD, OVERTURN = "keep", "approve"


@dataclass(frozen=True)
class AppealView:
    """An appeal card: the photo's review card, and the appeal on it."""

    appeal: Appeal
    review: evidence.ReviewView
    decider_name: str = ""


@dataclass(frozen=True)
class AppealDecision:
    """A press's outcome; `first` False when the appeal was decided already (then nothing
    changed); `repeat` when that decision is this admin's own, pressed again."""

    status: str
    points: int
    balance: int
    view: AppealView
    first: bool = True
    repeat: bool = False


async def _other_photo(session: AsyncSession, item: Evidence) -> bool:
    """Whether another photo of the sender for the same meetup is approved or being checked."""
    found = await session.scalar(
        select(Evidence.id).where(
            Evidence.meeting_id == item.meeting_id,
            Evidence.user_id == item.user_id,
            Evidence.id != item.id,
            Evidence.status.in_((evidence.APPROVED, *evidence.IN_FLIGHT)),
        )
    )
    return found is not None


async def appealable(
    session: AsyncSession, evidence_id: int, user_id: int, now: datetime, retention: timedelta
) -> Evidence:
    """The photo when its sender may appeal it now; else `AppealRefused(why)`."""
    await require_may_act(session, user_id, now, "photo")
    item = await session.get(Evidence, evidence_id)
    if item is None or item.user_id != user_id:
        raise AppealRefused("not_yours")
    if await session.scalar(select(Appeal.id).where(Appeal.evidence_id == evidence_id)):
        raise AppealRefused("once")
    first = await session.scalar(select(Review).where(Review.evidence_id == evidence_id))
    if item.status != evidence.REJECTED or first is None or first.decision != REJECTED:
        raise AppealRefused("not_rejected")
    meeting = await session.get(Meeting, item.meeting_id)
    if item.photo_deleted_at is not None or meeting is None or meeting.ends_at + retention <= now:
        raise AppealRefused("expired")
    if await _other_photo(session, item):
        raise AppealRefused("other_photo")
    return item


async def file(
    session: AsyncSession,
    *,
    evidence_id: int,
    user_id: int,
    reason: str,
    now: datetime,
    retention: timedelta,
) -> Appeal:
    """Files the sender's appeal (once per photo); the reason is cleaned and cut short."""
    item = await appealable(session, evidence_id, user_id, now, retention)
    first = await session.scalar(select(Review).where(Review.evidence_id == item.id))
    assert first is not None  # appealable checked it
    appeal = Appeal(
        evidence_id=item.id, user_id=user_id, reason=clean(reason, MAX_REASON) or "-",
        status=PENDING, first_reviewer_id=first.reviewer_id, created_at=now,
    )  # fmt: skip
    session.add(appeal)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same appeal filed twice at once
        raise AppealRefused("once") from exc
    return appeal


async def file_for_card(
    session: AsyncSession,
    *,
    evidence_id: int,
    user_id: int,
    reason: str,
    now: datetime,
    retention: timedelta,
    admin_chat_id: int | None,
    max_attempts: int,
) -> Appeal:
    """Files the appeal (`file`) and, when an admin group is set, queues its card there in
    the same transaction (kind `appeal_card`, drawn when the outbox sends it; where it went is
    recorded on the appeal, `outbox.APPEAL_CARD`). `/review` shows the appeal either way."""
    appeal = await file(
        session, evidence_id=evidence_id, user_id=user_id, reason=reason, now=now,
        retention=retention,
    )  # fmt: skip
    if admin_chat_id is not None:
        await outbox.enqueue(
            session, key=f"{outbox.APPEAL_CARD}{evidence_id}", chat_id=admin_chat_id,
            kind="appeal_card", values={"evidence_id": evidence_id, "max_attempts": max_attempts},
            now=now,
        )  # fmt: skip
    return appeal


async def view(session: AsyncSession, evidence_id: int, max_attempts: int) -> AppealView:
    appeal = await session.scalar(select(Appeal).where(Appeal.evidence_id == evidence_id))
    if appeal is None:
        raise AppealRefused("none")
    decider = await session.get(User, appeal.reviewer_id) if appeal.reviewer_id else None
    return AppealView(
        appeal,
        await evidence.review_view(session, evidence_id, max_attempts),
        (decider.display_name if decider else "") or "",
    )


async def ensure_may_decide(session: AsyncSession, appeal: Appeal, admin_id: int) -> None:
    """An acting admin who may judge the photo and did not reject it first."""
    await evidence.require_admin(session, admin_id, "review")
    item = await session.get(Evidence, appeal.evidence_id)
    assert item is not None  # an appeal's photo row stays (retention keeps rows)
    await evidence.ensure_impartial(session, item, admin_id)
    if admin_id == appeal.first_reviewer_id:
        raise NotImpartial("first_reviewer")


async def waiting(
    session: AsyncSession, admin_id: int, max_attempts: int, limit: int = 5
) -> tuple[list[AppealView], int]:
    """`/review`: the oldest appeals this admin may decide, and how many wait for them."""
    await evidence.require_admin(session, admin_id, "command")
    theirs = (
        (Appeal.status == PENDING)
        & (Appeal.first_reviewer_id != admin_id)
        & (Appeal.user_id != admin_id)
        & Appeal.evidence_id.not_in(select(Evidence.id).where(evidence._attended_by(admin_id)))
    )
    total = int(await session.scalar(select(func.count()).select_from(Appeal).where(theirs)) or 0)
    ids = await session.scalars(
        select(Appeal.evidence_id).where(theirs).order_by(Appeal.id).limit(limit)
    )
    return [await view(session, int(i), max_attempts) for i in list(ids)], total


async def decide(
    session: AsyncSession,
    *,
    evidence_id: int,
    reviewer_id: int,
    approve: bool,
    now: datetime,
    rules: evidence.EvidenceRules,
) -> AppealDecision:
    """A second admin's final decision on an appeal; the first press wins, an approval pays
    once through the ledger (as a normal approval), the sender is told."""
    appeal = await session.scalar(select(Appeal).where(Appeal.evidence_id == evidence_id))
    if appeal is None:
        await evidence.require_admin(session, reviewer_id, "review")
        raise AppealRefused("none")
    await ensure_may_decide(session, appeal, reviewer_id)
    item = await session.get(Evidence, evidence_id)
    assert item is not None
    status = APPROVED if approve else REJECTED
    if approve and appeal.status == PENDING:
        await evidence._take_approval_turn(session)
        if await evidence.approved_twin(session, item) is not None:
            raise CopyOfApproved
    # The guard: only a waiting appeal is decided; a second press changes no row.
    changed = await session.execute(
        update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.status == PENDING)
        .values(status=status, reviewer_id=reviewer_id, decided_at=now)
        .returning(Appeal.id)
    )
    if changed.first() is None:
        await session.refresh(appeal)
        shown = await view(session, evidence_id, rules.max_attempts)
        repeat = appeal.reviewer_id == reviewer_id and appeal.status == status
        return AppealDecision(appeal.status, 0, 0, shown, first=False, repeat=repeat)
    points = balance = 0
    if approve:
        try:
            async with session.begin_nested():
                await session.execute(
                    update(Evidence)
                    .where(Evidence.id == evidence_id, Evidence.status == evidence.REJECTED)
                    .values(status=evidence.APPROVED)
                )
        except IntegrityError as exc:  # the same bytes approved meanwhile
            raise CopyOfApproved from exc
        await session.refresh(item, ["status"])
        await trust.recompute(session, item.user_id)
        await progress.award_badges(session, item.user_id, now)
    shown = await view(session, evidence_id, rules.max_attempts)
    if approve:
        points = shown.review.meetup.mission.points
        if points > 0:
            await ledger.post(
                session, user_id=item.user_id, amount=points, kind=ledger.REWARD,
                reference=f"evidence:{evidence_id}", now=now, actor_id=reviewer_id,
            )  # fmt: skip
        balance = await ledger.balance(session, item.user_id)  # told even for no points
    await outbox.enqueue(
        session, key=f"appeal_outcome:{evidence_id}", chat_id=item.user_id,
        kind="appeal_approved" if approve else "appeal_rejected",
        values={"meeting_id": item.meeting_id, "points": points, "balance": balance},
        now=now,
    )  # fmt: skip
    return AppealDecision(status, points, balance, shown)
