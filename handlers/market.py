"""Points and the market (step 8): `/points` (balance, level, history) and `/market`.

A voucher code is sent once, with `protect_content` so Telegram does not let it be forwarded
or saved from the chat; history shows it masked. The confirm button carries a random nonce:
pressing it twice (or on two devices) is the same purchase, charged once.

A refusal (no account, not an admin, sold out, not enough points, an unknown or refunded
code) is left to the error handler, which answers the press or the message with it (as a
message when the press was answered before the work).
"""

from __future__ import annotations

import contextlib
import secrets

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from storage import market
from storage.db import transaction
from ui import callbacks
from ui import market as ui
from ui.callbacks import Action
from ui.i18n import t

PAGE = 8  # history lines per page
LAST_PAGE = 1000


async def _points(update: Update, context: Context, page: int) -> ui.Screen:
    assert update.effective_user is not None
    async with context.services.sessions() as session:
        view = await market.points(session, update.effective_user.id, page=page, size=PAGE)
    return ui.points_page(context.lang, context.services.settings.zone, view)


async def show_points(update: Update, context: Context) -> None:
    """`/points`: balance, level and the newest entries."""
    assert update.effective_message is not None
    text, markup = await _points(update, context, 0)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def points_page(update: Update, context: Context) -> None:
    """Older/newer history: the same message is edited."""
    query = update.callback_query
    assert query is not None
    text, markup = await _points(update, context, min(context.pressed.int_arg(0), LAST_PAGE))
    await context.answer()
    with contextlib.suppress(BadRequest):  # "not modified" on a double tap
        await query.edit_message_text(text, reply_markup=markup)


async def show_market(update: Update, context: Context) -> None:
    """`/market`: what points can buy; admins also see items out of stock."""
    assert update.effective_message is not None and update.effective_user is not None
    async with context.services.sessions() as session:
        front = await market.storefront(session, update.effective_user.id)
    text, markup = ui.storefront(context.lang, front)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def confirm_item(update: Update, context: Context) -> None:
    """An item pressed: a confirm card whose button is this one purchase."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    async with context.services.sessions() as session:
        offer = await market.offer(session, user.id, context.pressed.int_arg(0))
    # Only a read before: a refusal (sold out, not enough points) is still the press's alert.
    await context.answer()
    text, markup = ui.confirm_card(context.lang, offer, secrets.token_urlsafe(6))
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def buy(update: Update, context: Context) -> None:
    """The exchange itself; a refusal says why and charges nothing. A second press of the same
    card finds the first one's purchase, whose code was sent already.

    The press is answered first, while the client still waits: the code is a message, never
    the answer, so an exchange whose press is too old to answer still shows it, and a refusal
    comes as a message (the error handler's `context.refuse`)."""
    user, chat, pressed = update.effective_user, update.effective_chat, context.pressed
    assert user is not None and chat is not None
    svc = context.services
    await context.answer()
    async with transaction(svc.sessions) as session:
        purchase = await market.exchange(
            session, user_id=user.id, item_id=pressed.int_arg(0), request=pressed.args[1],
            now=svc.clock.now(),
        )  # fmt: skip
    await context.close_buttons()
    if purchase.new:
        text = ui.voucher(context.lang, purchase)
        await context.bot.send_message(chat.id, text, protect_content=True)


async def cancel_item(update: Update, context: Context) -> None:
    """Cancel on the confirm card: nothing happens, and its buttons go."""
    query = update.callback_query
    assert query is not None
    await context.answer(t(context.lang, "Okay, nothing was exchanged."))
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)


async def refund_code(update: Update, context: Context) -> None:
    """`/refund CODE` (admins): a bad code's points go back once."""
    assert update.effective_user is not None and update.effective_message is not None
    svc = context.services
    code = " ".join(context.args or []).strip()
    async with transaction(svc.sessions) as session:
        points = await market.refund(session, code, update.effective_user.id, svc.clock.now())
    await update.effective_message.reply_text(
        t(context.lang, "Refunded {points} points.", points=points)
    )


def register(application: Application) -> None:
    """Step 8: /points, /market, /refund (admins) and their buttons."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("points", show_points, filters=private))
    application.add_handler(CommandHandler("market", show_market, filters=private))
    application.add_handler(CommandHandler("refund", refund_code, filters=private))
    for action, callback in (
        (Action.POINTS_PAGE, points_page),
        (Action.MARKET_ITEM, confirm_item),
        (Action.MARKET_BUY, buy),
        (Action.MARKET_CANCEL, cancel_item),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
