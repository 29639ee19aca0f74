"""The last line: buttons nobody routes, and the one error handler."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import Context
from bot.transport import maybe_delivered
from ui.callbacks import InvalidCallback
from ui.i18n import t

log = logging.getLogger(__name__)


async def stale_button(update: Update, context: Context) -> None:
    """Any press no feature claimed: a forged, corrupt or outdated button.

    Answering the query matters: otherwise the person's client shows a spinner until
    Telegram times it out.
    """
    query = update.callback_query
    assert query is not None
    await query.answer(
        t(context.lang, "This button no longer works. Send /start to begin again."),
        show_alert=False,
    )


async def on_error(update: object, context: Context) -> None:
    """Logs the failure without personal data and apologises to the person in front."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, InvalidCallback) and isinstance(update, Update):
        # Data that matched an action's prefix but not its arguments: a forged or corrupt
        # press. One answer for all of them, here, rather than a check in every handler.
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer(
                    t(
                        context.lang,
                        "This button no longer works. Send /start to begin again.",
                    )
                )
        return
    # Only the type and the update id: messages, names and phone numbers stay out of logs.
    log.error(
        "update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=error if not isinstance(error, TelegramError) else None,
    )
    if not isinstance(update, Update) or isinstance(error, Forbidden):
        return
    if error is not None and maybe_delivered(error):
        # Telegram carried the call out and only its answer was late: the person saw the
        # reply, and the state behind it is committed, so an apology would be a false alarm.
        return
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await context.bot.send_message(
            chat.id,
            t(
                context.lang,
                "Sorry, something went wrong on my side. Please try again in a moment.",
            ),
        )
    except TelegramError:
        log.warning("could not send the apology for update %s", update_id)
