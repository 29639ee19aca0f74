"""Safety (step 7): moderators' decisions on reports, and `/block`.

A report (filed through `conversations/report.py`) reaches the admin group with Warn /
Suspend / Dismiss; every press re-checks on the server that the presser is an admin, and the
first decision wins. Each press is answered first, before the database work; refusals (not an
admin, already handled) are then said in the chat by the error handler.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from storage import errors, moderation
from storage.db import transaction
from ui import callbacks
from ui import moderation as ui
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t


async def moderate(update: Update, context: Context) -> None:
    """Warn / Suspend / Dismiss on a report card in the admin group."""
    query, user, pressed = update.callback_query, update.effective_user, context.pressed
    assert query is not None and user is not None
    report_id, action = pressed.int_arg(0), pressed.args[1]
    if action not in moderation.ACTIONS:
        raise InvalidCallback("unknown action")
    svc = context.services
    await context.answer()
    async with transaction(svc.sessions) as session:
        await moderation.decide(session, report_id, action, user.id, svc.clock.now())
    card = getattr(query.message, "text", None) or ""
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            ui.decided(context.lang, card, action, user.first_name), reply_markup=None
        )


async def block_command(update: Update, context: Context) -> None:
    """`/block`: pick someone met recently; you will not see each other's meetups."""
    assert update.effective_user is not None and update.effective_message is not None
    svc = context.services
    async with svc.sessions() as session:
        people = await moderation.met(session, update.effective_user.id, svc.clock.now())
    text, markup = ui.people_met(context.lang, people, Action.BLOCK)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def block_person(update: Update, context: Context) -> None:
    """A person picked to block: blocked both ways, once."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    svc, blocked = context.services, context.pressed.int_arg(0)
    await context.answer()
    try:
        async with transaction(svc.sessions) as session:
            await moderation.block(session, user.id, blocked, svc.clock.now())
    except errors.NotMet as refused:  # never met: a forged or outdated button
        await context.refuse(refused, alert=False)
        return
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(t(context.lang, ui.BLOCKED))


def register(application: Application) -> None:
    """Step 7: /block, the moderators' buttons and the block buttons (the report conversation
    registers itself from `conversations/report.py`)."""
    application.add_handler(
        CommandHandler("block", block_command, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in ((Action.MODERATE, moderate), (Action.BLOCK, block_person)):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
