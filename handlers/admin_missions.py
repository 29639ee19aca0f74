"""Step 2, review: admins publish, re-price or discard generated missions.

`halsaram missions generate` stores drafts; an admin sends `/drafts` in the admin group (or
in a private chat with the bot) and gets one card per waiting draft, with Publish, points
buttons and Discard. Each press is re-checked on the server: a forwarded card pressed by
someone who is not an admin changes nothing and gets a polite answer.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.senders import anonymous_admin_of
from storage import missions
from storage.db import transaction
from ui import callbacks
from ui import missions as screens
from ui.callbacks import Action

SHOWN = 10  # cards per /drafts; more would flood the group
DECISIONS: dict[str, missions.Decision] = {
    Action.DRAFT_PUBLISH: "publish",
    Action.DRAFT_DISCARD: "discard",
    Action.DRAFT_POINTS: "points",
}


async def show_drafts(update: Update, context: Context) -> None:
    """`/drafts`: a review card for each waiting draft, in this chat."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    assert message is not None and chat is not None and user is not None
    svc, lang = context.services, context.lang
    if chat.type != "private" and chat.id != svc.settings.admin_chat_id:
        return  # another group: not the place for reviews, and nobody there asked us
    # An anonymous admin of the admin group (Telegram names nobody) may read the drafts; the
    # buttons then name whoever presses them. Someone who is not an admin: NotAdmin("command")
    # is answered by the error handler.
    anonymous = await anonymous_admin_of(update, context, svc.settings.admin_chat_id)
    async with svc.sessions() as session:
        if anonymous:
            drafts = await missions.waiting_drafts(session, SHOWN)
        else:
            drafts = await missions.drafts_for_review(session, user.id, SHOWN)
    if not drafts.missions:
        await message.reply_text(screens.no_drafts(lang))
        return
    for mission in drafts.missions:
        await context.bot.send_message(
            chat.id,
            screens.review_card(lang, mission),
            reply_markup=screens.review_buttons(lang, mission),
        )
    more = screens.more_drafts(lang, drafts)
    if more is not None:
        await context.bot.send_message(chat.id, more)


async def review(update: Update, context: Context) -> None:
    """Publish, points or Discard on a review card; only an admin's press changes anything.

    The press is answered first, before the database work; the redrawn card then shows the
    decision (its status line and points), so no toast repeats it. A refusal (not an admin, a
    forged id or points value) propagates and the error handler says it in the chat; another
    admin's earlier decision is said and shown.
    """
    query, pressed = update.callback_query, context.pressed
    assert query is not None and update.effective_user is not None
    svc, lang = context.services, context.lang
    points = pressed.int_arg(1) if pressed.action == Action.DRAFT_POINTS else 0
    await context.answer()
    async with transaction(svc.sessions) as session:
        reviewed = await missions.review(
            session,
            pressed.int_arg(0),
            update.effective_user.id,
            DECISIONS[pressed.action],
            svc.clock.now(),
            points,
        )
    if reviewed.refused is not None:
        await context.refuse(reviewed.refused)
    # The same text already (a double tap): nothing to change.
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            screens.review_card(lang, reviewed.mission),
            reply_markup=screens.review_buttons(lang, reviewed.mission),
        )


def register(application: Application) -> None:
    """/drafts and the review buttons; both re-check on the server that the presser is an admin."""
    application.add_handler(CommandHandler("drafts", show_drafts))
    application.add_handler(
        CallbackQueryHandler(review, pattern=callbacks.pattern_any(tuple(DECISIONS)))
    )
