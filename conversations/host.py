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
from datetime import datetime, time, timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from handlers.meetups import refusal, send_card
from handlers.profile import account_or_invite
from storage import errors, meetings
from storage.accounts import NotRegistered, require_user
from storage.db import transaction
from storage.text import clean
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import format_when, t

WHEN, PLACE, SIZE, NOTE, CONFIRM = range(5)
MESSAGE = 10
END = ConversationHandler.END
KEY = "host"
SLOTS = (time(7, 0), time(10, 0), time(12, 0), time(15, 0), time(18, 0), time(19, 0),
         time(20, 0), time(21, 0))  # fmt: skip
_TYPED = re.compile(r"^\s*(오늘|today|내일|tomorrow)?\s*(\d{1,2})[:시 ]\s*(\d{2})?\s*분?\s*$", re.I)


def _data(context: Context) -> dict[str, Any]:
    return context.scratch(KEY)


def _reply(update: Update) -> Any:
    assert update.effective_message is not None
    return update.effective_message.reply_text


def _local_start(now_local: datetime, day: int, at: time) -> datetime:
    return datetime.combine(now_local.date() + timedelta(days=day), at, tzinfo=now_local.tzinfo)


async def begin(update: Update, context: Context) -> int:
    """ "Create a meetup" on a mission: checks the host rules, then asks when."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    try:
        async with svc.sessions() as session:
            if await account_or_invite(update, context, session) is None:
                return END
            await meetings.ensure_can_host(
                session, update.effective_user.id, svc.rules, svc.clock.now()
            )
    except (errors.MeetupError, NotRegistered) as exc:
        await query.answer(refusal(lang, exc), show_alert=True)
        return END
    await query.answer()
    assert context.user_data is not None
    context.user_data[KEY] = {"mission_id": callbacks.decode(query.data).int_arg(0)}
    return await ask_when(update, context)


async def choose_mission(update: Update, context: Context) -> None:
    """`/host`: offers missions of the neighbourhood to host a meetup for."""
    lang = context.lang
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        found = await meetings.missions_to_host(session, user.region_id)
    rows = [
        [(m.title_ko if lang == "ko" else m.title_en, callbacks.encode(Action.MEETUP_NEW, m.id))]
        for m in found
    ]
    await _reply(update)(
        t(lang, "Which mission would you like to host a meetup for?"),
        reply_markup=keyboards.inline(rows),
    )


async def ask_when(update: Update, context: Context) -> int:
    lang = context.lang
    svc = context.services
    now_local = svc.clock.now().astimezone(svc.settings.zone)
    buttons = []
    for day in (0, 1):
        for slot in SLOTS:
            start = _local_start(now_local, day, slot)
            if start < now_local + meetings.MIN_LEAD + timedelta(minutes=20):
                continue
            label = (t(lang, "Today {time}") if day == 0 else t(lang, "Tomorrow {time}")).format(
                time=f"{slot:%H:%M}"
            )
            buttons.append((label, callbacks.encode(Action.HOST_WHEN, f"d{day}t{slot:%H%M}")))
    await _reply(update)(
        t(lang, "When shall we meet? Pick a time, or type one like 19:30 or 내일 07:30."),
        reply_markup=keyboards.inline(keyboards.grid(buttons[:10], 2)),
    )
    return WHEN


async def when_button(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    value = context.pressed.args[0]
    match = re.fullmatch(r"d([01])t(\d{2})(\d{2})", value)
    if match is None:
        return await ask_when(update, context)
    svc = context.services
    now_local = svc.clock.now().astimezone(svc.settings.zone)
    start = _local_start(now_local, int(match[1]), time(int(match[2]), int(match[3])))
    return await _set_time(update, context, start)


async def when_typed(update: Update, context: Context) -> int | None:
    lang = context.lang
    assert update.effective_message is not None and update.effective_message.text is not None
    match = _TYPED.match(update.effective_message.text)
    hour, minute = (int(match[2]), int(match[3] or 0)) if match else (99, 99)
    if match is None or hour > 23 or minute > 59:
        await _reply(update)(
            t(lang, "I could not read that time. Type it like 19:30, or pick a button.")
        )
        return None
    svc = context.services
    now_local = svc.clock.now().astimezone(svc.settings.zone)
    day = 1 if (match[1] or "").lower() in ("내일", "tomorrow") else 0
    start = _local_start(now_local, day, time(hour, minute))
    if not match[1] and start < now_local + meetings.MIN_LEAD:
        start += timedelta(days=1)  # a bare time already past today means tomorrow
    return await _set_time(update, context, start)


async def _set_time(update: Update, context: Context, start: datetime) -> int:
    lang = context.lang
    svc = context.services
    now = svc.clock.now()
    if start < now + meetings.MIN_LEAD or start > now + meetings.MAX_AHEAD:
        error = errors.InvalidTime("past" if start < now + meetings.MIN_LEAD else "too_far")
        await _reply(update)(refusal(lang, error))
        return await ask_when(update, context)
    _data(context)["starts_at"] = start.astimezone(svc.settings.zone).isoformat()
    return await ask_place(update, context)


async def ask_place(update: Update, context: Context) -> int:
    lang = context.lang
    svc = context.services
    user = update.effective_user
    assert user is not None
    async with svc.sessions() as session:
        view = await meetings.hostable_mission(session, _data(context)["mission_id"])
        account = await require_user(session, user.id)
        places = await meetings.public_places(session, account.region_id)
    if view is None:
        await _reply(update)(refusal(lang, errors.MissionUnavailable()))
        return END
    rows = [[("📍 " + (view.place_name_ko if lang == "ko" else view.place_name_en),
              callbacks.encode(Action.HOST_PLACE, "mission"))]]  # fmt: skip
    for other in places:
        if other.place_name_ko != view.place_name_ko:
            name = other.place_name_ko if lang == "ko" else other.place_name_en
            rows.append([(name, callbacks.encode(Action.HOST_PLACE, other.id))])
    await _reply(update)(
        t(lang, "Where do you meet? The mission's place, or another public place nearby."),
        reply_markup=keyboards.inline(rows),
    )
    return PLACE


async def place_button(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    data = _data(context)
    value = context.pressed.args[0]
    source = data["mission_id"] if value == "mission" else int(value) if value.isdigit() else None
    lang = context.lang
    async with context.services.sessions() as session:
        mission = await meetings.hostable_mission(session, source)
    if mission is None:
        return await ask_place(update, context)
    data["place"] = {
        "name": mission.place_name_ko if lang == "ko" else mission.place_name_en,
        "lat": mission.place_lat,
        "lon": mission.place_lon,
    }
    buttons = [(str(n), callbacks.encode(Action.HOST_SIZE, n)) for n in range(2, 11)]
    await _reply(update)(
        t(lang, "How many people, you included?"),
        reply_markup=keyboards.inline(keyboards.grid(buttons, 5)),
    )
    return SIZE


async def size_button(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    lang = context.lang
    value = context.pressed.args[0]
    if not value.isdigit() or not 2 <= int(value) <= 10:
        return SIZE
    _data(context)["capacity"] = int(value)
    await _reply(update)(
        t(
            lang,
            'Anything participants should know? (e.g. "I\'ll wear a red cap") Type it, or skip.',
        ),
        reply_markup=keyboards.inline(
            [[(t(lang, "Skip"), callbacks.encode(Action.HOST_NOTE, "skip"))]]
        ),
    )
    return NOTE


async def note_typed(update: Update, context: Context) -> int:
    assert update.effective_message is not None
    _data(context)["note"] = clean(update.effective_message.text, 500)
    return await ask_confirm(update, context)


async def note_skipped(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    _data(context)["note"] = None
    return await ask_confirm(update, context)


async def ask_confirm(update: Update, context: Context) -> int:
    lang = context.lang
    svc = context.services
    data = _data(context)
    async with svc.sessions() as session:
        mission = await meetings.hostable_mission(session, data["mission_id"])
    if mission is None:
        await _reply(update)(refusal(lang, errors.MissionUnavailable()))
        return END
    text = t(
        lang,
        "Create this meetup?\n\n{title}\n🗓 {when}\n📍 {place}\n👥 {capacity} people\n{note}",
        title=mission.title_ko if lang == "ko" else mission.title_en,
        when=format_when(lang, datetime.fromisoformat(data["starts_at"]), svc.settings.zone),
        place=data["place"]["name"],
        capacity=data["capacity"],
        note=data.get("note") or "",
    ).rstrip()
    await _reply(update)(
        text,
        reply_markup=keyboards.inline([[
            (t(lang, "Create ✅"), callbacks.encode(Action.HOST_CONFIRM, "yes")),
            (t(lang, "Cancel"), callbacks.encode(Action.HOST_CONFIRM, "no")),
        ]]),
    )  # fmt: skip
    return CONFIRM


async def confirm(update: Update, context: Context) -> int:
    await keyboards.close_buttons(update)
    lang = context.lang
    assert context.user_data is not None and update.effective_user is not None
    data = context.user_data.pop(KEY, {})
    if context.pressed.args[0] != "yes" or not data:
        await _reply(update)(t(lang, "Okay, no meetup was created."))
        return END
    svc = context.services
    place = data["place"]
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.create(
                session,
                host_id=update.effective_user.id,
                mission_id=data["mission_id"],
                starts_at=datetime.fromisoformat(data["starts_at"]),
                place=meetings.Place(place["name"], place["lat"], place["lon"]),
                capacity=data["capacity"],
                note=data.get("note"),
                rules=svc.rules,
                now=svc.clock.now(),
            )
    except (errors.MeetupError, NotRegistered) as exc:
        await _reply(update)(refusal(lang, exc))
        return END
    await _reply(update)(
        t(
            lang,
            "Your meetup is open! Neighbours can find it in /meetups. Here is its card with "
            "your host tools:",
        )
    )
    await send_card(update, context, meeting.id)
    return END


async def cancel(update: Update, context: Context) -> int:
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    await _reply(update)(t(context.lang, "Okay, no meetup was created."))
    return END


# --------------------------------------------------------------------------- host message


async def ask_message(update: Update, context: Context) -> int:
    """The card's "message them" button: the next text goes to everyone seated."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    context.user_data["host_message"] = callbacks.decode(query.data).int_arg(0)
    await _reply(update)(t(context.lang, "Type the message for your participants (or /cancel)."))
    return MESSAGE


async def send_message(update: Update, context: Context) -> int:
    assert context.user_data is not None and update.effective_user is not None
    assert update.effective_message is not None
    lang = context.lang
    svc = context.services
    meeting_id = context.user_data.pop("host_message", None)
    if meeting_id is None:
        return END
    try:
        async with transaction(svc.sessions) as session:
            count = await meetings.message_participants(
                session, int(meeting_id), update.effective_user.id,
                update.effective_message.text or "", svc.clock.now(),
            )  # fmt: skip
    except errors.MeetupError as exc:
        await _reply(update)(refusal(lang, exc))
        return END
    await _reply(update)(t(lang, "Sent to {n} participants.", n=count))
    return END


async def cancel_message(update: Update, context: Context) -> int:
    assert context.user_data is not None
    context.user_data.pop("host_message", None)
    await _reply(update)(t(context.lang, "Okay, nothing was sent."))
    return END


def _button(action: str, callback: Any, *values: str) -> CallbackQueryHandler:
    return CallbackQueryHandler(callback, pattern=callbacks.pattern(action, *values))


def conversations(timeout_seconds: float) -> list[ConversationHandler]:
    """The hosting flow and the host's message flow, as tables of state → handlers."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        hosting = ConversationHandler(
            entry_points=[_button(Action.MEETUP_NEW, begin)],
            states={
                WHEN: [_button(Action.HOST_WHEN, when_button), MessageHandler(text, when_typed)],
                PLACE: [_button(Action.HOST_PLACE, place_button)],
                SIZE: [_button(Action.HOST_SIZE, size_button)],
                NOTE: [_button(Action.HOST_NOTE, note_skipped), MessageHandler(text, note_typed)],
                CONFIRM: [_button(Action.HOST_CONFIRM, confirm)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="host",
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_seconds,
        )
        messaging = ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    ask_message, pattern=callbacks.pattern(Action.MEETUP_HOST, last="msg")
                )
            ],
            states={MESSAGE: [MessageHandler(text, send_message)]},
            fallbacks=[CommandHandler("cancel", cancel_message)],
            name="host_message",
            persistent=True,
            conversation_timeout=timeout_seconds,
        )
    return [hosting, messaging]


def register(application: Application) -> None:
    """The hosting conversations own "create a meetup" and the host's "message them" button,
    so they come before the meetup buttons; /host starts from a mission list."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    for conversation in conversations(timeout):
        application.add_handler(conversation)
    application.add_handler(
        CommandHandler("host", choose_mission, filters=filters.ChatType.PRIVATE)
    )
