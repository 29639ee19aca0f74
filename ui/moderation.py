"""Safety (step 7) as text and buttons: whom to report or block, why, and the moderators'
decision on a report card (the card itself is the `report_filed` notice, `ui/notices.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from storage.moderation import Met
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, t

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
