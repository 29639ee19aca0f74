"""First words: `/help` lists the commands, and the greeting's buttons explain the service.

The greeting itself is sent by the signup conversation, which owns a bare `/start`
(`conversations.signup`); deep links (`/start <payload>`) are routed before it (`bot.app`).
The texts are in `ui.greetings`.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.menus import publish_operator_menu
from bot.senders import sender_is_admin
from ui import callbacks
from ui.callbacks import Action
from ui.greetings import TOPICS, WHOAMI, help_text, help_topic
from ui.i18n import t


async def help_command(update: Update, context: Context) -> None:
    """Lists the commands that work in this kind of chat, as its command menu does: in a
    group written `/name@bot`, with the admin commands for one of its admins (asked of
    Telegram), and the review commands in the admin group."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    if chat.type == ChatType.PRIVATE:
        # An operator (`halsaram admin add`) sees their commands too: the menu cannot show
        # them, Telegram's scopes know nothing of who operates the bot.
        operator = (await context.flags()).admin
        await message.reply_text(help_text(context.lang, True, operator=operator))
        if operator:  # their menu too, for an admin made while the bot runs (issue 23)
            await publish_operator_menu(context.bot, chat.id)
        return
    admin_group = chat.id == context.services.settings.admin_chat_id
    text = help_text(
        context.lang,
        False,
        group_admin=not admin_group and await sender_is_admin(update, context),
        admin_group=admin_group,
        bot_username=context.bot.username,
    )
    await message.reply_text(text)


async def help_button(update: Update, context: Context) -> None:
    """Answers the greeting's buttons with the chosen explanation (also during signup: the
    signup conversations let these presses through)."""
    query = update.callback_query
    assert query is not None
    topic = context.pressed.args[0]
    if topic not in TOPICS:
        await context.stale_button()
        return
    await context.answer()
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, help_topic(context.lang, topic))


async def whoami(update: Update, context: Context) -> None:
    """`/whoami` (issue 23): the person's Telegram id, and how an operator on this machine
    makes them an admin (`make admin ID=…`); not in the menu, the README points to it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    await message.reply_text(t(context.lang, WHOAMI, id=user.id))


def register(application: Application) -> None:
    """/help, /whoami and the greeting's "how does it work?" buttons."""
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("whoami", whoami, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CallbackQueryHandler(help_button, pattern=callbacks.pattern(Action.HELP))
    )
