"""Step 9, neighbourhood groups: the bot added to a group introduces itself; a group admin
binds it to a neighbourhood with `/setregion` (district, then dong buttons), picks the daily
post's time with `/settime HH:MM`, and stops or restarts the posts with `/pause` and
`/resume`. Who is an admin is asked of Telegram (`getChatMember`) on every command and
button press, never taken from the client. The daily post's buttons open the bot privately
on a mission (`/start m<id>`), answered by `mission_link`.
"""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.settings import parse_hhmm
from handlers.missions import mission_card
from storage import accounts, errors, groups, missions
from storage.db import transaction
from ui import callbacks, keyboards, links
from ui.callbacks import Action, InvalidCallback
from ui.i18n import pick_language, t

log = logging.getLogger(__name__)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
PRESENT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED)


# --------------------------------------------------------------------------- membership


async def bot_membership(update: Update, context: Context) -> None:
    """my_chat_member: the bot added to a group (introduce once) or removed (stop posting)."""
    change = update.my_chat_member
    if change is None or change.chat.type not in GROUP_TYPES:
        return
    if change.new_chat_member.status in PRESENT:
        await _added(update, context)
    elif change.old_chat_member.status in PRESENT:
        async with transaction(context.services.sessions) as session:
            await groups.left(session, change.chat.id)
        log.info("bot left group %s", change.chat.id)


async def new_members(update: Update, context: Context) -> None:
    """new_chat_members: the same addition, announced as a service message."""
    message = update.effective_message
    if message is None or not any(m.id == context.bot.id for m in message.new_chat_members):
        return
    await _added(update, context)


async def _added(update: Update, context: Context) -> None:
    chat, person = update.effective_chat, update.effective_user
    assert chat is not None
    svc = context.services
    lang = pick_language(person.language_code if person else None, svc.settings.default_language)
    async with transaction(svc.sessions) as session:
        fresh = await groups.joined(
            session,
            chat.id,
            chat.title or "",
            lang,
            person.id if person else None,
            svc.clock.now(),
            svc.settings.default_post_time,
        )
    if fresh:
        await context.bot.send_message(chat.id, introduction(lang, svc.settings.daily_post_time))


def introduction(lang: str, post_time: str) -> str:
    return t(
        lang,
        "Hello! I'm Halsaram (할사람?): every morning I post a small mission to do together "
        "in your neighbourhood.\n\nGroup admins:\n/setregion — choose the neighbourhood\n"
        "/settime HH:MM — when to post (now {time})\n/pause, /resume — stop or restart the "
        "posts",
        time=post_time,
    )


async def migrated(update: Update, context: Context) -> None:
    """The group became a supergroup with a new id: its settings move with it."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    async with transaction(context.services.sessions) as session:
        await groups.migrated(session, message.chat.id, message.migrate_to_chat_id)


# --------------------------------------------------------------------------- admin commands


async def is_group_admin(update: Update, context: Context) -> bool:
    """Asks Telegram whether the sender is an admin of this group, right now."""
    chat, person, message = update.effective_chat, update.effective_user, update.effective_message
    if chat is None or person is None or chat.type not in GROUP_TYPES:
        return False
    # An anonymous admin posts as the group itself; only admins can.
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    member = await context.bot.get_chat_member(chat.id, person.id)
    return member.status in ADMIN_STATUSES


async def _admin_or_refuse(update: Update, context: Context) -> bool:
    if await is_group_admin(update, context):
        return True
    lang = context.lang
    text = t(lang, "Sorry, only the group's admins can change my settings here.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return False


async def _ensure(update: Update, context: Context) -> None:
    """The group's row, for a bot that was added before groups were kept."""
    chat, person = update.effective_chat, update.effective_user
    assert chat is not None
    svc = context.services
    async with transaction(svc.sessions) as session:
        await groups.ensure(
            session,
            chat.id,
            chat.title or "",
            context.lang,
            person.id if person else None,
            svc.clock.now(),
            svc.settings.default_post_time,
        )


async def set_region(update: Update, context: Context) -> None:
    """`/setregion`: the open districts as buttons."""
    assert update.effective_message is not None
    if not await _admin_or_refuse(update, context):
        return
    await _ensure(update, context)
    lang = context.lang
    text, markup = await _districts(context, lang)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _districts(context: Context, lang: str) -> tuple[str, keyboards.InlineKeyboardMarkup]:
    async with context.services.sessions() as session:
        found = [d for d in await accounts.districts(session) if d.enabled]
    buttons = [
        (d.name_ko if lang == "ko" else d.name_en, callbacks.encode(Action.GROUP_DISTRICT, d.code))
        for d in found
    ]
    return t(lang, "Which district is this group in?"), keyboards.inline(keyboards.grid(buttons))


async def district_chosen(update: Update, context: Context) -> None:
    """A district button: its open dongs."""
    query = update.callback_query
    assert query is not None
    if not await _admin_or_refuse(update, context):
        return
    lang = context.lang
    try:
        code = callbacks.decode(query.data).args[0]
    except InvalidCallback:
        code = ""
    async with context.services.sessions() as session:
        dongs = await accounts.dongs(session, code)
    await query.answer()
    if not dongs:
        await query.edit_message_text(t(lang, "That district is not open yet. Send /setregion."))
        return
    buttons = [
        (r.name_ko if lang == "ko" else r.name_en, callbacks.encode(Action.GROUP_DONG, r.id))
        for r in dongs
    ]
    rows = [
        *keyboards.grid(buttons, columns=3),
        [(t(lang, "« Back"), callbacks.encode(Action.GROUP_DONG, "back"))],
    ]
    await query.edit_message_text(
        t(lang, "Which neighbourhood (dong)?"), reply_markup=keyboards.inline(rows)
    )


async def dong_chosen(update: Update, context: Context) -> None:
    """A dong button: the group is bound to it."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if not await _admin_or_refuse(update, context):
        return
    lang = context.lang
    try:
        data = callbacks.decode(query.data)
        if data.args[0] == "back":
            await query.answer()
            text, markup = await _districts(context, lang)
            await query.edit_message_text(text, reply_markup=markup)
            return
        region_id = data.int_arg(0)
    except InvalidCallback:
        region_id = 0
    try:
        async with transaction(context.services.sessions) as session:
            region = await groups.set_region(session, update.effective_chat.id, region_id)
            group = await groups.require_group(session, update.effective_chat.id)
    except errors.UnknownGroupRegion:
        await query.answer(t(lang, "That neighbourhood is not open. Send /setregion again."))
        return
    except errors.UnknownGroup:
        await query.answer(t(lang, "Send /setregion again, please."))
        return
    await query.answer()
    name = region.name_ko if lang == "ko" else region.name_en
    await query.edit_message_text(
        t(
            lang,
            "Done: this group gets a mission in {region} every day at {time}.",
            region=name,
            time=f"{group.post_time:%H:%M}",
        )
    )


async def set_time(update: Update, context: Context) -> None:
    """`/settime HH:MM`: when the daily post goes out (local time)."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    if not await _admin_or_refuse(update, context):
        return
    lang = context.lang
    when = parse_hhmm("".join(context.args or []))
    if when is None:
        await message.reply_text(t(lang, "Send the time as /settime HH:MM, e.g. /settime 08:00."))
        return
    await _ensure(update, context)
    async with transaction(context.services.sessions) as session:
        await groups.set_post_time(session, chat.id, when)
    await message.reply_text(
        t(lang, "Done: the daily mission will be posted at {time}.", time=f"{when:%H:%M}")
    )


async def pause(update: Update, context: Context) -> None:
    """`/pause`: no more daily posts until /resume."""
    await _set_active(update, context, active=False)


async def resume(update: Update, context: Context) -> None:
    """`/resume`: daily posts again."""
    await _set_active(update, context, active=True)


async def _set_active(update: Update, context: Context, *, active: bool) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    if not await _admin_or_refuse(update, context):
        return
    await _ensure(update, context)
    async with transaction(context.services.sessions) as session:
        await groups.set_active(session, chat.id, active)
    lang = context.lang
    if active:
        await message.reply_text(t(lang, "Daily missions are back on. See you in the morning!"))
    else:
        await message.reply_text(t(lang, "Daily missions are paused. Send /resume to restart."))


# --------------------------------------------------------------------------- deep link


async def mission_link(update: Update, context: Context) -> None:
    """`/start m<id>`: a daily post's button; the mission's card, or an invitation to sign up."""
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    lang = context.lang
    payload = (context.args or [""])[0]
    mission_id = links.mission_id(payload)
    async with context.services.sessions() as session:
        user = await accounts.registered_user(session, update.effective_user.id)
        try:
            mission = await missions.published_mission(session, mission_id or 0)
        except errors.MissionNotFound:
            mission = None
    if mission is None:
        await message.reply_text(
            t(lang, "That mission is no longer available. /missions shows current ones.")
        )
        return
    if user is None:
        title = mission.title_ko if lang == "ko" else mission.title_en
        await message.reply_text(
            t(
                lang,
                'Want to do "{title}" with neighbours? Send /start to sign up first; it takes '
                "a minute.",
                title=title,
            )
        )
        return
    await message.reply_text(
        mission_card(mission, lang),
        reply_markup=keyboards.inline(
            [
                [
                    (
                        t(lang, "🙋 Create a meetup"),
                        callbacks.encode(Action.MEETUP_NEW, mission.id),
                    ),
                    (t(lang, "👀 See meetups"), callbacks.encode(Action.MEETUPS_OF, mission.id)),
                ]
            ]
        ),
    )


def register_deep_link(application: Application) -> None:
    """A daily post's button opens the bot as `/start m<mission id>`: registered before signup."""
    application.add_handler(
        CommandHandler(
            "start",
            mission_link,
            filters=filters.ChatType.PRIVATE & filters.Regex(links.MISSION_START),
        )
    )


def register(application: Application) -> None:
    """Step 9: the bot's own membership, group admin commands (re-checked with getChatMember)."""
    in_groups = filters.ChatType.GROUPS
    application.add_handler(ChatMemberHandler(bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        MessageHandler(in_groups & filters.StatusUpdate.NEW_CHAT_MEMBERS, new_members)
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    for name, command in (
        ("setregion", set_region),
        ("settime", set_time),
        ("pause", pause),
        ("resume", resume),
    ):
        application.add_handler(CommandHandler(name, command, filters=in_groups))
    for action, callback in (
        (Action.GROUP_DISTRICT, district_chosen),
        (Action.GROUP_DONG, dong_chosen),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
