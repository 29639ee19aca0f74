"""Step 6: admins review photo evidence with inline buttons.

The verification job posts one card per photo in the admin group (`HALSARAM_ADMIN_CHAT_ID`):
the photo itself (by file_id), mission, meetup, the sender's trust score and what the automatic
checks found, with Approve / Reject (then a reason) / Ask again. Every press is re-checked on
the server: only an admin decides, and only the first decision counts; the card is then edited
to say who decided. `/review` in a private chat shows an admin the photos still waiting, with
the same buttons. The card itself is drawn by `ui/review.py`. Nobody decides on their own
photo or on one of a meetup they took part in, and a copy of an approved photo is not
approved (each is a polite refusal). The same admin's press handled twice (a redelivery, a
double tap) is the decision it made: no refusal, the card as it was drawn the first time.

A decision's press is answered first, before the database work (the redrawn card then says
what was decided); a refusal (not an admin, checks still running, no tries left, the photo
gone) is left to the error handler, which tells it: as a message after a decision's press,
as the press's alert after a read (Reject's reasons, Back).
"""

from __future__ import annotations

import contextlib

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.sending import send_review_card
from storage import appeals, errors, evidence
from storage.db import transaction
from ui import appeals as appeal_ui
from ui import callbacks
from ui import review as ui
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t

SHOWN = 5  # cards per /review
DECISIONS = {
    Action.REVIEW_APPROVE: evidence.APPROVE,
    Action.REVIEW_REASON: evidence.REJECT,
    Action.REVIEW_AGAIN: evidence.ASK_AGAIN,
}


async def decide(update: Update, context: Context) -> None:
    """Approve, Reject with a reason, or Ask again: the first admin's press wins."""
    query, user, pressed = update.callback_query, update.effective_user, context.pressed
    assert query is not None and user is not None
    action = DECISIONS[pressed.action]
    reason = pressed.args[-1] if action == evidence.REJECT else None
    if action == evidence.REJECT and reason not in evidence.REASONS:
        raise InvalidCallback("unknown reason")
    evidence_id, svc = pressed.int_arg(0), context.services
    rules = evidence.EvidenceRules.from_settings(svc.settings)
    await context.answer()
    async with transaction(svc.sessions) as session:
        decision = await evidence.decide_or_show(
            session, evidence_id=evidence_id, reviewer_id=user.id, action=action,
            reason=reason, now=svc.clock.now(), rules=rules,
        )  # fmt: skip
    if not decision.first and not decision.repeat:
        await context.refuse(errors.AlreadyDecided(decision.status))
        await _show_outcome(update, context, decision.view, None)
        return
    # The card now says who decided and what was paid: no toast repeats it.
    await _show_outcome(update, context, decision.view, user.first_name)


async def reject_menu(update: Update, context: Context) -> None:
    """Reject: the card's buttons become the reasons (nothing is decided yet)."""
    view = await _waiting(update, context)
    if view is not None:
        await _set_buttons(update, context, ui.reason_buttons(context.lang, view.evidence.id))


async def back(update: Update, context: Context) -> None:
    """Back from the reasons to Approve / Reject / Ask again."""
    view = await _waiting(update, context)
    if view is not None:
        await _set_buttons(update, context, ui.card_buttons(context.lang, view))


async def list_waiting(update: Update, context: Context) -> None:
    """`/review`: the photos waiting for a decision, as cards in this private chat."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang, svc = context.lang, context.services
    async with svc.sessions() as session:
        queue = await evidence.review_queue(
            session, user.id, svc.settings.evidence_max_attempts, SHOWN
        )
        waiting, appealed = await appeals.waiting(
            session, user.id, svc.settings.evidence_max_attempts, SHOWN
        )
    if not queue.views and not waiting:
        await message.reply_text(t(lang, ui.NONE_WAITING))
        return
    if queue.views:
        await message.reply_text(ui.queue_header(lang, queue.total))
    for view in queue.views:
        card = ui.card(lang, view, svc.settings.zone)
        await send_review_card(context.bot, message.chat_id, card, svc.photos)
    if waiting:  # issue 23: appeals, decided by an admin other than the first reviewer
        await message.reply_text(appeal_ui.queue_header(lang, appealed))
    for item in waiting:
        card = appeal_ui.appeal_card(lang, item, svc.settings.zone)
        await send_review_card(context.bot, message.chat_id, card, svc.photos)
    if queue.total > len(queue.views) or appealed > len(waiting):
        await message.reply_text(t(lang, ui.MORE_WAITING))


async def decide_appeal(update: Update, context: Context) -> None:
    """Approve on appeal / Keep rejected (issue 23): final, the first press wins, and never
    the admin who rejected the photo."""
    query, user, pressed = update.callback_query, update.effective_user, context.pressed
    assert query is not None and user is not None and query.message is not None
    choice = pressed.args[1]
    if choice not in (appeals.OVERTURN, appeals.UPHOLD):
        raise InvalidCallback("unknown appeal decision")
    evidence_id, svc = pressed.int_arg(0), context.services
    rules = evidence.EvidenceRules.from_settings(svc.settings)
    await context.answer()
    async with transaction(svc.sessions) as session:
        decision = await appeals.decide(
            session, evidence_id=evidence_id, reviewer_id=user.id,
            approve=choice == appeals.OVERTURN, now=svc.clock.now(), rules=rules,
        )  # fmt: skip
    by = user.first_name if decision.first or decision.repeat else None
    if not decision.first and not decision.repeat:
        await context.refuse(errors.AppealRefused("decided"))
    settings, view = svc.settings, decision.view
    pressed_at = (query.message.chat.id, query.message.message_id)
    await _edit(
        context.bot, *pressed_at, appeal_ui.appeal_text(context.lang, view, settings.zone, by)
    )
    card = (view.appeal.card_chat_id, view.appeal.card_message_id)
    if card[0] is not None and card[1] is not None and card != pressed_at:
        text = appeal_ui.appeal_text(settings.default_language, view, settings.zone, by)
        await _edit(context.bot, card[0], card[1], text)


async def _waiting(update: Update, context: Context) -> evidence.ReviewView | None:
    """The pressed card's photo while it waits for a decision; a decided one is redrawn with
    its outcome (and None returned)."""
    assert update.effective_user is not None
    svc = context.services
    evidence_id = context.pressed.int_arg(0)
    async with svc.sessions() as session:
        view = await evidence.review_for_admin(
            session, update.effective_user.id, evidence_id, svc.settings.evidence_max_attempts
        )
    if view.evidence.status == evidence.IN_REVIEW:
        return view
    await context.refuse(errors.AlreadyDecided(view.evidence.status))
    await _show_outcome(update, context, view, None)
    return None


async def _set_buttons(
    update: Update, context: Context, markup: InlineKeyboardMarkup | None
) -> None:
    query = update.callback_query
    assert query is not None
    await context.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(markup)


async def _show_outcome(
    update: Update, context: Context, view: evidence.ReviewView, by: str | None
) -> None:
    """Redraws the pressed card and the group's card with the decision and no buttons."""
    query = update.callback_query
    assert query is not None and query.message is not None
    settings = context.services.settings
    pressed = (query.message.chat.id, query.message.message_id)
    await _edit(context.bot, *pressed, ui.card_text(context.lang, view, settings.zone, by))
    card = (view.evidence.review_chat_id, view.evidence.review_message_id)
    if card[0] is not None and card[1] is not None and card != pressed:
        text = ui.card_text(settings.default_language, view, settings.zone, by)
        await _edit(context.bot, card[0], card[1], text)


async def _edit(bot: Bot, chat_id: int, message_id: int, text: str) -> None:
    """Edits a card (and drops its buttons), whether it went out as a photo or as text."""
    try:
        await bot.edit_message_caption(
            chat_id=chat_id, message_id=message_id, caption=text, reply_markup=None
        )
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return
        with contextlib.suppress(BadRequest):
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=None
            )


def register(application: Application) -> None:
    """Step 6: /review and the card's buttons; admins only, the first decision wins."""
    application.add_handler(
        CommandHandler("review", list_waiting, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in (
        (Action.REVIEW_APPROVE, decide),
        (Action.REVIEW_REASON, decide),
        (Action.REVIEW_AGAIN, decide),
        (Action.REVIEW_REJECT, reject_menu),
        (Action.REVIEW_BACK, back),
        (Action.APPEAL_DECIDE, decide_appeal),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
