"""Edited messages are not new messages: they are dropped before anything else sees them.

Telegram sends `edited_message` when a person edits a message, and for every move of a live
location, every few seconds for as long as it is shared (Bot API, `Update.edited_message`,
`Location.live_period`). python-telegram-bot's `MessageHandler` and `CommandHandler` match edits
as well as new messages, so each move would be answered ("use the buttons above", another list
of meetups near). The bot asks Telegram for none of them (`bot.ingress.ALLOWED_UPDATES`); an
edit that arrives all the same (a webhook registered by an older version, updates queued
before the list changed) stops here, in a handler group of its own before every other one, so
it costs nothing: no database write, no flood count, no reply.

No step wants an edit: signup and profile editing take the first message of a live location
(a normal `message` with `live_period`) as the place to check, and later moves add nothing.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, MessageHandler, filters

from bot.context import Context

GROUP = -4


async def drop(update: Update, context: Context) -> None:
    """An edited message or channel post: handled by nobody."""
    raise ApplicationHandlerStop


def register(application: Application) -> None:
    """Group -4, first of all: edits (`filters.UpdateType.EDITED`) stop here."""
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, drop), group=GROUP)
