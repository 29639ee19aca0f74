"""The last line: buttons nobody routes, refusals nobody caught, and the one error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot import metrics
from bot.context import Context, too_late
from bot.transport import maybe_delivered
from storage.errors import DomainError
from ui.callbacks import InvalidCallback
from ui.i18n import t
from ui.refusals import FALLBACK, STALE_BUTTON

log = logging.getLogger(__name__)


async def stale_button(update: Update, context: Context) -> None:
    """Any press no feature claimed: a forged, corrupt or outdated button.

    Answering the query matters: otherwise the person's client shows a spinner until
    Telegram times it out.
    """
    await context.stale_button()


async def unknown_command(update: Update, context: Context) -> None:
    """Tells the person a command is unknown instead of staying silent."""
    assert update.effective_message is not None
    lang = context.lang
    await update.effective_message.reply_text(
        t(lang, "I don't know that command. /help lists what I can do.")
    )


async def on_error(update: object, context: Context) -> None:
    """Answers refusals and bad buttons; logs failures without personal data and apologises
    for them, never for a press Telegram no longer lets us answer (the work was done)."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(update, Update) and isinstance(error, InvalidCallback | DomainError):
        await _refuse(update, context, error)
        return
    if _not_modified(error):
        log.debug("update %s: the edit changed nothing (message is not modified)", update_id)
        return
    metrics.ERRORS.inc()
    if error is not None and too_late(error):
        # A press answered directly (not through `context.answer`) after Telegram stopped
        # waiting: the handler stopped there, so its follow-ups may be lost (counted, logged),
        # but the change before it is committed, so no apology.
        log.error("update %s: a press was answered too late, outside context.answer", update_id)
        return
    # Only the type and the update id: messages, names and phone numbers stay out of logs.
    log.error(
        "update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=error if not isinstance(error, TelegramError) else None,
    )
    if isinstance(update, Update):
        await _stop_spinner(update, context)
        if _owes_an_apology(error):
            await _apologise(update, context)


async def _refuse(update: Update, context: Context, error: InvalidCallback | DomainError) -> None:
    """A forged or corrupt press (data that matched an action's prefix but not its arguments),
    or a refusal a handler let through: one answer for all, here (a message when the press
    was answered before the work). If that fails it is logged; an apology would only repeat
    the trouble."""
    try:
        if isinstance(error, DomainError):
            await context.refuse(error)
        elif context.answered:
            # Answered before its work read the data (the usual order): a message says it.
            await context.answer(t(context.lang, STALE_BUTTON), or_message=True)
        else:
            await context.stale_button()
    except TelegramError as failed:
        log.error("update %s failed: %s", update.update_id, type(failed).__name__)


async def _stop_spinner(update: Update, context: Context) -> None:
    """A press that failed before it was answered: the answer stops the client's spinner. One
    answered already (the usual case: answered first) is never answered twice."""
    if update.callback_query is None or context.answered:
        return
    try:
        await context.answer()
    except TelegramError:
        log.warning("could not answer the failed press of update %s", update.update_id)


def _not_modified(error: BaseException | None) -> bool:
    """An edit to what the message shows already: a double tap, nothing failed.

    The Bot API refuses an edit that changes nothing with 400 "Bad Request: message is not
    modified: specified new message content and reply markup are exactly the same as a current
    content and reply markup of the message" (editMessageText, editMessageCaption,
    editMessageReplyMarkup). The Bot API docs list no error texts; the method underneath,
    https://core.telegram.org/method/messages.editMessage, lists 400 MESSAGE_NOT_MODIFIED.
    The person sees what they asked for: no failure, no apology, one rule here for all edits.
    """
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


def _owes_an_apology(error: BaseException | None) -> bool:
    # A blocked bot cannot write; and when Telegram carried the call out and only its answer
    # was late, the person saw the reply and the state behind it is committed.
    return not isinstance(error, Forbidden) and not (error is not None and maybe_delivered(error))


async def _apologise(update: Update, context: Context) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, t(context.lang, FALLBACK))
    except TelegramError:
        log.warning("could not send the apology for update %s", update.update_id)


def register(application: Application) -> None:
    """Last of all: commands and presses no feature claimed, and the error handler."""
    application.add_handler(
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command)
    )
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_error_handler(on_error)
