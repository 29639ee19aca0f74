"""An appeal, once (issue 23), in words: the sender's step, the appeal card admins decide on,
and its buttons. Pure: a language, a time zone and storage's views in, text and markup out.

The appeal card is the photo's review card (`ui.review.card_text`) with the sender's reason
and, once decided, the final outcome under it.
"""

from __future__ import annotations

from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from storage import appeals, evidence
from ui import callbacks, keyboards
from ui import review as review_ui
from ui.callbacks import Action
from ui.i18n import N_, t, tn

ASK_REASON = N_(
    "Why should this photo count? Tell the second admin in one short message (up to {max} "
    "characters). Their decision will be final. /cancel stops the appeal."
)
TOO_LONG = N_("Please keep it under {max} characters: that is {length}. Try again, or /cancel.")
FILED = N_(
    "Thank you. Your appeal went to an admin other than the one who decided; their decision "
    "will be final, and I'll tell you here."
)
CANCELLED = N_("Okay, no appeal was sent. The button still works while the photo is kept.")
TIMED_OUT = N_(
    "I stopped the appeal because nothing happened for a while; nothing was sent. Press the "
    "appeal button again to start over."
)
TEXT_ONLY = N_("Please write the reason as a text message, or send /cancel.")
# `/review`
APPEAL_LINE = N_("⚖️ Appeal by the sender: {reason}")
APPROVED_LINE = N_("⚖️ Approved on appeal by {who}: final")
KEPT_LINE = N_("⚖️ Rejection kept on appeal by {who}: final")


def reason_question(lang: str) -> tuple[str, InlineKeyboardMarkup]:
    """Asks for the reason, with "Cancel" (as /cancel) under it."""
    stop = callbacks.encode(Action.STOP, "appeal")
    text = t(lang, ASK_REASON, max=appeals.MAX_REASON)
    return text, keyboards.inline([[(t(lang, "Cancel"), stop)]])


def appeal_text(lang: str, view: appeals.AppealView, zone: tzinfo, by: str | None = None) -> str:
    """The appeal card: the photo's card, the sender's reason, the final outcome once made
    (by `by` when given, else by the admin on record)."""
    appeal, status = view.appeal, view.appeal.status
    who = by or view.decider_name or t(lang, "an admin")
    tail = [t(lang, APPEAL_LINE, reason=appeal.reason)]
    if status == appeals.APPROVED:
        tail.append(t(lang, APPROVED_LINE, who=who))
    elif status == appeals.REJECTED:
        tail.append(t(lang, KEPT_LINE, who=who))
    approved = view.review.evidence.status == evidence.APPROVED
    head = review_ui.card_text(lang, view.review, zone, who if approved else None)
    end = "\n\n" + "\n".join(tail)
    room = review_ui.CAPTION_LIMIT - len(end)
    if len(head) > room:
        head = head[: max(0, room - 1)] + "…"
    return head + end


def appeal_buttons(lang: str, view: appeals.AppealView) -> InlineKeyboardMarkup | None:
    """Approve / Keep rejected while the appeal waits; nothing once decided."""
    if view.appeal.status != appeals.PENDING:
        return None
    eid = view.appeal.evidence_id
    return keyboards.inline(
        [
            [
                (t(lang, "✅ Approve on appeal"),
                 callbacks.encode(Action.APPEAL_DECIDE, eid, appeals.OVERTURN)),
                (t(lang, "❌ Keep rejected"),
                 callbacks.encode(Action.APPEAL_DECIDE, eid, appeals.UPHOLD)),
            ]
        ]
    )  # fmt: skip


def appeal_card(lang: str, view: appeals.AppealView, zone: tzinfo) -> review_ui.ReviewCard:
    """The card as it goes out: the photo by id (or its stored JPEG), this text as caption."""
    item = view.review.evidence
    return review_ui.ReviewCard(
        appeal_text(lang, view, zone),
        appeal_buttons(lang, view),
        item.file_id,
        item.as_document,
        evidence.shown_jpeg_key(item),
        media_kind=item.media_kind,
    )


def queue_header(lang: str, total: int) -> str:
    return tn(lang, "{count} appeal is waiting:", "{count} appeals are waiting; the oldest first:",
              total)  # fmt: skip
