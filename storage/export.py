"""`/mydata`: everything the service holds about one person, as plain JSON-ready dicts (issue 20,
PIPA's right of access).

One read of every table of the data map (`docs/privacy.md`) that names the person: profile,
neighbourhood, interests, meetups hosted and joined, check-ins, photos sent (what the checks
found and the decision; not the bytes: when each file goes is said instead), points and the
ledger, vouchers (codes in full: they are the person's), ratings given and received, reports
filed, groups set up, notices and updates still kept, an unfinished step's answers, and what
an admin decided. Values are str, int, float, bool, None, lists and dicts only, so the caller
can `json.dumps` them as they are.

Other people appear only as the first name the person saw. Ratings received are anonymised as
they are everywhere: a star count and tags, without the meetup, the time or the rater, sorted
so their order tells nothing either. Reports about the person are not included: they would
point at the reporter (PIPA art. 35(4)); the operator answers for them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.accounts import require_user
from storage.models import (
    Appeal,
    Badge,
    Balance,
    ConversationState,
    Evidence,
    Feedback,
    GatheringTap,
    GroupChat,
    InboxUpdate,
    LedgerEntry,
    MarketItem,
    Meeting,
    Mission,
    OutboxMessage,
    Participation,
    PersistedData,
    Region,
    Report,
    Review,
    User,
    UserBlock,
    VoucherCode,
)

FORMAT = "halsaram-mydata/1"
# Evidence whose decision is made: its file goes `photo_days` after the meetup (retention).
DECIDED = ("approved", "rejected", "retry")

Data = dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def everything(
    session: AsyncSession, user_id: int, now: datetime, *, photo_days: int
) -> Data:
    """The person's data; raises `NotRegistered` (the invitation to sign up) without an
    account. `photo_days` is the photo retention window, to say until when each file stays."""
    user = await require_user(session, user_id)
    names = _Names(session)
    return {
        "format": FORMAT,
        "exported_at": _iso(now),
        "profile": _profile(user),
        "neighbourhood": await _neighbourhood(session, user),
        "interests": list(user.interests),
        "preferred_times": list(user.preferred_times),
        "badges": await _badges(session, user_id),
        "blocked_people": await _blocks(session, user_id, names),
        **await _meetups(session, user_id),
        "photos": await _evidence(session, user_id, photo_days),
        "points": await _points(session, user_id),
        "vouchers": await _vouchers(session, user_id),
        "ratings_given": await _ratings_given(session, user_id, names),
        "ratings_received": await _ratings_received(session, user_id),
        "reports_filed": await _reports(session, user_id, names),
        "appeals": await _appeals(session, user_id),
        "groups_set_up": await _groups(session, user_id),
        "group_post_taps": await _taps(session, user_id),
        "messages": await _messages(session, user_id),
        "as_admin": await _as_admin(session, user_id) if user.is_admin else None,
    }


class _Names:
    """First names of the other people the person met, read once each."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.known: dict[int, str] = {}

    async def of(self, user_id: int) -> str:
        if user_id not in self.known:
            name = await self.session.scalar(select(User.display_name).where(User.id == user_id))
            self.known[user_id] = name or ""
        return self.known[user_id]


def _profile(user: User) -> Data:
    return {
        "telegram_id": user.id,
        "first_name": user.display_name,
        "language": user.language,
        "phone": user.phone_masked,
        "phone_note": "only a protected code and this masked form are kept, never the number",
        "trust_score": user.trust_score,
        "suspended_until": _iso(user.suspended_until),
        "admin": user.is_admin,
        "blocked_the_bot": user.blocked_bot,
        "terms_accepted_at": _iso(user.terms_accepted_at),
        "registered_at": _iso(user.registered_at),
        "first_seen_at": _iso(user.created_at),
    }


async def _neighbourhood(session: AsyncSession, user: User) -> Data | None:
    region = await session.get(Region, user.region_id) if user.region_id is not None else None
    if region is None:
        return None
    return {
        "dong_code": region.dong_code,
        "name_ko": region.name_ko,
        "name_en": region.name_en,
        "district_ko": region.district_ko,
        "district_en": region.district_en,
        "verified_at": _iso(user.region_verified_at),
        "location_note": "the location shared to verify it was never stored",
    }


async def _badges(session: AsyncSession, user_id: int) -> list[Data]:
    rows = await session.scalars(select(Badge).where(Badge.user_id == user_id).order_by(Badge.id))
    return [{"badge": b.badge, "awarded_at": _iso(b.awarded_at)} for b in rows]


async def _taps(session: AsyncSession, user_id: int) -> list[Data]:
    """The "🙋" taps on groups' daily posts (issue 23): which group, day and mission."""
    rows = await session.execute(
        select(GatheringTap, Mission.title_en, GroupChat.title)
        .join(Mission, Mission.id == GatheringTap.mission_id)
        .outerjoin(GroupChat, GroupChat.chat_id == GatheringTap.chat_id)
        .where(GatheringTap.user_id == user_id)
        .order_by(GatheringTap.id)
    )
    return [
        {"group": title or str(tap.chat_id), "day": tap.day.isoformat(), "mission": mission,
         "tapped_at": _iso(tap.tapped_at)}
        for tap, mission, title in rows
    ]  # fmt: skip


async def _blocks(session: AsyncSession, user_id: int, names: _Names) -> list[Data]:
    rows = await session.scalars(
        select(UserBlock).where(UserBlock.blocker_id == user_id).order_by(UserBlock.created_at)
    )
    return [{"person": await names.of(b.blocked_id), "since": _iso(b.created_at)} for b in rows]


def _meetup(meeting: Meeting, mission: Mission) -> Data:
    return {
        "meeting_id": meeting.id,
        "mission_ko": mission.title_ko,
        "mission_en": mission.title_en,
        "place": meeting.place_name,
        "starts_at": _iso(meeting.starts_at),
        "ends_at": _iso(meeting.ends_at),
        "meetup_status": meeting.status,
    }


async def _meetups(session: AsyncSession, user_id: int) -> Data:
    hosted = await session.execute(
        select(Meeting, Mission)
        .join(Mission, Mission.id == Meeting.mission_id)
        .where(Meeting.host_id == user_id)
        .order_by(Meeting.id)
    )
    joined = await session.execute(
        select(Participation, Meeting, Mission)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .join(Mission, Mission.id == Meeting.mission_id)
        .where(Participation.user_id == user_id)
        .order_by(Participation.id)
    )
    seats = joined.all()
    return {
        "meetups_hosted": [
            {
                **_meetup(m, mission),
                "capacity": m.capacity,
                "note": m.note,
                "created_at": _iso(m.created_at),
            }
            for m, mission in hosted.all()
        ],
        "meetups_joined": [
            {
                **_meetup(m, mission),
                "seat": p.status,
                "joined_at": _iso(p.joined_at),
                "left_at": _iso(p.left_at),
                "checked_in_at": _iso(p.checked_in_at),
                "no_show_at": _iso(p.no_show_at),
                "proof_word": p.proof_word,
            }
            for p, m, mission in seats
        ],
        "check_ins": [
            {
                "meeting_id": m.id,
                "checked_in_at": _iso(p.checked_in_at),
                "proof_word": p.proof_word,
                "method": p.checkin_method,
                "location": p.checkin_location,
                "distance_m": p.checkin_distance_m,
            }
            for p, m, _ in seats
            if p.checked_in_at is not None
        ],
    }


def _checks(signals: dict[str, Any] | None) -> list[Data]:
    """The checks' verdicts (not their details, which may name other people's photos)."""
    checks = (signals or {}).get("checks", [])
    return [
        {k: c.get(k) for k in ("check", "result", "reason")} for c in checks if isinstance(c, dict)
    ]


async def _evidence(session: AsyncSession, user_id: int, photo_days: int) -> list[Data]:
    rows = await session.execute(
        select(Evidence, Meeting.ends_at, Review)
        .join(Meeting, Meeting.id == Evidence.meeting_id)
        .outerjoin(Review, Review.evidence_id == Evidence.id)
        .where(Evidence.user_id == user_id)
        .order_by(Evidence.id)
    )
    found = []
    for item, ends_at, review in rows.all():
        kept_until = None
        if item.photo_deleted_at is None and item.status in DECIDED:
            kept_until = (ends_at + timedelta(days=photo_days)).date().isoformat()
        found.append(
            {
                "evidence_id": item.id,
                "meeting_id": item.meeting_id,
                "submitted_at": _iso(item.submitted_at),
                "attempt": item.attempt,
                "sent_as": "file" if item.as_document else "photo",
                "status": item.status,
                "camera_time": _iso(item.exif_taken_at),
                "camera_lat": item.exif_lat,
                "camera_lon": item.exif_lon,
                "flags": list(item.flags),
                "checks": _checks(item.signals),
                "ai_verdict": item.ai_verdict,
                "ai_reason": item.ai_reason,
                "decision": None
                if review is None
                else {
                    "decision": review.decision,
                    "reason": review.reason,
                    "decided_at": _iso(review.decided_at),
                },
                "photo_file": "deleted" if item.photo_deleted_at is not None else "kept",
                "photo_deleted_at": _iso(item.photo_deleted_at),
                # None while it is still being checked or reviewed.
                "photo_kept_until": kept_until,
            }
        )
    return found


async def _points(session: AsyncSession, user_id: int) -> Data:
    balance = await session.scalar(select(Balance.points).where(Balance.user_id == user_id))
    entries = await session.scalars(
        select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)
    )
    return {
        "balance": int(balance or 0),
        "ledger": [
            {
                "entry_id": e.id,
                "created_at": _iso(e.created_at),
                "amount": e.amount,
                "balance_after": e.balance_after,
                "kind": e.kind,
                "reference": e.reference,
                "note": e.note,
            }
            for e in entries
        ],
    }


async def _vouchers(session: AsyncSession, user_id: int) -> list[Data]:
    rows = await session.execute(
        select(VoucherCode, MarketItem)
        .join(MarketItem, MarketItem.id == VoucherCode.item_id)
        .where(VoucherCode.issued_to == user_id)
        .order_by(VoucherCode.id)
    )
    return [
        {
            "code": code.code,
            "item_ko": item.name_ko,
            "item_en": item.name_en,
            "cost": item.cost,
            "issued_at": _iso(code.issued_at),
            "ledger_entry_id": code.ledger_entry_id,
            "refunded_at": _iso(code.refunded_at),
        }
        for code, item in rows.all()
    ]


async def _ratings_given(session: AsyncSession, user_id: int, names: _Names) -> list[Data]:
    rows = await session.scalars(
        select(Feedback).where(Feedback.from_user_id == user_id).order_by(Feedback.id)
    )
    return [
        {
            "meeting_id": f.meeting_id,
            "person": await names.of(f.to_user_id),
            "rating": f.rating,
            "tags": list(f.tags),
            "created_at": _iso(f.created_at),
        }
        for f in rows
    ]


async def _ratings_received(session: AsyncSession, user_id: int) -> list[Data]:
    rows = await session.execute(
        select(Feedback.rating, Feedback.tags).where(Feedback.to_user_id == user_id)
    )
    received = [{"rating": rating, "tags": sorted(tags)} for rating, tags in rows.all()]
    return sorted(received, key=lambda r: (-r["rating"], r["tags"]))


async def _reports(session: AsyncSession, user_id: int, names: _Names) -> list[Data]:
    rows = await session.scalars(
        select(Report).where(Report.reporter_id == user_id).order_by(Report.id)
    )
    return [
        {
            "report_id": r.id,
            "about": await names.of(r.reported_id),
            "meeting_id": r.meeting_id,
            "reason": r.reason,
            "details": r.details,
            "status": r.status,
            "created_at": _iso(r.created_at),
            "resolved_at": _iso(r.resolved_at),
        }
        for r in rows
    ]


async def _appeals(session: AsyncSession, user_id: int) -> list[Data]:
    """The person's appeals of rejected photos (issue 23): their reason and the outcome."""
    rows = await session.scalars(
        select(Appeal).where(Appeal.user_id == user_id).order_by(Appeal.id)
    )
    return [
        {"photo_id": a.evidence_id, "reason": a.reason, "status": a.status,
         "created_at": _iso(a.created_at), "decided_at": _iso(a.decided_at)}
        for a in rows
    ]  # fmt: skip


async def _groups(session: AsyncSession, user_id: int) -> list[Data]:
    rows = await session.scalars(
        select(GroupChat).where(GroupChat.registered_by == user_id).order_by(GroupChat.created_at)
    )
    return [{"group": g.title, "set_up_at": _iso(g.created_at)} for g in rows]


async def _messages(session: AsyncSession, user_id: int) -> Data:
    """What is still kept of the updates the person sent and the notices sent to them."""
    updates = await session.execute(
        select(InboxUpdate.kind, InboxUpdate.status, InboxUpdate.received_at)
        .where(InboxUpdate.user_id == user_id)
        .order_by(InboxUpdate.update_id)
    )
    notices = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.chat_id == user_id).order_by(OutboxMessage.id)
    )
    scratch = await session.scalar(
        select(PersistedData.data).where(
            PersistedData.kind == "user", PersistedData.key == str(user_id)
        )
    )
    steps = await session.scalars(select(ConversationState.name).where(_conversation_of(user_id)))
    return {
        "updates_kept": [
            {"type": kind, "status": status, "received_at": _iso(received)}
            for kind, status, received in updates.all()
        ],
        "notices": [_notice(n) for n in notices],
        "unfinished_steps": sorted(set(steps)),
        "unfinished_step_answers": dict(scratch or {}),
    }


def _conversation_of(user_id: int) -> Any:
    """Conversation rows keyed by the person's chat and id (`[chat, user]` as JSON)."""
    return or_(
        ConversationState.key == f"[{user_id},{user_id}]",
        ConversationState.key == f"[{user_id}]",
    )


def _notice(row: OutboxMessage) -> Data:
    """A notice as stored: its kind and values (rendered in the person's language when sent)."""
    values = dict(row.payload or {})
    kind = values.pop("kind", None)
    return {
        "notice": kind,
        "values": values,
        "status": row.status,
        "created_at": _iso(row.created_at),
    }


async def _as_admin(session: AsyncSession, user_id: int) -> Data:
    """What the service records of an admin's decisions."""
    reviews = await session.scalars(
        select(Review).where(Review.reviewer_id == user_id).order_by(Review.id)
    )
    handled = await session.scalars(
        select(Report.id).where(Report.handled_by == user_id).order_by(Report.id)
    )
    adjusted = await session.scalars(
        select(LedgerEntry.id).where(LedgerEntry.actor_id == user_id).order_by(LedgerEntry.id)
    )
    return {
        "photo_decisions": [
            {
                "evidence_id": r.evidence_id,
                "decision": r.decision,
                "reason": r.reason,
                "decided_at": _iso(r.decided_at),
            }
            for r in reviews
        ],
        "reports_handled": list(handled),
        "points_changes_made": list(adjusted),
    }
