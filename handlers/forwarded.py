"""Admin buttons pressed on a forwarded copy of an admin card.

Telegram keeps inline buttons on a forwarded message and lets whoever sees the copy press them;
the callback then carries the copy (it has `forward_origin`), not the card in the admin group.
A decision taken there could not update the group's card, and the copy may have travelled to
people who should not see it acted on, so such presses are answered and stopped here, before
the feature handlers (which check the presser's admin rights on every press anyway).
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler

from bot.context import Context
from ui import callbacks
from ui.callbacks import Action
from ui.i18n import t

ADMIN_ACTIONS = (
    Action.REVIEW_APPROVE,
    Action.REVIEW_REJECT,
    Action.REVIEW_REASON,
    Action.REVIEW_AGAIN,
    Action.REVIEW_BACK,
    Action.MODERATE,
    Action.DRAFT_PUBLISH,
    Action.DRAFT_POINTS,
    Action.DRAFT_DISCARD,
)


async def admin_button_on_a_copy(update: Update, context: Context) -> None:
    """Lets a press on the bot's own card through; stops one on a forwarded copy."""
    query = update.callback_query
    assert query is not None
    message = query.message
    if not isinstance(message, Message) or message.forward_origin is None:
        return
    await query.answer(
        t(
            context.lang,
            "This is a forwarded copy. Please decide on the card in the admin group.",
        ),
        show_alert=True,
    )
    raise ApplicationHandlerStop


def register(application: Application) -> None:
    """Group -1: after flood control, before every feature."""
    application.add_handler(
        CallbackQueryHandler(admin_button_on_a_copy, pattern=callbacks.pattern_any(ADMIN_ACTIONS)),
        group=-1,
    )
