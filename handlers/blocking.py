"""A person blocking and unblocking the bot, from their private chat.

Telegram sends `my_chat_member` in the private chat when a person blocks the bot (the bot's new
status "kicked") or unblocks it ("member"; Bot API, ChatMemberUpdated). Blocked, they are marked
so the outbox skips their notices instead of collecting 403s; unblocked, or writing to the bot
in any way (which on a blocked bot goes through "Restart"), they are reachable again. Groups'
`my_chat_member` stays with `handlers/groups.py`.

Registered in a handler group of its own before every feature (-3), so it sees every private
update, even one flood control then drops, and never stops one.
"""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import Application, TypeHandler

from bot.context import Context
from storage import users
from storage.db import transaction

GROUP = -3


async def private_update(update: Update, context: Context) -> None:
    """kicked → marked as having blocked the bot; anything else from the person → back."""
    chat, person = update.effective_chat, update.effective_user
    if chat is None or person is None or chat.type != ChatType.PRIVATE or chat.id != person.id:
        return
    change = update.my_chat_member
    if change is None:
        await _back_if_marked(context, person.id)
        return
    async with transaction(context.services.sessions) as session:
        if change.new_chat_member.status == ChatMember.BANNED:
            await users.blocked_the_bot(session, person.id)
        else:
            await users.back_in_touch(session, person.id)


async def _back_if_marked(context: Context, user_id: int) -> None:
    # Most people never blocked the bot: the mark is read with the person's other flags (one
    # query the gates share, `Context.flags`), and an idempotent UPDATE runs only for the rare
    # person a 403 marked whose unblock the bot never saw.
    if (await context.flags()).blocked_bot:
        async with transaction(context.services.sessions) as session:
            await users.back_in_touch(session, user_id)


def register(application: Application) -> None:
    """Group -3: before flood control and the features; it never stops an update."""
    application.add_handler(TypeHandler(Update, private_update), group=GROUP)
