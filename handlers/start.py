"""First words: `/help` lists the commands, and the greeting's buttons explain the service.

The greeting itself is sent by the signup conversation, which owns a bare `/start`
(`conversations.signup`); deep links (`/start <payload>`) are routed before it (`bot.app`).
The texts are in `ui.greetings`.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context
from ui import callbacks
from ui.callbacks import Action
from ui.greetings import TOPICS, help_text, help_topic


async def help_command(update: Update, context: Context) -> None:
    """Lists the commands that work in this kind of chat."""
    assert update.effective_message is not None and update.effective_chat is not None
    private = update.effective_chat.type == "private"
    await update.effective_message.reply_text(help_text(context.lang, private))


async def help_button(update: Update, context: Context) -> None:
    """Answers the greeting's buttons with the chosen explanation (also during signup: the
    signup conversations let these presses through)."""
    query = update.callback_query
    assert query is not None
    topic = context.pressed.args[0]
    if topic not in TOPICS:
        await context.stale_button()
        return
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, help_topic(context.lang, topic))


def register(application: Application) -> None:
    """/help and the greeting's "how does it work?" buttons."""
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(
        CallbackQueryHandler(help_button, pattern=callbacks.pattern(Action.HELP))
    )
