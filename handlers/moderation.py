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
from ui import callbacks, notices
from ui import moderation as ui
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t

SHOWN = 5  # report cards per /reports page


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


async def reports_command(update: Update, context: Context) -> None:
    """`/reports` (issue 23): the open reports, a page at a time, each a card with the same
    buttons as in the admin group (decided by `moderate`)."""
    chat = update.effective_chat
    assert chat is not None
    if chat.type != "private" and chat.id != context.services.settings.admin_chat_id:
        return  # a neighbourhood group: not a place for reports
    await _reports_page(update, context, 0)


async def reports_page(update: Update, context: Context) -> None:
    """‹ Earlier / Later › under `/reports`."""
    await context.answer()
    await _reports_page(update, context, context.pressed.int_arg(0))


async def _reports_page(update: Update, context: Context, page: int) -> None:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    svc, lang = context.services, context.lang
    async with svc.sessions() as session:
        found = await moderation.open_reports(session, user.id, page, SHOWN)
    if not found.reports:
        await context.bot.send_message(chat.id, t(lang, ui.NO_REPORTS))
        return
    for report in found.reports:
        values = ui.report_values(report)
        text = notices.render("report_filed", lang, values, None, svc.settings.zone)
        markup = notices.buttons("report_filed", lang, values)
        await context.bot.send_message(chat.id, text, reply_markup=markup)
    header, nav = ui.reports_header(lang, found)
    await context.bot.send_message(chat.id, header, reply_markup=nav)


async def ban_command(update: Update, context: Context) -> None:
    """`/ban <telegram id> <reason>` (issue 23): closes an account for good; the person is
    told, their points are kept, frozen."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args, lang, svc = context.args or [], context.lang, context.services
    reason = " ".join(args[1:]).strip()
    if not args or not args[0].isdigit() or not reason:
        await message.reply_text(t(lang, ui.BAN_USAGE))
        return
    async with transaction(svc.sessions) as session:
        banned = await moderation.ban(session, int(args[0]), user.id, reason, svc.clock.now())
        name, kept = banned.display_name, banned.ban_reason
    await message.reply_text(t(lang, ui.BANNED_DONE, name=name or "-", id=args[0], reason=kept))


async def unban_command(update: Update, context: Context) -> None:
    """`/unban <telegram id>`: lifts a ban."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args, lang, svc = context.args or [], context.lang, context.services
    if len(args) != 1 or not args[0].isdigit():
        await message.reply_text(t(lang, ui.UNBAN_USAGE))
        return
    async with transaction(svc.sessions) as session:
        lifted = await moderation.unban(session, int(args[0]), user.id)
        name = lifted.display_name
    await message.reply_text(t(lang, ui.UNBANNED_DONE, name=name or "-", id=args[0]))


def register(application: Application) -> None:
    """Step 7: /block, the moderators' buttons and the block buttons (the report conversation
    registers itself from `conversations/report.py`)."""
    application.add_handler(
        CommandHandler("block", block_command, filters=filters.ChatType.PRIVATE)
    )
    # Issue 23: /reports in private and in the admin group; /ban and /unban in private.
    group = filters.ChatType.GROUPS
    application.add_handler(
        CommandHandler("reports", reports_command, filters=filters.ChatType.PRIVATE | group)
    )
    application.add_handler(CommandHandler("ban", ban_command, filters=filters.ChatType.PRIVATE))
    application.add_handler(
        CommandHandler("unban", unban_command, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in (
        (Action.MODERATE, moderate),
        (Action.BLOCK, block_person),
        (Action.REPORTS_PAGE, reports_page),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
