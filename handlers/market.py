"""Points and the market (step 8): `/points` (balance, level, history), `/market` and
`/vouchers` ("My vouchers").

A voucher code goes out as an outbox notice queued in the exchange's transaction, sent at once
by the handler (`bot/send_now.py`) and otherwise by the dispatcher until Telegram takes it,
always with `protect_content` so Telegram does not let it be forwarded or saved from the chat;
history and the voucher list show it masked, and "show code" there sends it again. The confirm
button carries a random nonce: pressing it twice (or on two devices) is the same purchase,
charged once, and a press after the first sends the same code again.

A refusal (no account, not an admin, sold out, not enough points, an unknown or refunded
code) is left to the error handler, which answers the press or the message with it (as a
message when the press was answered before the work).
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.send_now import send_queued
from storage import market
from storage.db import transaction
from ui import callbacks
from ui import market as ui
from ui.callbacks import Action
from ui.i18n import t, tn

log = logging.getLogger(__name__)
PAGE = 8  # history lines per page
LAST_PAGE = 1000
VOUCHER_PAGE = 8  # codes per page of /vouchers


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
    """The exchange itself; a refusal says why and charges nothing. Another press of the same
    card (or this update handled again) finds the first one's purchase and sends its code
    again, charged once.

    The press is answered first, while the client still waits: the code is a message, never
    the answer, so an exchange whose press is too old to answer still shows it, and a refusal
    comes as a message (the error handler's `context.refuse`). The code is queued with the
    exchange and sent right after the commit; if that send fails the dispatcher sends it, so
    nothing here apologises for it."""
    user, query, pressed = update.effective_user, update.callback_query, context.pressed
    assert user is not None and query is not None
    svc = context.services
    await context.answer()
    async with transaction(svc.sessions) as session:
        purchase = await market.exchange(
            session, user_id=user.id, item_id=pressed.int_arg(0), request=pressed.args[1],
            press=query.id, now=svc.clock.now(),
        )  # fmt: skip
    await _send_code(context, purchase.notice)
    try:
        await context.close_buttons()
    except NetworkError:  # the code is on its way; an old button only sends it again
        log.info("update %s: the confirm card kept its buttons", update.update_id)


async def _send_code(context: Context, key: str | None) -> None:
    svc = context.services
    await send_queued(context.bot, svc.sessions, svc.clock, svc.settings.zone, context.lang, key)


async def _vouchers(update: Update, context: Context, page: int) -> ui.Screen:
    assert update.effective_user is not None
    async with context.services.sessions() as session:
        view = await market.vouchers(
            session, update.effective_user.id, page=page, size=VOUCHER_PAGE
        )
    return ui.vouchers_page(context.lang, context.services.settings.zone, view)


async def show_vouchers(update: Update, context: Context) -> None:
    """`/vouchers`: the person's codes, masked, each with a button that shows it."""
    assert update.effective_message is not None
    text, markup = await _vouchers(update, context, 0)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def vouchers_page(update: Update, context: Context) -> None:
    """My vouchers, from /points (a new message), or « Newer / Older » (the list edited)."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    argument = context.pressed.args[0]
    page = 0 if argument == "new" else min(context.pressed.int_arg(0), LAST_PAGE)
    text, markup = await _vouchers(update, context, page)
    await context.answer()
    if argument == "new":
        await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)
        return
    with contextlib.suppress(BadRequest):  # "not modified" on a double tap
        await query.edit_message_text(text, reply_markup=markup)


async def show_code(update: Update, context: Context) -> None:
    """Show code: the full code again, as a protected message through the outbox (so a
    failed send is retried, not lost). Someone else's code is refused as unknown."""
    user, query = update.effective_user, update.callback_query
    assert user is not None and query is not None
    svc = context.services
    voucher_id = context.pressed.int_arg(0)
    await context.answer()
    async with transaction(svc.sessions) as session:
        key = await market.reveal(
            session, user_id=user.id, voucher_id=voucher_id, press=query.id, now=svc.clock.now()
        )
    await _send_code(context, key)


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
        tn(context.lang, "Refunded {count} point.", "Refunded {count} points.", points)
    )


def register(application: Application) -> None:
    """Step 8: /points, /market, /vouchers, /refund (admins) and their buttons."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("points", show_points, filters=private))
    application.add_handler(CommandHandler("market", show_market, filters=private))
    application.add_handler(CommandHandler("vouchers", show_vouchers, filters=private))
    application.add_handler(CommandHandler("refund", refund_code, filters=private))
    for action, callback in (
        (Action.POINTS_PAGE, points_page),
        (Action.MARKET_ITEM, confirm_item),
        (Action.MARKET_BUY, buy),
        (Action.MARKET_CANCEL, cancel_item),
        (Action.VOUCHERS, vouchers_page),
        (Action.VOUCHER_SHOW, show_code),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
