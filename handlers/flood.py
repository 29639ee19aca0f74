"""Per-person flood control, as a pre-filter (handler group -1) before any feature.

More than `flood_max_updates` updates from one person within `flood_window_seconds` are
dropped (`ApplicationHandlerStop`) and the person gets one notice per window. Counts are in
memory: one consumer owns each person's updates (DESIGN.md), so a per-process count is right.
"""

from __future__ import annotations

import time
from collections import deque

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import Context
from ui.i18n import t

_RECENT_KEY = "flood_recent"
_NOTICED_KEY = "flood_noticed"


async def limit(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    settings = context.services.settings
    now = time.monotonic()
    recent: dict[int, deque[float]] = context.bot_data.setdefault(_RECENT_KEY, {})
    window = recent.setdefault(user.id, deque())
    while window and now - window[0] > settings.flood_window_seconds:
        window.popleft()
    window.append(now)
    if len(window) <= settings.flood_max_updates:
        return
    noticed: dict[int, float] = context.bot_data.setdefault(_NOTICED_KEY, {})
    if now - noticed.get(user.id, -1e9) > settings.flood_window_seconds:
        noticed[user.id] = now
        if update.callback_query is not None:
            await update.callback_query.answer()
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
