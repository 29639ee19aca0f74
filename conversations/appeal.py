"""An appeal, once (issue 23): the appeal button on a rejection notice → the reason → filed.

The button checks at once that the photo may be appealed (the sender's own, rejected by an
admin, not appealed before, still kept); a refusal is said and nothing starts. The reason is
one short text message (`storage.appeals.MAX_REASON` characters; a longer one is asked again);
`/cancel` or "Cancel" under the question drops it. Answered, the question shows the reason's
start (or "Cancelled") and loses its button (`conversations.steps.Questions`). Filed, the
appeal's card (the photo's review card with the reason) goes to the admin group when one is
set, through the outbox (queued with the appeal); either way it waits on `/review` for an
admin other than the one who rejected the photo.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from conversations.owner import Conversation
from conversations.steps import Questions, button
from storage import appeals, errors
from storage.db import transaction
from ui import appeals as ui
from ui import callbacks
from ui.callbacks import Action
from ui.i18n import t
from ui.meetups import note_answer

REASON = 0
END = ConversationHandler.END
KEY = "appeal"
QUESTIONS = Questions(KEY)  # the photo appealed and the open question


def _retention(context: Context) -> timedelta:
    return timedelta(days=context.services.settings.photo_retention_days)


async def start(update: Update, context: Context) -> int:
    """The appeal button: asks for the reason when this photo may be appealed."""
    assert update.effective_user is not None and update.effective_chat is not None
    evidence_id, svc = context.pressed.int_arg(0), context.services
    try:
        async with svc.sessions() as session:
            await appeals.appealable(
                session, evidence_id, update.effective_user.id, svc.clock.now(), _retention(context)
            )
    except (errors.AppealRefused, errors.AccountError) as refused:
        await context.refuse(refused)
        return END
    await context.answer()
    await QUESTIONS.close_open(update, context)  # a question of an earlier try
    context.scratch(KEY).clear()
    context.scratch(KEY)["evidence_id"] = evidence_id
    await QUESTIONS.ask(update, context, ui.reason_question(context.lang))
    return REASON


async def reason(update: Update, context: Context) -> int:
    """The reason typed: too long is asked again; else the appeal is filed."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and context.user_data is not None
    text = (message.text or "").strip()
    if len(text) > appeals.MAX_REASON:
        await message.reply_text(
            t(context.lang, ui.TOO_LONG, max=appeals.MAX_REASON, length=len(text))
        )
        return REASON
    evidence_id = QUESTIONS.answers(context).get("evidence_id")
    if not text or evidence_id is None:
        return await cancel(update, context)
    try:
        await _file(context, int(evidence_id), user.id, text)
    except (errors.AppealRefused, errors.AccountError) as refused:
        await _end(update, context, None)
        await context.refuse(refused)
        return END
    await _end(update, context, note_answer(text))
    await message.reply_text(t(context.lang, ui.FILED))
    return END


async def _file(context: Context, evidence_id: int, user_id: int, text: str) -> None:
    svc = context.services
    async with transaction(svc.sessions) as session:
        await appeals.file_for_card(
            session, evidence_id=evidence_id, user_id=user_id, reason=text, now=svc.clock.now(),
            retention=_retention(context), admin_chat_id=svc.settings.admin_chat_id,
            max_attempts=svc.settings.evidence_max_attempts,
        )  # fmt: skip


async def _end(update: Update, context: Context, shown: str | None) -> None:
    """The conversation ends: the question shows `shown` (or just loses its "Cancel")."""
    if shown is None:
        await QUESTIONS.close_open(update, context)
    else:
        await QUESTIONS.answered(update, context, shown)
    assert context.user_data is not None
    context.user_data.pop(KEY, None)


async def not_text(update: Update, context: Context) -> int:
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(context.lang, ui.TEXT_ONLY))
    return REASON


async def cancel(update: Update, context: Context) -> int:
    """`/cancel` or the question's "Cancel": the question shows "Cancelled"."""
    assert context.user_data is not None and update.effective_message is not None
    await QUESTIONS.cancelled(update, context)
    context.user_data.pop(KEY, None)
    await update.effective_message.reply_text(t(context.lang, ui.CANCELLED))
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Idle too long: nothing is filed, the question loses its button, and the person is told
    (PTB ends the conversation)."""
    await _end(update, context, None)
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, t(context.lang, ui.TIMED_OUT))


def conversation(
    timeout_seconds: float, people: Mapping[int, Mapping[str, Any]]
) -> ConversationHandler:
    """Appeal button → reason (or /cancel) → filed."""
    private = filters.ChatType.PRIVATE
    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return Conversation(
            entry_points=[CallbackQueryHandler(start, pattern=callbacks.pattern(Action.APPEAL))],
            states={
                REASON: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND & private, reason),
                    MessageHandler(~filters.COMMAND & private, not_text),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler("cancel", cancel), button(cancel, Action.STOP, "appeal")],
            name="appeal",
            persistent=True,
            conversation_timeout=timeout_seconds,
            people=people,
        )


def register(application: Application) -> None:
    """Issue 23: the appeal conversation, started by the button on a rejection notice."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout, application.user_data))
