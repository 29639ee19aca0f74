"""Safety (step 7) as text and buttons: whom to report or block, why, and the moderators'
decision on a report card (the card itself is the `report_filed` notice, `ui/notices.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from storage.moderation import Met, OpenReport, ReportsPage
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, t, tn

# Why someone is reported (storage.moderation.REASONS), as the buttons and the card say it.
REASON_LABELS = {
    "harassment": N_("Harassment"),
    "no_show": N_("Did not show up"),
    "unsafe": N_("Made me feel unsafe"),
    "spam": N_("Spam or selling"),
    "other": N_("Something else"),
}
# What a moderator decided (storage.moderation.ACTIONS), as the card and a refusal say it.
ACTION_LABELS = {
    "warn": N_("warned"),
    "suspend": N_("suspended for 7 days"),
    "dismiss": N_("dismissed"),
    "ban": N_("banned for good"),
}
BLOCKED = N_("Blocked. You won't see each other's meetups, and they can't join yours.")
NOBODY_MET = N_("You can do this for people you met at a meetup in the last 30 days.")
SHOWN = 10  # people offered at once


def people_met(
    lang: str, people: Sequence[Met], action: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Whom to report (`Action.REPORT_PICK`) or block (`Action.BLOCK`): one button each."""
    if not people:
        return t(lang, NOBODY_MET), None
    if action == Action.REPORT_PICK:
        prompt = t(lang, "Who do you want to report?")
        rows = [[(p.name, callbacks.encode(action, p.meeting_id, p.user_id))] for p in people]
    else:
        prompt = t(lang, "Who do you want to block? You won't see each other's meetups.")
        rows = [[(p.name, callbacks.encode(action, p.user_id))] for p in people]
    return prompt, keyboards.inline(rows[:SHOWN])


def reasons(lang: str) -> tuple[str, InlineKeyboardMarkup]:
    """ "What happened?" with one button per reason."""
    rows = [[(t(lang, label), callbacks.encode(Action.REPORT_REASON, key))]
            for key, label in REASON_LABELS.items()]  # fmt: skip
    return t(lang, "What happened?"), keyboards.inline(rows)


def action_label(lang: str, action: str | None) -> str:
    """A decision as people read it ("suspended for 7 days"); an unknown one reads dismissed."""
    return t(lang, ACTION_LABELS.get(action or "", ACTION_LABELS["dismiss"]))


def decided(lang: str, card_text: str, action: str, admin: str) -> str:
    """The report card once decided: its text and who decided what."""
    line = t(lang, "Decision: {action} by {admin}.", action=action_label(lang, action), admin=admin)
    return f"{card_text}\n\n{line}"


# --------------------------------------------------------------------------- issue 23: admins
NO_REPORTS = N_("No open reports. 🎉")
BAN_USAGE = N_(
    "Send /ban, the person's Telegram id and the reason, like: /ban 123456789 harassment at "
    "meetups. Their points are kept, frozen."
)
UNBAN_USAGE = N_("Send /unban and the person's Telegram id, like: /unban 123456789")
BANNED_DONE = N_(
    "Banned {name} ({id}) for good: {reason}. They were told; their points are kept, frozen."
)
UNBANNED_DONE = N_("{name} ({id}) may use Halsaram again; their points were kept.")
# Any message from a banned person (handlers/banned.py): polite, final.
BANNED_FINAL = N_(
    "Your Halsaram account was closed by the moderators, so I can't help with this. Your "
    "points are kept, frozen. If you think this is a mistake, please contact the Halsaram "
    "admins. /deleteme still deletes your data."
)


def reports_header(lang: str, page: ReportsPage) -> tuple[str, InlineKeyboardMarkup | None]:
    """`/reports`: how many are open, which page, and the buttons to the other pages."""
    text = tn(lang, "{count} open report, oldest first (page {page}/{pages}):",
              "{count} open reports, oldest first (page {page}/{pages}):", page.total,
              page=page.page + 1, pages=page.pages)  # fmt: skip
    nav = []
    if page.page > 0:
        nav.append((t(lang, "‹ Earlier"), callbacks.encode(Action.REPORTS_PAGE, page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append((t(lang, "Later ›"), callbacks.encode(Action.REPORTS_PAGE, page.page + 1)))
    return text, keyboards.inline([nav]) if nav else None


def report_values(report: OpenReport) -> dict[str, object]:
    """The values of a report's card, as the admin group's `report_filed` notice holds them."""
    return {"report_id": report.report_id, "reason": report.reason, "details": report.details,
            "name": report.name, "trust": report.trust}  # fmt: skip
