"""Cards the outbox dispatcher draws as it sends them (issue 23): what a group is told under
its daily post when taps made a meetup (`gathering_card`, queued by `storage.gathering`), an
appeal's card in the admin group (`appeal_card`, queued by `storage.appeals.file_for_card`),
and a checked photo's review card there (`review_card`, queued by `storage.evidence.queue_card`).

They were sent by the handler (or the verification job) right after its commit; queued in the
same transaction as the change they show, a crash or a Telegram outage after the commit loses
none, and they go at the send budget's pace like every notice. They are drawn from the
database when sent, so the card shows the meetup's seats (or the appeal, the photo) as they
are then. What they name that is gone, or a photo decided meanwhile (on `/review`), is a 400's
fate (the dispatcher gives the row up). Where an appeal's or a photo's card went is recorded on
its row with the sent mark (`storage.outbox.APPEAL_CARD`, `REVIEW_CARD`).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Final

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest

from bot.sending import send_review_card
from storage import appeals, evidence, meetings
from storage.db import SessionFactory
from storage.errors import AppealRefused, EvidenceNotFound, MeetupNotFound
from storage.files import FileStore
from storage.outbox import NoticeKind
from ui import appeals as appeal_ui
from ui import gathering as gathering_ui
from ui import review as review_ui

GATHERING: Final = "gathering_card"
APPEAL: Final = "appeal_card"
REVIEW: Final = "review_card"
KINDS: frozenset[NoticeKind] = frozenset({GATHERING, APPEAL, REVIEW})


async def send(
    bot: Bot,
    sessions: SessionFactory,
    photos: FileStore | None,
    chat_id: int,
    kind: NoticeKind,
    values: dict[str, Any],
    *,
    lang: str,
    zone: tzinfo,
    now: datetime,
    bot_username: str | None,
    **extra: Any,
) -> int:
    """Draws and sends one card; returns its message_id."""
    try:
        async with sessions() as session:
            if kind == APPEAL:
                view = await appeals.view(session, int(values["evidence_id"]),
                                          int(values["max_attempts"]))  # fmt: skip
            elif kind == REVIEW:
                photo = await evidence.review_view(session, int(values["evidence_id"]),
                                                   int(values["max_attempts"]))  # fmt: skip
                if photo.evidence.status != evidence.IN_REVIEW:
                    raise EvidenceNotFound  # decided on /review, withdrawn or erased meanwhile
            else:
                meeting_id = values.get("meeting_id")
                card = None if meeting_id is None else await meetings.card(
                    session, int(meeting_id), 0, now
                )  # fmt: skip
    except (MeetupNotFound, AppealRefused, EvidenceNotFound) as gone:
        raise BadRequest("card refers to nothing") from gone
    if kind == APPEAL:
        shown = appeal_ui.appeal_card(lang, view, zone)
        return (await send_review_card(bot, chat_id, shown, photos, **extra)).message_id
    if kind == REVIEW:
        shown = review_ui.card(lang, photo, zone)
        return (await send_review_card(bot, chat_id, shown, photos, **extra)).message_id
    text, markup = gathering_ui.group_card(lang, values, card, zone, bot_username)
    if (reply_to := values.get("reply_to")) is not None:  # under the daily post
        extra["reply_parameters"] = ReplyParameters(int(reply_to), allow_sending_without_reply=True)
    return (await bot.send_message(chat_id, text, reply_markup=markup, **extra)).message_id
