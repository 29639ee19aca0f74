"""Points and the market (step 8) as text and buttons: the `/points` page, the `/market`
shelves, the confirm card and the voucher code message."""

from __future__ import annotations

from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from storage import ledger
from storage.market import HistoryLine, Offer, PointsPage, Purchase, Storefront
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, format_when, localized, t

Screen = tuple[str, InlineKeyboardMarkup | None]

# How each kind of ledger entry reads in the history.
KINDS = {
    ledger.REWARD: N_("Mission reward"),
    ledger.EXCHANGE: N_("Exchange"),
    ledger.REFUND: N_("Refund"),
    ledger.ADJUSTMENT: N_("Adjustment by an admin"),
    ledger.BONUS: N_("Bonus"),
}
EMPTY = N_("The market is empty right now. Check back soon!")


def mask(code: str) -> str:
    """How a code appears in history: enough to recognise it, not enough to use it."""
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:] if len(code) > 8 else "****"


def _line(lang: str, zone: tzinfo, line: HistoryLine) -> str:
    kind = t(lang, KINDS[line.kind]) if line.kind in KINDS else line.kind
    detail = f" ({mask(line.code)})" if line.code else ""
    return f"{line.amount:+d} · {kind}{detail} · {format_when(lang, line.at, zone)}"


def points_page(lang: str, zone: tzinfo, view: PointsPage) -> Screen:
    """Balance, level and a page of history, with « Newer / Older » to page through it."""
    lines = [
        t(lang, "Your points: {balance}", balance=view.balance),
        t(lang, "Level {level} ({earned} points earned in all)", level=view.level,
          earned=view.earned),
        "",
    ]  # fmt: skip
    if not view.lines:
        lines.append(t(lang, "No points yet: a mission approved by an admin earns some."))
    lines += [_line(lang, zone, line) for line in view.lines]
    nav = []
    if view.page > 0:
        nav.append((t(lang, "« Newer"), callbacks.encode(Action.POINTS_PAGE, view.page - 1)))
    if view.older:
        nav.append((t(lang, "Older »"), callbacks.encode(Action.POINTS_PAGE, view.page + 1)))
    return "\n".join(lines), keyboards.inline([nav]) if nav else None


def storefront(lang: str, front: Storefront) -> Screen:
    """What points can buy, one button per item."""
    if not front.shelves:
        return t(lang, EMPTY), None
    lines = [t(lang, "Market: you have {balance} points.", balance=front.balance), ""]
    rows = []
    for shelf in front.shelves:
        name, cost = localized(lang, shelf.item, "name"), shelf.item.cost
        lines.append(
            t(lang, "{name}: {cost} points ({stock} left)", name=name, cost=cost,
              stock=shelf.stock)
        )  # fmt: skip
        rows.append([(f"{name} · {cost}P", callbacks.encode(Action.MARKET_ITEM, shelf.item.id))])
    return "\n".join(lines), keyboards.inline(rows)


def confirm_card(lang: str, offer: Offer, nonce: str) -> Screen:
    """Exchange or cancel; `nonce` makes this card's button one purchase, however often it is
    pressed. Without enough points, the card says so and has no button."""
    item, balance = offer.item, offer.balance
    name = localized(lang, item, "name")
    if balance < item.cost:
        text = t(lang, "{name} costs {cost} points; you have {balance}. Missions earn more!",
                 name=name, cost=item.cost, balance=balance)  # fmt: skip
        return text, None
    text = t(lang, "Exchange {cost} points for {name}? You will have {after} left.",
             cost=item.cost, name=name, after=balance - item.cost)  # fmt: skip
    return text, keyboards.inline([[
        (t(lang, "Exchange ✅"), callbacks.encode(Action.MARKET_BUY, item.id, nonce)),
        (t(lang, "Cancel"), callbacks.encode(Action.MARKET_CANCEL, item.id)),
    ]])  # fmt: skip


def voucher(lang: str, purchase: Purchase) -> str:
    """The code itself, shown once (sent with `protect_content`)."""
    return t(lang, "Here is your {name} code:\n\n{code}\n\nYou have {balance} points left. Keep "
                   "this code safe: it is shown only once.",
             name=localized(lang, purchase.item, "name"), code=purchase.code,
             balance=purchase.balance_after)  # fmt: skip
