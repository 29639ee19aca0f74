"""`/deleteme`: everything that identifies a person goes, in one transaction (issue 20).

`erase` runs in the caller's transaction and leaves nothing that names the person, their phone
or their Telegram id:

- Gone: the account row itself (name, phone hash, so the number can sign up again, masked
  phone, neighbourhood, interests, times, language), badges, blocks either way, PTB's stored
  user_data and conversation positions, outbox notices to them or naming them (a notice still
  waiting keeps going, with the name and report text blanked), the inbox rows of their updates
  (one still waiting to be handled keeps only its payload until it is, without their ids), the
  photos of their evidence (the caller deletes the returned keys from the photo store after
  the commit), the free texts they wrote (report details, meetup notes), the bot's cards
  about them in the admin group (`admin_cards.queue`: deleted, or blanked where Telegram
  refuses, by the outbox after the commit).
- Barred: while a suspension or ban still runs, the keyed phone hash alone stays in
  `barred_phones` until it ends (a ban: while it stands; `accounts.bar_phone`), so deleting
  the account is no way to sign up again at once with the same number.
- Released: seats and waitlist places in open meetups (`meetings.release`: the first waiting
  moves up, the host is told "a participant left"); meetups they host that have not started
  are cancelled (`meetings.cancel`: everyone holding a place is told).
- Kept anonymously, under a random negative id that is no Telegram id (`ANONYMOUS`; the row in
  `users` holds nothing but that id, `deleted_at` and the trust score): ledger entries and the
  balance row (the books must add up; an `exchange:<id>:…` reference is re-keyed), the
  forfeit of the unused balance (an `adjustment` entry, `forfeit:<anonymous id>`), voucher
  codes issued (the code stays spent), evidence rows (perceptual hash, checks' flags and the
  decision: duplicate detection and the ledger's `evidence:<id>` need them), attendance
  (`participations`: past meetups' counts and no-shows), ratings given and received (others'
  trust scores rest on them), reports filed and reports about them (moderators' records, the
  reason and decision, without the reporter's text), meetups they hosted that had started.

Nothing kept leads back to the person: no row holds their Telegram id, and the anonymous id
is random (the anonymous row's `created_at` is the moment of deletion, not of signup).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import admin_cards, ledger, meetings
from storage.accounts import bar_phone, require_user
from storage.files import FileStore
from storage.models import (
    Appeal,
    Base,
    ConversationState,
    Evidence,
    GroupChat,
    InboxUpdate,
    LedgerEntry,
    Meeting,
    OutboxMessage,
    Participation,
    PersistedData,
    Report,
    User,
    VoucherCode,
)

log = logging.getLogger(__name__)

# Anonymous ids are negative (Telegram user ids never are) and random: nothing links one to a
# person. 2**53 keeps them exact wherever JSON or a float carries them.
ANONYMOUS = 2**53
FORFEIT_NOTE = "balance forfeited: account deleted"
# Evidence still waiting for checks or a decision: withdrawn, so nobody pays an erased account.
UNDECIDED = ("received", "checking", "in_review")
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Preview:
    """What `/deleteme` will do, read before asking: the confirmation screen states it."""

    balance: int  # points to be forfeited
    vouchers: int  # voucher codes received (kept for the books, detached)
    seats: int  # places held in open meetups (released, hosts told)
    hosting: int  # meetups they host that have not started (cancelled, participants told)
    # A suspension or ban still running: the number stays barred until then (`bar_phone`).
    barred_until: datetime | None = None


@dataclass(frozen=True)
class Erased:
    """What `erase` did; `photo_keys` are for the caller to delete from the photo store."""

    anonymous_id: int
    forfeited: int
    seats_released: int
    meetups_cancelled: int
    photo_keys: tuple[str, ...]
    # Admin-group cards showing them, queued for deletion (or blanking) after the commit.
    cards: tuple[admin_cards.Card, ...] = ()


async def _open_seats(session: AsyncSession, user_id: int) -> list[int]:
    """Meetups (open, hosted by someone else) where the person holds a seat or waits."""
    rows = await session.scalars(
        select(Participation.meeting_id)
        .join(Meeting, Meeting.id == Participation.meeting_id)
        .where(
            Participation.user_id == user_id,
            Participation.status.in_(meetings.ACTIVE),
            Meeting.status == "open",
            Meeting.host_id != user_id,
        )
        .order_by(Meeting.starts_at)
    )
    return list(rows)


async def _unstarted_hosted(session: AsyncSession, user_id: int, now: datetime) -> list[int]:
    rows = await session.scalars(
        select(Meeting.id)
        .where(Meeting.host_id == user_id, Meeting.status == "open", Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
    )
    return list(rows)


async def preview(session: AsyncSession, user_id: int, now: datetime) -> Preview:
    """What deleting this account would take away (`NotRegistered` without one)."""
    user = await require_user(session, user_id, "delete")
    running = user.suspended_until is not None and user.suspended_until > now
    vouchers = await session.scalar(
        select(func.count()).select_from(VoucherCode).where(VoucherCode.issued_to == user_id)
    )
    return Preview(
        balance=await ledger.balance(session, user_id),
        vouchers=int(vouchers or 0),
        seats=len(await _open_seats(session, user_id)),
        hosting=len(await _unstarted_hosted(session, user_id, now)),
        barred_until=user.suspended_until if running and user.phone_hash else None,
    )


async def _new_anonymous_id(session: AsyncSession) -> int:
    while True:
        candidate = -(secrets.randbelow(ANONYMOUS - 1) + 1)
        if await session.get(User, candidate) is None:
            return candidate


async def _forget_updates(session: AsyncSession, user_id: int) -> None:
    """Inbox rows of the person's updates go. One not handled yet (this very update, or one
    sent after it) stays until it is, without their ids: its payload, cleared when it is
    handled, is needed to handle it."""
    mine = or_(InboxUpdate.user_id == user_id, InboxUpdate.chat_id == user_id)
    await session.execute(delete(InboxUpdate).where(mine, InboxUpdate.status != "pending"))
    await session.execute(
        update(InboxUpdate)
        .where(mine, InboxUpdate.status == "pending")
        .values(user_id=None, chat_id=None)
    )


async def _forget_notices(session: AsyncSession, user_id: int) -> None:
    """Outbox rows to the person go; rows to others that carry their name or their words
    (joined, left, checked in, a report) go when finished, or lose those values when waiting."""
    await session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id == user_id))
    seats = list(
        await session.scalars(select(Participation.id).where(Participation.user_id == user_id))
    )
    reports = list(
        await session.scalars(
            select(Report.id).where(
                or_(Report.reporter_id == user_id, Report.reported_id == user_id)
            )
        )
    )
    prefixes = [f"{kind}:{pid}:" for pid in seats for kind in ("join", "leave")]
    exact = [f"checkin:{pid}" for pid in seats] + [f"report:{rid}" for rid in reports]
    if not prefixes and not exact:
        return
    about = or_(
        OutboxMessage.dedupe_key.in_(exact),
        *(OutboxMessage.dedupe_key.startswith(prefix, autoescape=True) for prefix in prefixes),
    )
    rows = await session.scalars(select(OutboxMessage).where(about))
    for row in rows:
        if row.status not in ("pending", "sending"):
            await session.delete(row)
            continue
        payload = dict(row.payload)
        for field in ("name", "details"):
            if field in payload:
                payload[field] = ""
        row.payload = payload


async def _forget_sessions(session: AsyncSession, user_id: int) -> None:
    """PTB's stored user_data (and a private chat's chat_data) and conversation positions."""
    await session.execute(
        delete(PersistedData).where(
            PersistedData.kind.in_(("user", "chat")), PersistedData.key == str(user_id)
        )
    )
    states = await session.execute(
        select(ConversationState.name, ConversationState.key).where(
            ConversationState.key.contains(str(user_id))
        )
    )
    for name, key in states:
        if user_id in json.loads(key):
            await session.execute(
                delete(ConversationState).where(
                    ConversationState.name == name, ConversationState.key == key
                )
            )


async def _release_places(session: AsyncSession, user_id: int, now: datetime) -> tuple[int, int]:
    """Seats given up (hosts told), unstarted meetups they host cancelled (everyone told), and
    what is left of their places in open meetups (one they host that is under way) closed
    without a notice, so reminders and closing never address the erased account."""
    seats = await _open_seats(session, user_id)
    for meeting_id in seats:
        await meetings.release(session, meeting_id, user_id, now)
    hosted = await _unstarted_hosted(session, user_id, now)
    for meeting_id in hosted:
        await meetings.cancel(session, meeting_id, user_id, now)
    still_open = select(Meeting.id).where(Meeting.status == "open")
    await session.execute(
        update(Participation)
        .where(
            Participation.user_id == user_id,
            Participation.status.in_(meetings.ACTIVE),
            Participation.meeting_id.in_(still_open),
        )
        .values(status=meetings.LEFT, left_at=now)
    )
    return len(seats), len(hosted)


async def _anonymise_evidence(session: AsyncSession, user_id: int, now: datetime) -> list[str]:
    """Their photos lose everything but the hash, the flags and the decision; returns the keys
    of files no other person's photo shares (content-addressed keys)."""
    rows = list(await session.scalars(select(Evidence).where(Evidence.user_id == user_id)))
    keys = {row.storage_key for row in rows if row.storage_key}
    for row in rows:
        if row.status in UNDECIDED:
            row.status = "rejected"
            row.flags = [*row.flags, WITHDRAWN]
        row.file_id = ""
        row.file_unique_id = f"erased:{row.id}"
        row.storage_key = None
        # The bytes' digest names the file (the store is content-addressed); the perceptual
        # hash alone still keeps a copy of an approved photo from paying twice.
        row.sha256 = None
        row.exif_taken_at = row.exif_lat = row.exif_lon = None
        row.signals = None
        row.ai_reason = None
        row.photo_deleted_at = row.photo_deleted_at or now
    await session.flush()
    if not keys:
        return []
    shared = set(
        await session.scalars(
            select(Evidence.storage_key).where(
                Evidence.storage_key.in_(keys), Evidence.user_id != user_id
            )
        )
    )
    return sorted(keys - shared)


# Tables whose rows about the person go rather than move to the anonymous id: what they earned
# (badges), whom they blocked or were blocked by (meaningless without a person) and their "🙋"
# taps on group posts (issue 23: the group's "who?" must not count or name them any more).
DROPPED = ("badges", "user_blocks", "gathering_taps")
# Ids of people kept in columns without a foreign key: who acted (an admin's adjustment, a
# decision on a report, an appeal's reviewers).
ACTORS = (
    (LedgerEntry.actor_id,),
    (Report.handled_by,),
    (Appeal.first_reviewer_id,),
    (Appeal.reviewer_id,),
)


async def _rekey(session: AsyncSession, old: int, new: int) -> None:
    """Everything kept moves from the Telegram id to the anonymous id (every column that refers
    to `users`, found from the model, so a new table cannot be missed); the old row goes."""
    await session.flush()
    await session.execute(update(Report).where(Report.reporter_id == old).values(details=None))
    # An appeal stays for the books (the decision paid or not); the person's words go.
    await session.execute(update(Appeal).where(Appeal.user_id == old).values(reason=""))
    await session.execute(update(Meeting).where(Meeting.host_id == old).values(note=None))
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name != "users" or table.name == "users":
                continue
            column = key.parent
            if table.name in DROPPED:
                await session.execute(table.delete().where(column == old))
            else:
                await session.execute(table.update().where(column == old).values({column: new}))
    for (actor,) in ACTORS:
        await session.execute(update(actor.class_).where(actor == old).values({actor: new}))
    # The person's exchanges name them in their reference (`exchange:<user id>:<request>`).
    prefix = f"exchange:{old}:"
    entries = await session.execute(
        select(LedgerEntry.id, LedgerEntry.reference).where(
            LedgerEntry.user_id == new, LedgerEntry.reference.startswith(prefix, autoescape=True)
        )
    )
    for entry_id, reference in list(entries):
        renamed = f"exchange:{new}:{reference.removeprefix(prefix)}"
        await session.execute(
            update(LedgerEntry).where(LedgerEntry.id == entry_id).values(reference=renamed)
        )
    await session.execute(
        update(GroupChat).where(GroupChat.registered_by == old).values(registered_by=None)
    )
    await session.execute(delete(User).where(User.id == old))
    session.expire_all()  # objects loaded above still hold the old id


async def erase(session: AsyncSession, user_id: int, now: datetime) -> Erased:
    """Deletes the person's account and everything that identifies them (see the module);
    raises `NotRegistered` without an account. The caller deletes `photo_keys` from the photo
    store once this transaction has committed."""
    user = await require_user(session, user_id, "delete")
    await ledger.lock_account(session, user_id, now)  # their exchanges wait, then find no one
    cards = await admin_cards.queue(session, user_id, now)  # before their notices are forgotten
    await bar_phone(session, user, now)  # a suspension or ban still running: the number waits
    user.display_name = ""  # before the notices below: a host is told "a participant left"
    await session.flush()
    await _forget_notices(session, user_id)
    seats, cancelled = await _release_places(session, user_id, now)
    keys = await _anonymise_evidence(session, user_id, now)
    await _forget_updates(session, user_id)
    await _forget_sessions(session, user_id)
    anonymous = await _new_anonymous_id(session)
    session.add(
        User(
            id=anonymous, language="ko", display_name="", interests=[], preferred_times=[],
            trust_score=user.trust_score, created_at=now, deleted_at=now,
        )
    )  # fmt: skip
    await session.flush()
    session.expunge(user)
    await _rekey(session, user_id, anonymous)
    forfeited = await ledger.balance(session, anonymous)
    if forfeited > 0:
        await ledger.post(
            session, user_id=anonymous, amount=-forfeited, kind=ledger.ADJUSTMENT,
            reference=f"forfeit:{anonymous}", now=now, note=FORFEIT_NOTE,
        )  # fmt: skip
    return Erased(anonymous, forfeited, seats, cancelled, tuple(keys), cards)


async def delete_photos(store: FileStore, keys: tuple[str, ...]) -> int:
    """Deletes an erased person's photo files (after the commit); returns how many could not
    be deleted now (logged by count, never by key or person)."""
    failed = 0
    for key in keys:
        try:
            await store.delete(key)
        except Exception:  # a store that is down must not undo the erasure
            failed += 1
    if failed:
        log.warning("erasure: %d photo file(s) could not be deleted", failed)
    return failed
