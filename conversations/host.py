"""Hosting a meetup (step 3): mission → time → meeting point → capacity → note → confirm.

Entered from a mission card's "create a meetup" button or `/host`. Times are Asia/Seoul: the
buttons offer today's and tomorrow's usual slots, and a typed `HH:MM` (today, or tomorrow once
today's has passed) or `내일 19:30` / `tomorrow 19:30` works too. The meetup exists only after
confirm, created in one transaction by `storage.meetings.create`.

Also here: the host's "message participants" conversation (one text, sent to everyone seated).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from conversations.owner import Conversation
from conversations.steps import Questions
from storage import errors, meetings
from storage.db import transaction
from storage.text import clean
from ui import callbacks
from ui import meetups as ui
from ui.callbacks import Action
from ui.i18n import localized
from ui.refusals import refusal

WHEN, PLACE, SIZE, NOTE, CONFIRM = range(5)
MESSAGE = 10
END = ConversationHandler.END
KEY = "host"
QUESTIONS = Questions(KEY)  # the open question, to show its answer once given
# "✉️ Message them": the meetup ("meeting_id") and the open question.
MESSAGE_KEY = "message"
MESSAGE_QUESTION = Questions(MESSAGE_KEY)
SLOTS = (time(7, 0), time(10, 0), time(12, 0), time(15, 0), time(18, 0), time(19, 0),
         time(20, 0), time(21, 0))  # fmt: skip
_TYPED = re.compile(r"^\s*(오늘|today|내일|tomorrow)?\s*(\d{1,2})[:시 ]\s*(\d{2})?\s*분?\s*$", re.I)


def _data(context: Context) -> dict[str, Any]:
    return context.scratch(KEY)


async def _say(update: Update, screen: ui.Screen | str) -> None:
    """Replies in the chat (after a press too: its buttons are closed, the question stays)."""
    assert update.effective_message is not None
    text, markup = (screen, None) if isinstance(screen, str) else screen
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _refused(update: Update, context: Context, error: errors.DomainError) -> None:
    """A refusal as a message: the press that led here is answered already."""
    await _say(update, refusal(context.lang, error, context.services.settings.zone))


def _local_start(now_local: datetime, day: int, at: time) -> datetime:
    return datetime.combine(now_local.date() + timedelta(days=day), at, tzinfo=now_local.tzinfo)


def _now_local(context: Context) -> datetime:
    svc = context.services
    return svc.clock.now().astimezone(svc.settings.zone)


async def begin(update: Update, context: Context) -> int:
    """ "Create a meetup" on a mission: checks the host rules, then asks when.

    A refusal (no account, not verified, suspended…) propagates before the press is
    answered: the error handler answers it, and the conversation does not start.
    """
    svc = context.services
    mission_id = context.pressed.int_arg(0)
    assert update.callback_query is not None and update.effective_user is not None
    async with svc.sessions() as session:
        await meetings.ensure_can_host(
            session, update.effective_user.id, svc.rules, svc.clock.now()
        )
    await context.answer()
    assert context.user_data is not None
    await QUESTIONS.close_open(update, context)  # a question of an earlier try
    context.user_data[KEY] = {"mission_id": mission_id}
    return await ask_when(update, context)


async def choose_mission(update: Update, context: Context) -> None:
    """`/host`: offers missions of the neighbourhood to host a meetup for."""
    assert update.effective_user is not None
    async with context.services.sessions() as session:
        found = await meetings.missions_to_host(session, update.effective_user.id)
    await _say(update, ui.missions_to_host(context.lang, found))


async def ask_when(update: Update, context: Context) -> int:
    """Asks when, with today's and tomorrow's usual slots still far enough ahead."""
    now_local = _now_local(context)
    soonest = now_local + meetings.MIN_LEAD + timedelta(minutes=20)
    slots = [
        (day, slot)
        for day in (0, 1)
        for slot in SLOTS
        if _local_start(now_local, day, slot) >= soonest
    ]
    await QUESTIONS.ask(update, context, ui.when_question(context.lang, slots[:10]))
    return WHEN


async def when_button(update: Update, context: Context) -> int:
    """Reads a slot button and moves on to the place."""
    await context.answer()  # the question shows the time once it is taken, or is asked again
    match = re.fullmatch(r"d([01])t(\d{2})(\d{2})", context.pressed.args[0])
    if match is None:
        return await ask_when(update, context)
    start = _local_start(_now_local(context), int(match[1]), time(int(match[2]), int(match[3])))
    return await _set_time(update, context, start)


def read_time(text: str, now_local: datetime) -> tuple[datetime, bool] | None:
    """A typed `HH:MM`, `19시 30분`, `내일 19:30` / `tomorrow 19:30` as a local start, and
    whether a bare time already past today was taken as tomorrow; None when unreadable. Also
    the change conversations' reader (conversations/changes.py, issue 23)."""
    match = _TYPED.match(text)
    hour, minute = (int(match[2]), int(match[3] or 0)) if match else (99, 99)
    if match is None or hour > 23 or minute > 59:
        return None
    day = 1 if (match[1] or "").lower() in ("내일", "tomorrow") else 0
    start = _local_start(now_local, day, time(hour, minute))
    if not match[1] and start <= now_local:
        return start + timedelta(days=1), True
    return start, False


async def when_typed(update: Update, context: Context) -> int | None:
    """Reads a typed time (today, or tomorrow once today's has passed)."""
    assert update.effective_message is not None and update.effective_message.text is not None
    read = read_time(update.effective_message.text, _now_local(context))
    if read is None:
        await _say(update, ui.unreadable_time(context.lang))
        return None
    start, moved = read
    if moved:
        # A bare time already past today means tomorrow, and the host is told so; one still
        # ahead today but too soon is refused with the earliest time that works.
        await _say(
            update, ui.moved_to_tomorrow(context.lang, start, context.services.settings.zone)
        )
    return await _set_time(update, context, start)


async def _set_time(update: Update, context: Context, start: datetime) -> int:
    now = context.services.clock.now()
    try:
        meetings.ensure_start(start, now)
    except errors.InvalidTime as exc:
        if exc.reason == "past" and start > now:
            earliest = _now_local(context) + meetings.MIN_LEAD + timedelta(minutes=1)
            await _say(update, ui.too_soon(context.lang, earliest))
        else:
            await _refused(update, context, exc)
        return await ask_when(update, context)
    local = start.astimezone(context.services.settings.zone)
    _data(context)["starts_at"] = local.isoformat()
    await QUESTIONS.answered(
        update, context, ui.chosen_time(context.lang, local, _now_local(context))
    )
    return await ask_place(update, context)


async def ask_place(update: Update, context: Context) -> int:
    """Asks where: the mission's place or another public place nearby."""
    assert update.effective_user is not None
    async with context.services.sessions() as session:
        found = await meetings.meeting_places(
            session, _data(context)["mission_id"], update.effective_user.id
        )
    if found.mission is None:
        await _refused(update, context, errors.MissionUnavailable())
        return END
    await QUESTIONS.ask(update, context, ui.place_question(context.lang, found))
    return PLACE


async def place_button(update: Update, context: Context) -> int:
    """Keeps the chosen place and asks how many people."""
    await context.answer()
    data = _data(context)
    value = context.pressed.args[0]
    source = data["mission_id"] if value == "mission" else int(value) if value.isdigit() else None
    async with context.services.sessions() as session:
        mission = await meetings.hostable_mission(session, source)
    if mission is None:
        return await ask_place(update, context)
    name = localized(context.lang, mission, "place_name")
    await QUESTIONS.answered(update, context)
    data["place"] = {"name": name, "lat": mission.place_lat, "lon": mission.place_lon}
    return await ask_size(update, context)


async def ask_size(update: Update, context: Context) -> int:
    """How many people: only the sizes the mission allows are offered."""
    async with context.services.sessions() as session:
        mission = await meetings.hostable_mission(session, _data(context)["mission_id"])
    if mission is None:
        await _refused(update, context, errors.MissionUnavailable())
        return END
    await QUESTIONS.ask(
        update, context, ui.size_question(context.lang, meetings.group_sizes(mission))
    )
    return SIZE


async def size_button(update: Update, context: Context) -> int:
    """Keeps the capacity and asks for a note."""
    await context.answer()
    value = context.pressed.args[0]
    if not value.isdigit() or not 2 <= int(value) <= 10:
        return SIZE
    await QUESTIONS.answered(update, context)
    _data(context)["capacity"] = int(value)
    await QUESTIONS.ask(update, context, ui.note_question(context.lang))
    return NOTE


async def note_typed(update: Update, context: Context) -> int:
    assert update.effective_message is not None
    note = clean(update.effective_message.text, 500)
    _data(context)["note"] = note
    await QUESTIONS.answered(update, context, ui.note_answer(note))
    return await ask_confirm(update, context)


async def note_skipped(update: Update, context: Context) -> int:
    await QUESTIONS.answered(update, context)
    _data(context)["note"] = None
    return await ask_confirm(update, context)


async def ask_confirm(update: Update, context: Context) -> int:
    """Shows the meetup as it will be and asks to create it."""
    data = _data(context)
    async with context.services.sessions() as session:
        mission = await meetings.hostable_mission(session, data["mission_id"])
    if mission is None:
        await _refused(update, context, errors.MissionUnavailable())
        return END
    await QUESTIONS.ask(update, context, ui.confirm_question(
        context.lang, context.services.settings.zone, mission,
        datetime.fromisoformat(data["starts_at"]), data["place"]["name"], data["capacity"],
        data.get("note"),
    ))  # fmt: skip
    return CONFIRM


async def confirm(update: Update, context: Context) -> int:
    """Creates the meetup in one transaction and shows its card with the host tools."""
    await QUESTIONS.answered(update, context)
    assert context.user_data is not None and update.effective_user is not None
    data = context.user_data.pop(KEY, {})
    if context.pressed.args[0] != "yes" or not data:
        await _say(update, ui.not_created(context.lang))
        return END
    try:
        card = await _create(context, update.effective_user.id, data)
    except errors.DomainError as exc:
        await _refused(update, context, exc)
        return END
    await _say(update, ui.created(context.lang))
    await _send_card(update, context, card)
    return END


async def _create(context: Context, host_id: int, data: dict[str, Any]) -> meetings.Card:
    svc, place = context.services, data["place"]
    async with transaction(svc.sessions) as session:
        meeting = await meetings.create(
            session, host_id=host_id, mission_id=data["mission_id"],
            starts_at=datetime.fromisoformat(data["starts_at"]),
            place=meetings.Place(place["name"], place["lat"], place["lon"]),
            capacity=data["capacity"], note=data.get("note"), rules=svc.rules, now=svc.clock.now(),
        )  # fmt: skip
        return await meetings.card(session, meeting.id, host_id)


async def _send_card(update: Update, context: Context, card: meetings.Card) -> None:
    """The new meetup's venue on a map, then its card with the host's tools."""
    assert update.effective_chat is not None
    chat_id, meeting = update.effective_chat.id, card.meetup.meeting
    await context.bot.send_venue(
        chat_id, latitude=meeting.place_lat, longitude=meeting.place_lon,
        title=ui.place_of(context.lang, meeting),
        address=ui.title_of(context.lang, card.meetup),
    )  # fmt: skip
    text, markup = ui.meetup_card(context.lang, context.services.settings.zone, card)
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def cancel(update: Update, context: Context) -> int:
    assert context.user_data is not None
    await QUESTIONS.close(update, context)  # the open question loses its buttons
    context.user_data.pop(KEY, None)
    await _say(update, ui.not_created(context.lang))
    return END


# --------------------------------------------------------------------------- host message


async def ask_message(update: Update, context: Context) -> int:
    """The card's "message them" button: the next text goes to everyone seated."""
    meeting_id = context.pressed.int_arg(0)
    assert update.callback_query is not None and context.user_data is not None
    assert update.effective_user is not None
    # Read before the press is answered: anyone but the host gets one answer, the refusal
    # (handlers/errors.py), and no conversation starts.
    async with context.services.sessions() as session:
        await meetings.as_host(session, meeting_id, update.effective_user.id)
    await context.answer()
    await MESSAGE_QUESTION.close_open(update, context)  # a question of an earlier try
    MESSAGE_QUESTION.answers(context)["meeting_id"] = meeting_id
    await MESSAGE_QUESTION.ask(update, context, ui.ask_host_message(context.lang))
    return MESSAGE


async def send_message(update: Update, context: Context) -> int:
    """Sends the typed text to everyone seated, through the outbox."""
    assert context.user_data is not None and update.effective_user is not None
    assert update.effective_message is not None
    svc = context.services
    meeting_id = MESSAGE_QUESTION.answers(context).get("meeting_id")
    if meeting_id is None:
        return END
    text = update.effective_message.text or ""
    try:
        async with transaction(svc.sessions) as session:
            count = await meetings.message_participants(
                session, int(meeting_id), update.effective_user.id, text, svc.clock.now(),
                # The host's message handled again (a redelivery) is queued once.
                occasion=update.effective_message.message_id,
            )  # fmt: skip
    except errors.DomainError as exc:
        await _message_done(update, context, None)
        await _refused(update, context, exc)
        return END
    await _message_done(update, context, ui.note_answer(text))
    await _say(update, ui.host_message_sent(context.lang, count))
    return END


async def _message_done(update: Update, context: Context, shown: str | None) -> None:
    """The question shows `shown` (the message's start, or "Cancelled"), or just loses its
    "Cancel"; the meetup is forgotten."""
    if shown is None:
        await MESSAGE_QUESTION.close_open(update, context)
    else:
        await MESSAGE_QUESTION.answered(update, context, shown)
    assert context.user_data is not None
    context.user_data.pop(MESSAGE_KEY, None)


async def cancel_message(update: Update, context: Context) -> int:
    """`/cancel` or the question's "Cancel": nothing goes out."""
    await MESSAGE_QUESTION.cancelled(update, context)
    assert context.user_data is not None
    context.user_data.pop(MESSAGE_KEY, None)
    await _say(update, ui.nothing_sent(context.lang))
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Idle too long while hosting: the draft is dropped and the host told (PTB ends the
    conversation afterwards; the update is the last one the host sent). The open question
    loses its buttons."""
    assert context.user_data is not None
    await QUESTIONS.close_open(update, context)
    context.user_data.pop(KEY, None)
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, ui.hosting_timed_out(context.lang))


async def message_timed_out(update: Update, context: Context) -> None:
    """Idle too long after "message them": nothing goes out, the question loses its
    "Cancel", and the host is told."""
    await _message_done(update, context, None)
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, ui.message_timed_out(context.lang))


def _button(action: str, callback: Any, *values: str) -> CallbackQueryHandler:
    return CallbackQueryHandler(callback, pattern=callbacks.pattern(action, *values))


def conversations(
    timeout_seconds: float, people: Mapping[int, Mapping[str, Any]]
) -> list[ConversationHandler]:
    """The hosting flow and the host's message flow, as tables of state → handlers."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        hosting = Conversation(
            entry_points=[_button(Action.MEETUP_NEW, begin)],
            states={
                WHEN: [_button(Action.HOST_WHEN, when_button), MessageHandler(text, when_typed)],
                PLACE: [_button(Action.HOST_PLACE, place_button)],
                SIZE: [_button(Action.HOST_SIZE, size_button)],
                NOTE: [_button(Action.HOST_NOTE, note_skipped), MessageHandler(text, note_typed)],
                CONFIRM: [_button(Action.HOST_CONFIRM, confirm)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="host",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
            people=people,
        )
        messaging = Conversation(
            entry_points=[
                CallbackQueryHandler(
                    ask_message, pattern=callbacks.pattern(Action.MEETUP_HOST, last="msg")
                )
            ],
            states={
                MESSAGE: [MessageHandler(text, send_message)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, message_timed_out)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel_message),
                _button(Action.STOP, cancel_message, "message"),
            ],
            name="host_message",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
            people=people,
        )
    return [hosting, messaging]


def register(application: Application) -> None:
    """The hosting conversations own "create a meetup" and the host's "message them" button,
    so they come before the meetup buttons; /host starts from a mission list."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    for conversation in conversations(timeout, application.user_data):
        application.add_handler(conversation)
    application.add_handler(
        CommandHandler("host", choose_mission, filters=filters.ChatType.PRIVATE)
    )
