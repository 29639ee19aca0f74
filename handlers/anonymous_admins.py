"""Anonymous admins of the admin group: commands that record who acted are asked for privately.

An admin with "Remain anonymous" posts as the group itself (`sender_chat`; `from` is the stand-in
@GroupAnonymousBot, the same for every anonymous admin anywhere): the bot cannot tell who wrote.
What only reads (`/drafts`, `/stats`) answers them (`bot.senders.anonymous_admin_of`); what
records which admin acted on points or decisions cannot be done as nobody in particular, so
it gets a polite ask to send the command in a private chat, where it works for every operator.
Buttons are not affected: a press always names the real person.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.context import Context
from bot.senders import anonymous_admin_of
from ui.anonymous import name_needed

# Commands that record which admin acted (`/refund`: who gave the points back).
NAMED_COMMANDS = ("refund",)


async def ask_to_be_named(update: Update, context: Context) -> None:
    """A named-only command sent as the admin group: the ask, and nothing changes."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if not await anonymous_admin_of(update, context, context.services.settings.admin_chat_id):
        return  # another group, or a channel: not the operators' place
    command = message.text.split()[0].lstrip("/").split("@")[0].lower()
    await message.reply_text(name_needed(context.lang, command))


def register(application: Application) -> None:
    """The named-only commands as a chat sends them in a group; in private chats they are
    their features' (`/refund`: handlers/market.py)."""
    sent_as_a_chat = filters.ChatType.GROUPS & filters.SenderChat.ALL
    application.add_handler(CommandHandler(NAMED_COMMANDS, ask_to_be_named, filters=sent_as_a_chat))
