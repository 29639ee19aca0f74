"""Check-in (step 4): a participant presents the host's QR (a scan opens the bot as
`/start c<token>`) or the typed code under it (`/checkin CODE`), then shares where they are.

Telegram behaviour relied on: scanning a QR of `https://t.me/<bot>?start=<payload>` with the
phone camera opens the bot and sends `/start <payload>`; when the chat is already open a
re-scan sometimes delivers no payload, hence the typed `/checkin CODE` fallback. A reply
keyboard button with `request_location` sends the phone's current position as a location
message; a live location (📎 → Location) arrives first as a message with `live_period`, its
moves as edits, which `handlers.edits` drops (the first position is the one judged). Every
message carries `date`, when the person sent it: windows are judged by it (storage bounds it
by now), so a check-in sent in time and delivered after a backlog counts.

The flow, as a table (storage keeps the state on the seat, so it survives a restart):
- `/start c<token>`, `/checkin CODE` → `present` → the location is asked (reply keyboard);
- a location while a check-in waits → `locate` → checked in, or how far, try again;
- "I can't share" → `skip_location` → checked in as "unverified" (or refused by the setting).
The last two run in handler group `GROUP`, before every feature: a location shared while a
check-in waits is this step's, not "meetups near you" (`handlers.meetups.meetups_near`) nor a
conversation's; any other location goes on to them untouched.

Each handler calls one `storage.meetings` operation and hands its answer to `ui.checkin`; a
refusal (a `DomainError`) propagates to the error handler, which tells it politely.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from storage import meetings
from storage.db import transaction
from ui import checkin as ui
from ui import links

# Before the features (group 0) and after flood control (-2): the location step's answers.
GROUP = -1


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def _presence(context: Context) -> meetings.Presence:
    return meetings.Presence.from_settings(context.services.settings)


async def _reply(update: Update, step: ui.Step) -> None:
    assert update.effective_message is not None
    text, markup = step
    await update.effective_message.reply_text(text, reply_markup=markup)


# --------------------------------------------------------------------------- step 1: present


async def checkin_link(update: Update, context: Context) -> None:
    """`/start c…`: the phone camera opened the bot from the host's QR code."""
    payload = (context.args or [""])[0]
    await _present(update, context, token=links.checkin_token(payload))


async def checkin_code(update: Update, context: Context) -> None:
    """`/checkin CODE`: the typed code shown under the QR."""
    await _present(update, context, code="".join(context.args or []))


async def _present(
    update: Update, context: Context, *, token: str | None = None, code: str | None = None
) -> None:
    """One path for a scan and a typed code: storage verifies what was presented, as of
    when it was sent; the location is asked next."""
    svc, message = context.services, update.effective_message
    assert message is not None
    async with transaction(svc.sessions) as session:
        presented = await meetings.present(
            session, _user_id(update), svc.signer, svc.rules, _presence(context),
            sent_at=message.date, now=svc.clock.now(), token=token, code=code,
        )  # fmt: skip
    await _reply(update, ui.ask_location(context.lang, svc.settings.zone, presented))


# --------------------------------------------------------------------------- step 2: where


async def shared_location(update: Update, context: Context) -> None:
    """A location: the answer to a waiting check-in, else left to the features."""
    message = update.effective_message
    assert message is not None and message.location is not None
    svc, location = context.services, message.location
    async with transaction(svc.sessions) as session:
        answer = await meetings.locate(
            session, _user_id(update), _presence(context),
            latitude=location.latitude, longitude=location.longitude,
            live=location.live_period is not None,
            sent_at=message.date, now=svc.clock.now(), message_id=message.message_id,
        )  # fmt: skip
    if answer is None:
        return  # no check-in waits: an ordinary shared location (group 0 answers it)
    await _reply(update, _step(context, answer))
    raise ApplicationHandlerStop


async def skipped(update: Update, context: Context) -> None:
    """The "I can't share" button: checked in as "unverified", unless the setting says no."""
    message = update.effective_message
    assert message is not None
    svc = context.services
    async with transaction(svc.sessions) as session:
        answer = await meetings.skip_location(
            session, _user_id(update), _presence(context),
            sent_at=message.date, now=svc.clock.now(), message_id=message.message_id,
        )  # fmt: skip
    step = ui.nothing_waiting(context.lang) if answer is None else _step(context, answer)
    await _reply(update, step)
    raise ApplicationHandlerStop


def _step(context: Context, answer: meetings.Answer) -> ui.Step:
    lang = context.lang
    if isinstance(answer, meetings.CheckedIn):
        return ui.checked_in(lang, context.services.settings.zone, answer)
    if isinstance(answer, meetings.TooFar):
        return ui.too_far(lang, answer)
    if isinstance(answer, meetings.LocationNeeded):
        return ui.location_needed(lang, answer)
    return ui.expired(lang, answer)


def register_deep_link(application: Application) -> None:
    """A scanned check-in QR arrives as `/start c<token>`: registered before signup."""
    application.add_handler(
        CommandHandler(
            "start",
            checkin_link,
            filters=filters.ChatType.PRIVATE & filters.Regex(links.CHECKIN_START),
        )
    )


def register(application: Application) -> None:
    """`/checkin CODE`; and in `GROUP`, before the features, the location step's answers: a
    location (not a venue: a place picked from a list says nothing of where one is) and the
    skip button's text."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("checkin", checkin_code, filters=private))
    application.add_handler(
        MessageHandler(filters.LOCATION & ~filters.VENUE & private, shared_location), group=GROUP
    )
    application.add_handler(
        MessageHandler(filters.Text(ui.skip_labels()) & private, skipped), group=GROUP
    )
