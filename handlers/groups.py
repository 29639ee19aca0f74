"""Step 9, neighbourhood groups: the bot added to a group introduces itself; a group admin
binds it to a neighbourhood with `/setregion` (district, then dong buttons), picks the daily
post's time with `/settime HH:MM`, and stops or restarts the posts with `/pause` and
`/resume`. Who is an admin is asked of Telegram (`getChatMember`) on every command and
button press, never taken from the client. The daily post's buttons open the bot privately
on a mission (`/start m<id>`), answered by `mission_link`.

The bot's own membership (my_chat_member) is read as Telegram sends it, old and new status:
only a change from outside the group (left, kicked) to inside it is an addition, with an
introduction; promoted, demoted or restricted it stays, and a pause stays. Restricted without
the right to send messages, or refused a message for want of rights or a closed forum topic,
the group's posts stop and its admin is told once (storage/groups.py). /setregion, /settime
and /resume sent in a forum topic make the posts go to that topic.
"""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberUpdated, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import rights
from bot.context import Context
from bot.settings import follow_admin_chat, parse_hhmm
from storage import accounts, errors, groups, missions, users
from storage.db import transaction
from ui import callbacks, links
from ui import groups as screens
from ui.callbacks import Action
from ui.i18n import pick_language
from ui.missions import card_buttons, invitation, mission_card

log = logging.getLogger(__name__)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)


def _newcomer(update: Update, context: Context, lang: str) -> groups.Newcomer:
    """The group this update comes from, as its row would be made, and the forum topic it
    was sent in (a topic message's thread; a reply in the General topic carries a thread id
    too, of the reply chain, but is no topic message)."""
    chat, person, message = update.effective_chat, update.effective_user, update.effective_message
    assert chat is not None
    svc = context.services
    topic = message.message_thread_id if message is not None and message.is_topic_message else None
    # An anonymous admin's `from` is @GroupAnonymousBot, the same stand-in in every group: no
    # one to tell later when the bot cannot post, so nobody is recorded.
    anonymous = message is not None and message.sender_chat is not None
    return groups.Newcomer(
        chat.id,
        chat.title or "",
        lang,
        person.id if person and not anonymous else None,
        svc.clock.now(),
        svc.settings.default_post_time,
        topic,
    )


async def _say(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    reply: bool = True,
) -> None:
    """A message in the group (a reply to the command, in its topic, when `reply`). One that
    Telegram refuses for want of rights or a closed topic stops the group's posts and tells
    its admin once, rather than an apology that could not be sent either."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None
    try:
        if reply and message is not None:
            await message.reply_text(text, reply_markup=markup)
        else:
            await context.bot.send_message(chat.id, text, reply_markup=markup)
    except BadRequest as error:
        reason = rights.cannot_post(error)
        if reason is None:
            raise
        async with transaction(context.services.sessions) as session:
            await groups.cannot_post(session, chat.id, reason, context.services.clock.now())
        log.info("group %s refuses the bot's messages: %s", chat.id, reason)


# --------------------------------------------------------------------------- membership


async def bot_membership(update: Update, context: Context) -> None:
    """my_chat_member: the bot added to a group (left or kicked -> in it: introduce once),
    removed (in it -> out: stop posting), or its status changed while it stays (promoted,
    demoted, restricted: no introduction, a pause untouched, the right to post followed)."""
    change = update.my_chat_member
    if change is None or change.chat.type not in GROUP_TYPES:
        return
    was_in, is_in = rights.in_chat(change.old_chat_member), rights.in_chat(change.new_chat_member)
    if is_in and not was_in:
        await _added(update, context)
    elif was_in and not is_in:
        async with transaction(context.services.sessions) as session:
            await groups.left(session, change.chat.id)
        log.info("bot left group %s", change.chat.id)
    elif is_in:
        await _status_changed(update, context, change)


async def _status_changed(update: Update, context: Context, change: ChatMemberUpdated) -> None:
    member = change.new_chat_member
    lang = _actor_language(update, context)
    async with transaction(context.services.sessions) as session:
        refused = await groups.status_changed(
            session, _newcomer(update, context, lang), may_send=rights.may_send(member)
        )
    log.info(
        "bot's status in group %s: %s -> %s%s", change.chat.id, change.old_chat_member.status,
        member.status, " (may not send messages)" if refused else "",
    )  # fmt: skip


def _actor_language(update: Update, context: Context) -> str:
    """The language of whoever caused the update (who added the bot, say)."""
    person, settings = update.effective_user, context.services.settings
    return pick_language(person.language_code if person else None, settings.default_language)


async def new_members(update: Update, context: Context) -> None:
    """new_chat_members: the same addition, announced as a service message."""
    message = update.effective_message
    if message is None or not any(m.id == context.bot.id for m in message.new_chat_members):
        return
    await _added(update, context)


async def _added(update: Update, context: Context) -> None:
    """Introduces the bot once, in the language of whoever added it; a group whose admin
    had paused the posts hears that they are paused."""
    assert update.effective_chat is not None
    settings = context.services.settings
    lang = _actor_language(update, context)
    async with transaction(context.services.sessions) as session:
        fresh = await groups.joined(session, _newcomer(update, context, lang))
        paused = fresh and await groups.is_paused(session, update.effective_chat.id)
    if fresh:
        text = screens.introduction(
            lang, settings.daily_post_time, context.bot.username, paused=paused
        )
        await _say(update, context, text, reply=False)
        await _tell_chat_id(update, context, lang)


async def _tell_chat_id(update: Update, context: Context, lang: str) -> None:
    """Whoever added the bot hears the group's chat id privately when it may be meant as the
    admin group: none is set yet (a new installation), or they are an operator. Telegram's
    apps show a chat id nowhere, and it is what HALSARAM_ADMIN_CHAT_ID needs."""
    chat, person, settings = update.effective_chat, update.effective_user, context.services.settings
    message = update.effective_message
    if chat is None or person is None or (message is not None and message.sender_chat):
        return
    if settings.admin_chat_id is not None:
        async with context.services.sessions() as session:
            if await users.acting_admin(session, person.id) is None:
                return
    try:
        await context.bot.send_message(person.id, screens.chat_id_for_admins(lang, chat))
    except TelegramError:  # they never wrote to the bot: nothing to send it to
        log.info("group %s: could not tell its chat id to whoever added the bot", chat.id)


async def migrated(update: Update, context: Context) -> None:
    """The group became a supergroup with a new id: its settings move with it.

    Both service messages (`migrate_to_chat_id` in the old chat, `migrate_from_chat_id` in the
    new one) carry the move; whichever comes first does it, in any order with my_chat_member.
    """
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        old_id, new_id = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id is not None:
        old_id, new_id = message.migrate_from_chat_id, message.chat.id
    else:
        return
    svc = context.services
    follow_admin_chat(svc.settings, old_id, new_id)
    async with transaction(svc.sessions) as session:
        await groups.migrated(session, old_id, new_id, svc.clock.now())


# --------------------------------------------------------------------------- admin commands


async def is_group_admin(update: Update, context: Context) -> bool:
    """Asks Telegram whether the sender is an admin of this group, right now (an anonymous
    admin, who posts as the group, included): the one check, in bot/senders.py."""
    from bot.senders import sender_is_admin

    return await sender_is_admin(update, context)


async def _admin_or_refuse(update: Update, context: Context) -> bool:
    if await is_group_admin(update, context):
        return True
    await context.refuse(errors.NotAdmin("group"))
    return False


async def set_region(update: Update, context: Context) -> None:
    """`/setregion`: the open districts as buttons."""
    assert update.effective_message is not None
    if not await _admin_or_refuse(update, context):
        return
    text, markup = await _districts(update, context)
    await _say(update, context, text, markup)


async def _districts(update: Update, context: Context) -> tuple[str, InlineKeyboardMarkup]:
    """The district picker (the group's row made if the bot never kept one)."""
    async with transaction(context.services.sessions) as session:
        districts = await groups.open_districts(session, _newcomer(update, context, context.lang))
    return screens.district_picker(context.lang, districts)


async def district_chosen(update: Update, context: Context) -> None:
    """A district button: its open dongs."""
    assert update.callback_query is not None
    if not await _admin_or_refuse(update, context):
        return
    await context.answer()
    code = context.pressed.args[0]
    async with context.services.sessions() as session:
        dongs = await accounts.dongs(session, code)
    text, markup = screens.dong_picker(context.lang, dongs)
    await update.callback_query.edit_message_text(text, reply_markup=markup)


async def dong_chosen(update: Update, context: Context) -> None:
    """A dong button: the group is bound to it ("back" shows the districts again).

    A neighbourhood that is not open, or a group never met, is refused by the error handler.
    """
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if not await _admin_or_refuse(update, context):
        return
    await context.answer()
    if context.pressed.args[0] == "back":
        text, markup = await _districts(update, context)
    else:
        region_id = context.pressed.int_arg(0)
        async with transaction(context.services.sessions) as session:
            bound = await groups.set_region(
                session, update.effective_chat.id, region_id, query.from_user.id
            )
        text, markup = screens.region_set(context.lang, bound), None
    await query.edit_message_text(text, reply_markup=markup)


async def set_time(update: Update, context: Context) -> None:
    """`/settime HH:MM`: when the daily post goes out (local time)."""
    assert update.effective_message is not None
    if not await _admin_or_refuse(update, context):
        return
    lang = context.lang
    when = parse_hhmm("".join(context.args or []))
    if when is None:
        await _say(update, context, screens.time_format(lang))
        return
    async with transaction(context.services.sessions) as session:
        await groups.set_post_time(session, _newcomer(update, context, lang), when)
    await _say(update, context, screens.time_set(lang, when))


async def pause(update: Update, context: Context) -> None:
    """`/pause`: no more daily posts until /resume; only the admin's /resume lifts it."""
    if not await _admin_or_refuse(update, context):
        return
    async with transaction(context.services.sessions) as session:
        await groups.pause(session, _newcomer(update, context, context.lang))
    await _say(update, context, screens.posts_active(context.lang, False))


async def resume(update: Update, context: Context) -> None:
    """`/resume`: daily posts again, in the forum topic it was sent in (if any); also the
    admin's word that the bot may post again after it was refused."""
    if not await _admin_or_refuse(update, context):
        return
    async with transaction(context.services.sessions) as session:
        await groups.resume(session, _newcomer(update, context, context.lang))
    await _say(update, context, screens.posts_active(context.lang, True))


# --------------------------------------------------------------------------- deep link


async def mission_link(update: Update, context: Context) -> None:
    """`/start m<id>`: a daily post's button; the mission's card, or an invitation to sign up.

    A mission no longer published is refused (`MissionNotFound`) by the error handler.
    """
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    mission_id = links.mission_id((context.args or [""])[0])
    async with context.services.sessions() as session:
        user = await accounts.registered_user(session, update.effective_user.id)
        mission = await missions.published_mission(session, mission_id or 0)
    lang = context.lang
    if user is None:
        await message.reply_text(invitation(lang, mission))
        return
    await message.reply_text(mission_card(lang, mission), reply_markup=card_buttons(lang, mission))


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
