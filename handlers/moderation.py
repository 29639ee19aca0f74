"""Safety (step 7): `/report` someone met at a meetup, moderators' decisions, `/block`.

A report goes to the admin group with Warn / Suspend / Dismiss; every press re-checks on the
server that the presser is an admin, and the first decision wins.
"""

from __future__ import annotations

import contextlib
import warnings
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from bot.services import services_of
from handlers.profile import account_or_invite
from storage import errors, moderation
from storage.db import transaction
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, t

REASON, DETAILS = range(2)
END = ConversationHandler.END
KEY = "report"
RECENT = timedelta(days=30)
REASON_LABELS = {
    "harassment": N_("Harassment"),
    "no_show": N_("Did not show up"),
    "unsafe": N_("Made me feel unsafe"),
    "spam": N_("Spam or selling"),
    "other": N_("Something else"),
}
ACTION_LABELS = {
    "warn": N_("warned"),
    "suspend": N_("suspended for 7 days"),
    "dismiss": N_("dismissed"),
}


async def _people_met(update: Update, context: Context, action: str) -> None:
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        people = await moderation.met(session, user.id, svc.clock.now() - RECENT)
    assert update.effective_message is not None
    if not people:
        await update.effective_message.reply_text(
            t(lang, "You can do this for people you met at a meetup in the last 30 days.")
        )
        return
    args = (lambda p: (p[2], p[0])) if action == Action.REPORT_PICK else (lambda p: (p[0],))
    rows = [
        [(name, callbacks.encode(action, *args((uid, name, mid))))] for uid, name, mid in people
    ]
    prompt = (
        t(lang, "Who do you want to report?")
        if action == Action.REPORT_PICK
        else t(lang, "Who do you want to block? You won't see each other's meetups.")
    )
    await update.effective_message.reply_text(prompt, reply_markup=keyboards.inline(rows[:10]))


async def report_command(update: Update, context: Context) -> None:
    """`/report`: pick the person, among those met recently."""
    await _people_met(update, context, Action.REPORT_PICK)


async def report_pick(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await keyboards.close_buttons(update)
    parsed = callbacks.decode(query.data)
    context.user_data[KEY] = {"meeting_id": parsed.int_arg(0), "user_id": parsed.int_arg(1)}
    lang = context.lang
    rows = [[(t(lang, label), callbacks.encode(Action.REPORT_REASON, key))]
            for key, label in REASON_LABELS.items()]  # fmt: skip
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, t(lang, "What happened?"), reply_markup=keyboards.inline(rows)
    )
    return REASON


async def report_reason(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await keyboards.close_buttons(update)
    reason = callbacks.decode(query.data).args[0]
    if reason not in REASON_LABELS:
        return REASON
    context.user_data.setdefault(KEY, {})["reason"] = reason
    lang = context.lang
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id,
        t(lang, "Tell the moderators more in one message, or send /skip."),
    )
    return DETAILS


async def _file(update: Update, context: Context, details: str | None) -> int:
    assert context.user_data is not None and update.effective_user is not None
    assert update.effective_message is not None
    lang = context.lang
    svc = context.services
    data = context.user_data.pop(KEY, {})
    try:
        async with transaction(svc.sessions) as session:
            await moderation.file_report(
                session, reporter_id=update.effective_user.id, reported_id=data["user_id"],
                meeting_id=data["meeting_id"], reason=data["reason"], details=details,
                admin_chat_id=svc.settings.admin_chat_id, now=svc.clock.now(),
            )  # fmt: skip
    except (errors.ModerationError, KeyError):
        await update.effective_message.reply_text(
            t(lang, "You can do this for people you met at a meetup in the last 30 days.")
        )
        return END
    await update.effective_message.reply_text(
        t(lang, "Thank you. The moderators will look at it; the person is not told who reported.")
    )
    return END


async def report_details(update: Update, context: Context) -> int:
    assert update.effective_message is not None
    return await _file(update, context, update.effective_message.text)


async def report_skip(update: Update, context: Context) -> int:
    return await _file(update, context, None)


async def report_cancel(update: Update, context: Context) -> int:
    assert context.user_data is not None and update.effective_message is not None
    context.user_data.pop(KEY, None)
    await update.effective_message.reply_text(t(context.lang, "Okay, no report was sent."))
    return END


def report_conversation(timeout_seconds: float) -> ConversationHandler:
    """Person → reason → details (or /skip) → filed."""
    text = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE

    def button(action: str, callback: Any) -> CallbackQueryHandler:
        return CallbackQueryHandler(callback, pattern=callbacks.pattern(action))

    with warnings.catch_warnings():
        # Tracked per person, not per message, on purpose (see conversations.signup).
        warnings.filterwarnings("ignore", message=".*per_message=False.*")
        return ConversationHandler(
            entry_points=[button(Action.REPORT_PICK, report_pick)],
            states={
                REASON: [button(Action.REPORT_REASON, report_reason)],
                DETAILS: [
                    CommandHandler("skip", report_skip),
                    MessageHandler(text, report_details),
                ],
            },
            fallbacks=[CommandHandler("cancel", report_cancel)],
            name="report",
            persistent=True,
            conversation_timeout=timeout_seconds,
        )


async def moderate(update: Update, context: Context) -> None:
    """Warn / Suspend / Dismiss on a report card in the admin group."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    parsed = callbacks.decode(query.data)
    report_id, action = parsed.int_arg(0), parsed.args[1]
    try:
        async with transaction(svc.sessions) as session:
            await moderation.decide(
                session, report_id, action, update.effective_user.id, svc.clock.now()
            )
    except errors.NotAdmin:
        await query.answer(t(lang, "Only admins can do that."), show_alert=True)
        return
    except errors.AlreadyHandled as done:
        label = t(lang, ACTION_LABELS.get(done.action or "", "dismissed"))
        await query.answer(t(lang, "Already handled: {action}.", action=label), show_alert=True)
        return
    except (errors.ModerationError, ValueError):
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer()
    message = query.message
    text = getattr(message, "text", None) or ""
    decided = t(lang, "Decision: {action} by {admin}.", action=t(lang, ACTION_LABELS[action]),
                admin=update.effective_user.first_name)  # fmt: skip
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(f"{text}\n\n{decided}", reply_markup=None)


async def block_command(update: Update, context: Context) -> None:
    """`/block`: pick someone met recently; you will not see each other's meetups."""
    await _people_met(update, context, Action.BLOCK)


async def block_person(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            await moderation.block(
                session, update.effective_user.id, callbacks.decode(query.data).int_arg(0),
                svc.clock.now(),
            )  # fmt: skip
    except errors.ModerationError:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            t(lang, "Blocked. You won't see each other's meetups, and they can't join yours.")
        )


def register(application: Application) -> None:
    """Step 7: the report conversation, /report and /block, moderators' and block buttons."""
    private = filters.ChatType.PRIVATE
    timeout = services_of(application.bot_data).settings.conversation_timeout_minutes * 60
    application.add_handler(report_conversation(timeout))
    application.add_handler(CommandHandler("report", report_command, filters=private))
    application.add_handler(CommandHandler("block", block_command, filters=private))
    for action, callback in ((Action.MODERATE, moderate), (Action.BLOCK, block_person)):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
