"""Points and the market (step 8): `/points` (balance, level, history) and `/market`.

A voucher code is sent once, with `protect_content` so Telegram does not let it be forwarded
or saved from the chat; history shows it masked. The confirm button carries a random nonce:
pressing it twice (or on two devices) is the same purchase, charged once.
"""

from __future__ import annotations

import contextlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from handlers.profile import account_or_invite
from storage import errors, ledger, market, progress
from storage.db import transaction
from storage.models import LedgerEntry
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import format_when, t

PAGE = 8


def _kind(lang: str, kind: str) -> str:
    labels = {
        ledger.REWARD: t(lang, "Mission reward"),
        ledger.EXCHANGE: t(lang, "Exchange"),
        ledger.REFUND: t(lang, "Refund"),
        ledger.ADJUSTMENT: t(lang, "Adjustment by an admin"),
        ledger.BONUS: t(lang, "Bonus"),
    }
    return labels.get(kind, kind)


async def _points_page(
    update: Update,
    context: Context,
    session: AsyncSession,
    user_id: int,
    page: int,
) -> tuple[str, keyboards.InlineKeyboardMarkup | None]:
    lang = context.lang
    svc = context.services
    balance = await ledger.balance(session, user_id)
    earned = await ledger.lifetime_earned(session, user_id)
    entries = await ledger.history(session, user_id, limit=PAGE + 1, offset=page * PAGE)
    codes = await market.issued_codes(session, [e.id for e in entries])
    level = progress.level_for(earned)
    lines = [
        t(lang, "Your points: {balance}", balance=balance),
        t(lang, "Level {level} ({earned} points earned in all)", level=level, earned=earned),
        "",
    ]
    shown: list[LedgerEntry] = entries[:PAGE]
    if not shown:
        lines.append(t(lang, "No points yet: a mission approved by an admin earns some."))
    for entry in shown:
        when = format_when(lang, entry.created_at, svc.settings.zone)
        code = codes.get(entry.id)
        detail = f" ({market.mask(code)})" if code else ""
        lines.append(f"{entry.amount:+d} · {_kind(lang, entry.kind)}{detail} · {when}")
    nav = []
    if page > 0:
        nav.append((t(lang, "« Newer"), callbacks.encode(Action.POINTS_PAGE, page - 1)))
    if len(entries) > PAGE:
        nav.append((t(lang, "Older »"), callbacks.encode(Action.POINTS_PAGE, page + 1)))
    return "\n".join(lines), keyboards.inline([nav]) if nav else None


async def show_points(update: Update, context: Context) -> None:
    """`/points`: balance, level and the newest entries."""
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        text, markup = await _points_page(update, context, session, user.id, 0)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, reply_markup=markup)


async def points_page(update: Update, context: Context) -> None:
    """Older/newer history: the same message is edited."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    await query.answer()
    page = min(callbacks.decode(query.data).int_arg(0), 1000)
    async with context.services.sessions() as session:
        text, markup = await _points_page(update, context, session, update.effective_user.id, page)
    with contextlib.suppress(BadRequest):  # "not modified" on a double tap
        await query.edit_message_text(text, reply_markup=markup)


async def show_market(update: Update, context: Context) -> None:
    """`/market`: what points can buy; admins also see items out of stock."""
    lang = context.lang
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        shelves = await market.shelves(session, include_empty=user.is_admin)
        balance = await ledger.balance(session, user.id)
    assert update.effective_message is not None
    if not shelves:
        await update.effective_message.reply_text(
            t(lang, "The market is empty right now. Check back soon!")
        )
        return
    lines = [t(lang, "Market: you have {balance} points.", balance=balance), ""]
    rows = []
    for shelf in shelves:
        name = shelf.item.name_ko if lang == "ko" else shelf.item.name_en
        lines.append(
            t(
                lang,
                "{name}: {cost} points ({stock} left)",
                name=name,
                cost=shelf.item.cost,
                stock=shelf.stock,
            )
        )
        rows.append(
            [(f"{name} · {shelf.item.cost}P", callbacks.encode(Action.MARKET_ITEM, shelf.item.id))]
        )
    await update.effective_message.reply_text("\n".join(lines), reply_markup=keyboards.inline(rows))


async def confirm_item(update: Update, context: Context) -> None:
    """An item pressed: a confirm card whose button is this one purchase."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    item_id = callbacks.decode(query.data).int_arg(0)
    try:
        async with context.services.sessions() as session:
            item = await market.item(session, item_id)
            balance = await ledger.balance(session, update.effective_user.id)
    except errors.MarketError:
        await query.answer(t(lang, "That item is no longer available."), show_alert=True)
        return
    await query.answer()
    name = item.name_ko if lang == "ko" else item.name_en
    if balance < item.cost:
        text = t(lang, "{name} costs {cost} points; you have {balance}. Missions earn more!",
                 name=name, cost=item.cost, balance=balance)  # fmt: skip
        markup = None
    else:
        text = t(lang, "Exchange {cost} points for {name}? You will have {after} left.",
                 cost=item.cost, name=name, after=balance - item.cost)  # fmt: skip
        nonce = secrets.token_urlsafe(6)
        markup = keyboards.inline([[
            (t(lang, "Exchange ✅"), callbacks.encode(Action.MARKET_BUY, item.id, nonce)),
            (t(lang, "Cancel"), callbacks.encode(Action.MARKET_CANCEL, item.id)),
        ]])  # fmt: skip
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)


async def buy(update: Update, context: Context) -> None:
    """The exchange itself; every refusal says why and charges nothing."""
    query = update.callback_query
    assert (
        query is not None
        and update.effective_user is not None
        and update.effective_chat is not None
    )
    lang = context.lang
    svc = context.services
    parsed = callbacks.decode(query.data)
    item_id, nonce = parsed.int_arg(0), parsed.args[1]
    purchase = None
    # Two taps racing on one confirm: the loser's reference collides and rolls back; a second
    # attempt then finds the winner's purchase and shows the same code.
    for _attempt in range(2):
        try:
            async with transaction(svc.sessions) as session:
                purchase = await market.exchange(
                    session, user_id=update.effective_user.id, item_id=item_id,
                    request=nonce, now=svc.clock.now(),
                )  # fmt: skip
            break
        except errors.ReferenceConflict:
            continue
        except errors.InsufficientPoints:
            await query.answer(
                t(lang, "Not enough points for this; nothing was charged."), show_alert=True
            )
            return
        except errors.OutOfStock:
            await query.answer(t(lang, "Sold out just now; nothing was charged."), show_alert=True)
            return
        except errors.MarketError:
            await query.answer(t(lang, "That item is no longer available."), show_alert=True)
            return
    if purchase is None:
        await query.answer(
            t(lang, "Sorry, something went wrong on my side. Please try again in a moment.")
        )
        return
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)
    if not purchase.new:
        return  # the code was already sent for this press
    name = purchase.item.name_ko if lang == "ko" else purchase.item.name_en
    await context.bot.send_message(
        update.effective_chat.id,
        t(lang, "Here is your {name} code:\n\n{code}\n\nYou have {balance} points left. Keep this "
                "code safe: it is shown only once.", name=name, code=purchase.code,
          balance=purchase.balance_after),
        protect_content=True,
    )  # fmt: skip


async def cancel_item(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(t(context.lang, "Okay, nothing was exchanged."))
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(None)


async def refund_code(update: Update, context: Context) -> None:
    """`/refund CODE` (admins): a bad code's points go back once."""
    assert update.effective_user is not None and update.effective_message is not None
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        user = await account_or_invite(update, context, session)
    if user is None:
        return
    code = " ".join(context.args or []).strip()
    try:
        async with transaction(svc.sessions) as session:
            points = await market.refund(session, code, user.id, svc.clock.now())
    except errors.NotAdmin:
        await update.effective_message.reply_text(t(lang, "Only admins can do that."))
        return
    except errors.UnknownCode:
        await update.effective_message.reply_text(t(lang, "No issued code matches that."))
        return
    except errors.AlreadyRefunded:
        await update.effective_message.reply_text(t(lang, "That code was already refunded."))
        return
    await update.effective_message.reply_text(t(lang, "Refunded {points} points.", points=points))


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
