"""The cards the bot posted about a person in the admin group, cleaned when the person deletes
their account (issue 20).

A review card shows the person's photo and first name; an appeal's card (issue 23) shows the
same and their reason; a report card about them names them and carries the reporter's words;
a report card they filed carries their words. Telegram keeps
all of these in the group's history, so `/deleteme` (`storage.erasure.erase`) calls `queue`
in its transaction, before anything is blanked: it finds the cards and queues one outbox row
per card (kind `card_erased`, `storage/outbox.py`). The dispatcher (`scheduler/outbox.py`),
after the commit and with the outbox's retries, deletes a card that names the person, or,
where Telegram refuses (a message 48 hours old or older), edits it so that neither the name
nor the photo stays; a report card they only filed loses their words and keeps its buttons.
The rows hold ids only: the text is drawn at send time from what is kept (`view`).

Where a card's message is recorded: a review card on its evidence row (`review_chat_id`,
`review_message_id`, kept anonymously), an appeal's card on its appeal row (`card_chat_id`,
`card_message_id`), a report card on its report row (`card_chat_id`,
`card_message_id`, written with the sent mark of its `report:<id>` notice, which goes
`outbox_retention_days` after it was sent). A card sent before the report row recorded it
(migration 0010) is found through that notice while it is kept, or, cleaned once (its
reporter left), through that cleanup row.

When the retention job deletes an evidence photo (`scheduler/retention.py`), `photo_expired`
queues, in the same transaction, an edit of its review card and of its appeal's card: the
placeholder for the photo, the caption as it was (the card stays, decided, for the admins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import meetings, outbox
from storage.meetings import MeetupView
from storage.models import Appeal, Evidence, OutboxMessage, Report, Review, User

KIND: Final = "card_erased"
CardKind = Literal["review", "appeal", "report"]
REVIEW: Final = "review"
APPEAL: Final = "appeal"  # an appeal's card: the photo again, with the sender's reason
REPORT: Final = "report"
# Cards that show a photo (their subject is the evidence id).
PHOTO_CARDS: Final = (REVIEW, APPEAL)
# What the dispatcher does with a card: delete it (an edit where Telegram refuses), or only
# edit it (a report about someone else, still to be decided by the moderators).
DELETE = "delete"
EDIT = "edit"
# Only the photo goes (its retention ended): the card keeps its text and decision.
PHOTO_EXPIRED = "photo_expired"


@dataclass(frozen=True)
class Card:
    """One card in the admin group to clean: where it is, what it shows, and how."""

    chat_id: int
    message_id: int
    kind: CardKind
    subject_id: int  # the evidence id (a review or appeal card) or the report id
    action: str  # DELETE, EDIT or PHOTO_EXPIRED

    @property
    def key(self) -> str:
        """The outbox row's dedupe key (cleaning one card twice the same way is once)."""
        return f"card:{self.kind}:{self.subject_id}:{self.action}"


async def _review_cards(session: AsyncSession, user_id: int) -> list[Card]:
    rows = await session.execute(
        select(Evidence.id, Evidence.review_chat_id, Evidence.review_message_id)
        .where(
            Evidence.user_id == user_id,
            Evidence.review_chat_id.is_not(None),
            Evidence.review_message_id.is_not(None),
        )
        .order_by(Evidence.id)
    )
    return [
        Card(int(chat), int(message), REVIEW, int(i), DELETE)
        for i, chat, message in rows
        if chat is not None and message is not None
    ]


async def _appeal_cards(
    session: AsyncSession, evidence_ids: list[int] | None, user_id: int | None = None
) -> list[tuple[int, int, int]]:
    """(evidence id, chat, message) of the appeal cards posted for these photos or by this
    person."""
    query = select(Appeal.evidence_id, Appeal.card_chat_id, Appeal.card_message_id).where(
        Appeal.card_chat_id.is_not(None), Appeal.card_message_id.is_not(None)
    )
    if user_id is not None:
        query = query.where(Appeal.user_id == user_id)
    if evidence_ids is not None:
        query = query.where(Appeal.evidence_id.in_(evidence_ids))
    rows = await session.execute(query.order_by(Appeal.evidence_id))
    return [(int(i), int(c), int(m)) for i, c, m in rows if c is not None and m is not None]


async def _report_card(session: AsyncSession, report_id: int) -> tuple[int, int] | None:
    """Where the card of a report that did not record it (sent before migration 0010) is:
    its `report:<id>` notice once sent, or the row that cleaned it when its reporter left
    (that notice is gone then)."""
    keys = (f"report:{report_id}", f"card:{REPORT}:{report_id}:{EDIT}")
    rows = await session.execute(
        select(OutboxMessage.dedupe_key, OutboxMessage.chat_id, OutboxMessage.sent_message_id,
               OutboxMessage.payload)
        .where(OutboxMessage.dedupe_key.in_(keys))
    )  # fmt: skip
    found = {key: (chat, sent, payload) for key, chat, sent, payload in rows}
    for key in keys:
        if key not in found:
            continue
        chat, sent, payload = found[key]
        message = sent if key.startswith("report:") else payload.get("message_id")
        if message is not None:
            return int(chat), int(message)
    return None


async def _report_cards(session: AsyncSession, user_id: int) -> list[Card]:
    """Cards of reports about the person (deleted) and of reports they wrote a text for
    (edited: their words go, the card stays for the moderators)."""
    reports = await session.execute(
        select(Report.id, Report.reported_id, Report.details, Report.card_chat_id,
               Report.card_message_id)
        .where((Report.reported_id == user_id) | (Report.reporter_id == user_id))
        .order_by(Report.id)
    )  # fmt: skip
    cards = []
    for report_id, reported_id, details, chat, message in list(reports):
        if reported_id != user_id and not details:
            continue  # a card they filed without words shows nothing of them
        where = (
            (int(chat), int(message))
            if chat is not None and message is not None
            else await _report_card(session, int(report_id))
        )
        if where is not None:
            action = DELETE if reported_id == user_id else EDIT
            cards.append(Card(*where, REPORT, int(report_id), action))
    return cards


async def naming(session: AsyncSession, user_id: int) -> list[Card]:
    """The cards in the admin group that show something of the person."""
    appeals = [
        Card(chat, message, APPEAL, evidence_id, DELETE)
        for evidence_id, chat, message in await _appeal_cards(session, None, user_id)
    ]
    return [
        *await _review_cards(session, user_id),
        *appeals,
        *await _report_cards(session, user_id),
    ]


async def queue(session: AsyncSession, user_id: int, now: datetime) -> tuple[Card, ...]:
    """Queues the cleanup of every card naming the person, in the caller's transaction (so
    it happens once the erasure is committed, and only then); returns the cards."""
    cards = await naming(session, user_id)
    for card in cards:
        await outbox.enqueue(
            session, key=card.key, chat_id=card.chat_id, kind=KIND,
            values={"card": card.kind, "id": card.subject_id,
                    "message_id": card.message_id, "action": card.action},
            now=now,
        )  # fmt: skip
    return tuple(cards)


async def photo_expired(
    session: AsyncSession, evidence_ids: list[int], now: datetime, max_attempts: int
) -> int:
    """Queues, in the caller's transaction (the retention step's), an edit of the review
    card of each of these photos whose card is in a group: the photo is replaced, the caption
    redrawn as it was (`max_attempts`: its "try n/max"). Returns how many were queued."""
    if not evidence_ids:
        return 0
    rows = await session.execute(
        select(Evidence.id, Evidence.review_chat_id, Evidence.review_message_id)
        .where(
            Evidence.id.in_(evidence_ids),
            Evidence.review_chat_id.is_not(None),
            Evidence.review_message_id.is_not(None),
        )
        .order_by(Evidence.id)
    )
    found = [
        Card(int(chat), int(message), REVIEW, int(evidence_id), PHOTO_EXPIRED)
        for evidence_id, chat, message in rows
        if chat is not None and message is not None
    ] + [
        Card(chat, message, APPEAL, evidence_id, PHOTO_EXPIRED)
        for evidence_id, chat, message in await _appeal_cards(session, evidence_ids)
    ]
    queued = 0
    for card in found:
        queued += await outbox.enqueue(
            session, key=card.key, chat_id=card.chat_id, kind=KIND,
            values={"card": card.kind, "id": card.subject_id, "message_id": card.message_id,
                    "action": card.action, "max_attempts": max_attempts},
            now=now,
        )  # fmt: skip
    return queued


# --------------------------------------------------------------------------- at send time


@dataclass(frozen=True)
class ErasedReview:
    """What a review card still shows once its sender is gone: the photo's number, the
    meetup, and the decision (the reviewer's name when one was made)."""

    evidence_id: int
    meetup: MeetupView
    status: str
    withdrawn: bool
    reviewer_name: str | None
    reason: str | None  # a rejection's reason (storage.evidence.REASONS)


@dataclass(frozen=True)
class ErasedReport:
    """A report card redrawn: the reported person's name (empty once they are gone), the
    reason, and whether it still waits for a decision."""

    report_id: int
    reason: str
    name: str
    trust: int
    open: bool


async def view(session: AsyncSession, values: dict[str, Any]) -> ErasedReview | ErasedReport | None:
    """What a queued cleanup row's card is redrawn from (None: its row is gone)."""
    subject = int(values["id"])
    if values["card"] in PHOTO_CARDS:
        item = await session.get(Evidence, subject)
        if item is None:
            return None
        decision = await session.scalar(select(Review).where(Review.evidence_id == subject))
        reviewer = await session.get(User, decision.reviewer_id) if decision else None
        return ErasedReview(
            subject, await meetings.view(session, item.meeting_id), item.status,
            "withdrawn" in item.flags, reviewer.display_name if reviewer else None,
            decision.reason if decision else None,
        )  # fmt: skip
    report = await session.get(Report, subject)
    if report is None:
        return None
    reported = await session.get(User, report.reported_id)
    live = reported is not None and reported.deleted_at is None
    return ErasedReport(
        subject, report.reason, reported.display_name if reported and live else "",
        round(reported.trust_score) if reported else 0, report.status == "open" and live,
    )  # fmt: skip
