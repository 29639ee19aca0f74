"""Admin-group cards redrawn once the person they showed deleted their account (issue 20).

Where Telegram will not delete a card (48 hours old or older), it is edited to these texts:
a review card keeps the photo's number, the mission, the meetup's time and the decision, with
"a deleted account" for the name (the words `ui/notices.py` uses on report cards) and a line
saying the name and photo were removed; a report card is the report notice again with the
name blanked the same way and without the reporter's words. Pure: views in, text out.
"""

from __future__ import annotations

from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from storage import evidence
from storage.admin_cards import ErasedReport, ErasedReview
from ui.i18n import N_, format_when, localized, points, t
from ui.notices import ERASED_NAMES, buttons, render
from ui.review import REJECT_REASONS

REMOVED = N_("🗑 The account was deleted: its name and photo were removed.")
WITHDRAWN = N_("↩️ Withdrawn before a decision")


def review_text(lang: str, card: ErasedReview, zone: tzinfo) -> str:
    meetup = card.meetup
    erased = ERASED_NAMES["report_filed"]  # (looked up first: a literal in t() is extracted)
    head = t(
        lang, "📸 Photo #{id} · {title} · {when}\n👤 {name}", id=card.evidence_id,
        title=localized(lang, meetup.mission, "title"),
        when=format_when(lang, meetup.meeting.starts_at, zone),
        name=t(lang, erased),
    )  # fmt: skip
    lines = [head, t(lang, REMOVED)]
    decision = _decision(lang, card)
    return "\n".join([*lines, *([decision] if decision else [])])


def _decision(lang: str, card: ErasedReview) -> str:
    """The decision as the card said it (ui/review.py's words), or that none was made."""
    if card.withdrawn:
        return t(lang, WITHDRAWN)
    who = card.reviewer_name or t(lang, "an admin")
    if card.status == evidence.APPROVED:
        worth = points(lang, card.meetup.mission.points)
        return t(lang, "✅ Approved by {who}: +{points}", who=who, points=worth)
    if card.status == evidence.RETRY:
        return t(lang, "🔁 {who} asked for a new photo", who=who)
    if card.status == evidence.REJECTED:
        found = REJECT_REASONS.get(str(card.reason))
        label = t(lang, found.button) if found else "-"
        return t(lang, "❌ Rejected by {who}: {reason}", who=who, reason=label)
    return ""


def report_text(
    lang: str, card: ErasedReport, zone: tzinfo
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The report notice without the reporter's words (and without the name when the person
    reported is the one gone); its buttons while the report still waits for a moderator."""
    values = {
        "report_id": card.report_id, "reason": card.reason, "details": "",
        "name": card.name, "trust": card.trust,
    }  # fmt: skip
    text = render("report_filed", lang, values, None, zone).rstrip()
    return text, buttons("report_filed", lang, values) if card.open else None
