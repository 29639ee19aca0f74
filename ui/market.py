"""Points and the market (step 8) as text and buttons: the `/points` page, the `/market`
shelves, the confirm card and "My vouchers" (`/vouchers`). The message carrying a code is an
outbox notice ("voucher_issued", drawn in ui/notices.py)."""

from __future__ import annotations

from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from missions.places import place_name
from storage import entries, ledger
from storage.entries import Source
from storage.market import HistoryLine, Offer, PointsPage, Storefront, Voucher, VoucherPage
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, format_when, localized, points, t, tn

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
MY_VOUCHERS = N_("🎁 My vouchers")


def mask(code: str) -> str:
    """How a code appears in history: enough to recognise it, not enough to use it."""
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:] if len(code) > 8 else "****"


def _line(lang: str, zone: tzinfo, line: HistoryLine) -> str:
    kind = t(lang, KINDS[line.kind]) if line.kind in KINDS else line.kind
    detail = f" ({mask(line.code)})" if line.code else ""
    text = f"{line.amount:+d} · {kind}{detail} · {format_when(lang, line.at, zone)}"
    why = _why(lang, zone, line.source)
    return f"{text}\n   ↳ {why}" if why else text


def _why(lang: str, zone: tzinfo, source: Source) -> str | None:
    """What an entry was for: the mission, its meetup and the decision that paid; the voucher
    bought or refunded; an admin's note."""
    if source.why in (entries.REVIEW, entries.APPEAL):
        decided = (
            t(lang, "approved on appeal")
            if source.why == entries.APPEAL
            else t(lang, "approved at review")
        )
        mission = localized(lang, source, "mission")
        if source.meetup_at is None or source.place is None:
            return f"{mission}: {decided}"
        return t(
            lang, "{mission}, the meetup of {when} at {place}: {decided}", mission=mission,
            when=format_when(lang, source.meetup_at, zone), place=place_name(lang, source.place),
            decided=decided,
        )  # fmt: skip
    if source.why == entries.EXCHANGE:
        return t(lang, "{item} bought", item=localized(lang, source, "item"))
    if source.why == entries.REFUND:
        item = localized(lang, source, "item")
        code = mask(source.code or "")
        return t(lang, "code {code} of {item} refunded by an admin", item=item, code=code)
    if source.why in (entries.ADJUSTMENT, entries.BONUS) and source.note:
        return t(lang, "note: {note}", note=source.note)
    return None


def points_page(lang: str, zone: tzinfo, view: PointsPage) -> Screen:
    """Balance, level and a page of history, with « Newer / Older » to page through it."""
    lines = [
        t(lang, "Your points: {balance}", balance=view.balance),
        tn(lang, "Level {level} ({count} point earned in all)",
           "Level {level} ({count} points earned in all)", view.earned, level=view.level),
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
    rows = [nav] if nav else []
    if view.vouchers:
        rows.append([(t(lang, MY_VOUCHERS), callbacks.encode(Action.VOUCHERS, "new"))])
    return "\n".join(lines), keyboards.inline(rows) if rows else None


def storefront(lang: str, front: Storefront) -> Screen:
    """What points can buy, one button per item."""
    if not front.shelves:
        return t(lang, EMPTY), None
    lines = [
        tn(lang, "Market: you have {count} point.", "Market: you have {count} points.",
           front.balance),
        "",
    ]  # fmt: skip
    rows = []
    for shelf in front.shelves:
        name, cost = localized(lang, shelf.item, "name"), shelf.item.cost
        lines.append(
            t(lang, "{name}: {cost} ({stock} left)", name=name, cost=points(lang, cost),
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
        text = t(lang, "{name} costs {cost}; you have {balance}. Missions earn more!",
                 name=name, cost=points(lang, item.cost), balance=balance)  # fmt: skip
        return text, None
    text = t(lang, "Exchange {cost} for {name}? You will have {after} left.",
             cost=points(lang, item.cost), name=name, after=balance - item.cost)  # fmt: skip
    return text, keyboards.inline([[
        (t(lang, "Exchange ✅"), callbacks.encode(Action.MARKET_BUY, item.id, nonce)),
        (t(lang, "Cancel"), callbacks.encode(Action.MARKET_CANCEL, item.id)),
    ]])  # fmt: skip


def _voucher_line(lang: str, zone: tzinfo, number: int, voucher: Voucher) -> str:
    name, when = localized(lang, voucher, "name"), format_when(lang, voucher.issued_at, zone)
    line = f"{number}. {name} · {when} · {mask(voucher.code)}"
    return line + t(lang, " (refunded)") if voucher.refunded else line


def vouchers_page(lang: str, zone: tzinfo, view: VoucherPage) -> Screen:
    """My vouchers: the person's codes, masked, newest first, each (unless refunded) with a
    button that sends the full code again (a protected message); « Newer / Older »."""
    if not view.vouchers and view.page == 0:
        return t(lang, "No vouchers yet: /market exchanges points for gift vouchers."), None
    lines = [t(lang, MY_VOUCHERS), ""]
    rows = []
    for number, voucher in enumerate(view.vouchers, start=view.offset + 1):
        lines.append(_voucher_line(lang, zone, number, voucher))
        if not voucher.refunded:
            label = t(lang, "Show code {number}: {name}", number=number,
                      name=localized(lang, voucher, "name"))  # fmt: skip
            rows.append([(label, callbacks.encode(Action.VOUCHER_SHOW, voucher.id))])
    lines += ["", t(lang, "Codes are sent as messages that can't be forwarded or saved.")]
    nav = []
    if view.page > 0:
        nav.append((t(lang, "« Newer"), callbacks.encode(Action.VOUCHERS, view.page - 1)))
    if view.older:
        nav.append((t(lang, "Older »"), callbacks.encode(Action.VOUCHERS, view.page + 1)))
    if nav:
        rows.append(nav)
    return "\n".join(lines), keyboards.inline(rows) if rows else None
