"""Per-sender flood control, as a pre-filter (handler group -2) before any feature.

More than `flood_max_updates` updates from one sender within `flood_window_seconds` are
dropped (`ApplicationHandlerStop`) and a person gets one notice per window. The sender is the
person, or the chat a message was sent as (`bot.senders.sender_key`): every anonymous admin of
every group shares one stand-in user (@GroupAnonymousBot), so counting by user would let one
busy group's admins silence all the others'. Counts are in memory: one consumer owns each
sender's updates (DESIGN.md), so a per-process count is right.
"""

from __future__ import annotations

import time
from collections import deque

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import Context
from bot.senders import sender_key
from ui.i18n import t

_RECENT_KEY = "flood_recent"
_NOTICED_KEY = "flood_noticed"


async def limit(update: Update, context: Context) -> None:
    key = sender_key(update)
    if key is None:
        return
    settings = context.services.settings
    now = time.monotonic()
    recent: dict[int, deque[float]] = context.bot_data.setdefault(_RECENT_KEY, {})
    window = recent.setdefault(key, deque())
    while window and now - window[0] > settings.flood_window_seconds:
        window.popleft()
    window.append(now)
    if len(window) <= settings.flood_max_updates:
        return
    noticed: dict[int, float] = context.bot_data.setdefault(_NOTICED_KEY, {})
    if now - noticed.get(key, -1e9) > settings.flood_window_seconds:
        noticed[key] = now
        await context.answer()  # a dropped press still stops its spinner
        if update.effective_chat is not None and update.effective_chat.type == "private":
            await context.bot.send_message(
                update.effective_chat.id,
                t(
                    context.lang,
                    "Whoa, that's a lot at once! Please wait a few seconds.",
                ),
            )
    raise ApplicationHandlerStop


def register(application: Application) -> None:
    """Group -2: before every feature, and may stop an update (`ApplicationHandlerStop`)."""
    application.add_handler(TypeHandler(Update, limit), group=-2)
