"""Reporting someone met at a meetup (step 7): `/report` → person → reason → details → filed.

`/report` offers the people met at a meetup in the last 30 days; picking one starts the
conversation. The report goes to the moderators' group (an outbox notice written with it);
the person reported is never told who reported. `/cancel` drops it at any step.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
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
from conversations.steps import Questions
from storage import errors, moderation
from storage.db import transaction
from ui import callbacks
from ui import moderation as ui
from ui.callbacks import Action
from ui.i18n import t

REASON, DETAILS = range(2)
END = ConversationHandler.END
KEY = "report"
ANSWERS = {"meeting_id", "user_id", "reason"}  # what the steps gather before filing
QUESTIONS = Questions(KEY)  # the open question, to show its answer once given


async def report_command(update: Update, context: Context) -> None:
    """`/report`: pick the person, among those met recently."""
    assert update.effective_user is not None and update.effective_message is not None
    svc = context.services
    async with svc.sessions() as session:
        people = await moderation.met(session, update.effective_user.id, svc.clock.now())
    text, markup = ui.people_met(context.lang, people, Action.REPORT_PICK)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def pick(update: Update, context: Context) -> int:
    """Stores whom (and which meetup) the report is about and asks what happened."""
    assert update.effective_chat is not None and context.user_data is not None
    meeting_id, user_id = context.pressed.int_arg(0), context.pressed.int_arg(1)
    await QUESTIONS.answered(update, context)  # the list shows whom
    context.user_data[KEY] = {"meeting_id": meeting_id, "user_id": user_id}
    await QUESTIONS.ask(update, context, ui.reasons(context.lang))
    return REASON


async def reason(update: Update, context: Context) -> int:
    """Stores the reason and asks for details (or /skip)."""
    assert update.effective_chat is not None
    chosen = context.pressed.args[0]
    if chosen not in ui.REASON_LABELS:  # a forged reason: said so, the question stays
        await context.stale_button()
        return REASON
    await QUESTIONS.answered(update, context)
    context.scratch(KEY)["reason"] = chosen
    await context.bot.send_message(
        update.effective_chat.id,
        t(context.lang, "Tell the moderators more in one message, or send /skip."),
    )
    return DETAILS


async def details(update: Update, context: Context) -> int:
    """Files the report with the details typed."""
    assert update.effective_message is not None
    return await _file(update, context, update.effective_message.text)


async def skip(update: Update, context: Context) -> int:
    """Files the report without details."""
    return await _file(update, context, None)


async def cancel(update: Update, context: Context) -> int:
    """Drops the report."""
    assert context.user_data is not None and update.effective_message is not None
    await QUESTIONS.close(update, context)  # the open question loses its buttons
    context.user_data.pop(KEY, None)
    await update.effective_message.reply_text(t(context.lang, "Okay, no report was sent."))
    return END


async def _file(update: Update, context: Context, text: str | None) -> int:
    """Files the report (one transaction) and ends the conversation, filed or refused."""
    assert context.user_data is not None and update.effective_user is not None
    assert update.effective_message is not None
    answers, svc = context.user_data.pop(KEY, {}), context.services
    if not answers.keys() >= ANSWERS:  # the answers were lost: nobody to report
        await context.refuse(errors.NotMet())
        return END
    try:
        async with transaction(svc.sessions) as session:
            await moderation.file_report(
                session, reporter_id=update.effective_user.id, reported_id=answers["user_id"],
                meeting_id=answers["meeting_id"], reason=answers["reason"], details=text,
                admin_chat_id=svc.settings.admin_chat_id, now=svc.clock.now(),
            )  # fmt: skip
    except (errors.NotMet, errors.AccountError) as refused:  # or deleted, banned, suspended
        await context.refuse(refused)
        return END
    await update.effective_message.reply_text(
        t(context.lang, "Thank you. The moderators will look at it; the person is not told who "
                        "reported.")
    )  # fmt: skip
    return END


async def timed_out(update: Update, context: Context) -> None:
    """Idle too long: nothing is filed, and the person is told (PTB ends the conversation).
    The open question loses its buttons."""
    assert context.user_data is not None
    await QUESTIONS.close_open(update, context)
    context.user_data.pop(KEY, None)
    if update.effective_chat is not None:
        await context.bot.send_message(
            update.effective_chat.id,
            t(context.lang, "I stopped the report because nothing happened for a while; "
                            "nothing was sent. Send /report to start again."),
        )  # fmt: skip


def conversation(
    timeout_seconds: float, people: Mapping[int, Mapping[str, Any]]
) -> ConversationHandler:
    """Person → reason → details (or /skip) → filed."""
    text = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE

    def button(action: str, callback: Any) -> CallbackQueryHandler:
        return CallbackQueryHandler(callback, pattern=callbacks.pattern(action))

    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return Conversation(
            entry_points=[button(Action.REPORT_PICK, pick)],
            states={
                REASON: [button(Action.REPORT_REASON, reason)],
                DETAILS: [CommandHandler("skip", skip), MessageHandler(text, details)],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="report",
            persistent=True,
            conversation_timeout=timeout_seconds,
            people=people,
        )


def register(application: Application) -> None:
    """Step 7: the report conversation (started by a person's button) and `/report`."""
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(conversation(timeout, application.user_data))
    application.add_handler(
        CommandHandler("report", report_command, filters=filters.ChatType.PRIVATE)
    )
