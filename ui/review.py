"""Step 6 in words: the review card admins decide on, its buttons, and the rejection reasons.

The card shows who sent the photo, for which mission and meetup, and every automatic check
with its reason; once decided, who decided what. Every function here is pure: a language, a
time zone and storage's `ReviewView` in, text and markup out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from telegram import InlineKeyboardMarkup

from missions.places import place_name
from storage import evidence
from ui import callbacks, keyboards, video_evidence
from ui.callbacks import Action
from ui.checkin import presence
from ui.i18n import N_, format_when, localized, points, t, tn

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption

ICONS = {"ok": "✅", "warn": "⚠️", "unknown": "❔"}
CHECKS = {
    "unreadable": N_("Could not read the image: {detail}"),
    "renamed": N_("A {actual} file named as {named}"),
    "broken_exif": N_("Broken EXIF: {detail}"),
    "no_time": N_("No capture time (normal for compressed photos)"),
    "during": N_("Taken {taken}, during the meetup"),
    "outside": N_("Taken {taken}, not during the meetup"),
    "no_gps": N_("No GPS position"),
    "near": N_("Taken {metres} m from the meeting point"),
    "far": N_("Taken {metres} m from the meeting point"),
    "unique": N_("No similar earlier photo"),
    "near_duplicate": N_("Looks like photo #{of} ({distance}/64 bits apart, {whose})"),
    "download_failed": N_("Could not download the file: {detail}"),
    "ai": N_("AI judge: {verdict} — {detail}"),
    "word_seen": N_("Proof word {word} is visible"),
    "word_missing": N_("Proof word {word} not found in the photo"),
    "word_unclear": N_("Proof word {word}: could not tell"),
    "other_meetup": N_("Shows {word}, the proof word of meetup #{meeting}: an older photo?"),
    "before_checkin": N_("Taken {taken}, before check-in at {checked_in}"),
    "original": N_("Checked on the original file ({format})"),
    "compressed": N_("Checked on a compressed photo: Telegram removed its time and place"),
}
VERDICTS = {
    "yes": N_("shows the mission"),
    "no": N_("does not show the mission"),
    "unsure": N_("cannot tell"),
    "unavailable": N_("no answer"),
}


# A video's own checks (issue 21), said by ui/video_evidence.py.
CHECKS.update(video_evidence.CHECKS)


@dataclass(frozen=True)
class RejectReason:
    button: str  # the reviewer's button, and the card's "Rejected by …" line
    told: str  # the clause in the notice to the sender ("was not accepted: …")


# The one table of rejection reasons in words; storage.evidence.REASONS owns the keys.
REJECT_REASONS = {
    "blurry": RejectReason(N_("Blurry"), N_("the photo is blurry")),
    "place": RejectReason(N_("Wrong place"), N_("it was not taken at the meetup's place")),
    "mission": RejectReason(N_("Not the mission"), N_("it does not show the mission")),
    "duplicate": RejectReason(N_("Duplicate"), N_("it is a copy of an earlier photo")),
    "other": RejectReason(N_("Other"), N_("it does not meet the mission's evidence rule")),
}
if tuple(REJECT_REASONS) != evidence.REASONS:  # pragma: no cover - caught at import
    raise RuntimeError("REJECT_REASONS must say every storage.evidence.REASONS key, in order")

# `/review`
NONE_WAITING = N_("No photos are waiting for review. 🎉")
MORE_WAITING = N_("Decide on these, then send /review again for the next ones.")


@dataclass(frozen=True)
class ReviewCard:
    """A card as it goes out: the photo (or the original file) by id, the text as caption."""

    text: str
    markup: InlineKeyboardMarkup | None
    file_id: str
    as_document: bool
    # The stored JPEG to show instead, for an original Telegram cannot show inline (HEIC).
    shown_as_jpeg: str | None = None
    # What it is (storage.evidence.PHOTO, VIDEO_NOTE, VIDEO): an ordinary video goes as a video.
    media_kind: str = evidence.PHOTO


def card(lang: str, view: evidence.ReviewView, zone: tzinfo) -> ReviewCard:
    item = view.evidence
    return ReviewCard(
        card_text(lang, view, zone),
        card_buttons(lang, view),
        item.file_id,
        item.as_document,
        evidence.shown_jpeg_key(item),
        media_kind=item.media_kind,
    )


def _check_line(lang: str, check: dict[str, Any]) -> str:
    reason = str(check.get("reason", ""))
    values = {k: v for k, v in check.items() if k not in ("check", "result", "reason")}
    if check.get("check") == "ai":
        verdict = t(lang, VERDICTS[reason]) if reason in VERDICTS else reason
        values = {"verdict": verdict, "detail": values.get("detail", "")}
        reason = "ai"
    if "same_person" in values:
        values["whose"] = (
            t(lang, "same person") if values.pop("same_person") else t(lang, "another person")
        )
    template = CHECKS.get(reason)
    try:
        text = t(lang, template, **values) if template else reason
    except (KeyError, IndexError):
        text = reason
    return f"{ICONS.get(str(check.get('result')), '•')} {text}"


def card_text(lang: str, view: evidence.ReviewView, zone: tzinfo, by: str | None = None) -> str:
    """The card: who, what, where, and every check with its reason; the decision once made
    (by `by` when given, else by the reviewer on record)."""
    item, meetup = view.evidence, view.meetup
    mission = meetup.mission
    signals = item.signals or {}
    # A video (round or a file) is named as one: "사진" on a video confuses the reviewer.
    header = N_("📸 Photo #{id} (try {attempt}/{max})")
    if item.media_kind != "photo":
        header = N_("🎥 Video #{id} (try {attempt}/{max})")
    lines = [
        t(lang, header, id=item.id, attempt=item.attempt, max=view.max_attempts),
        t(
            lang,
            "👤 {name} · trust {trust}\n🎯 {title} · ⭐ {points}\n📍 {place} · {when}\n📝 {rule}",
            name=view.sender_name or "-",
            trust=round(view.trust_score),
            title=localized(lang, mission, "title"),
            points=points(lang, mission.points),
            place=place_name(lang, meetup.meeting.place_name),
            when=format_when(lang, meetup.meeting.starts_at, zone),
            rule=localized(lang, mission, "evidence_rule"),
        ),
        "",
    ]
    if view.checkin is None:
        lines.insert(2, t(lang, "⚠️ No check-in on record"))
    else:
        how = presence(lang, view.checkin.method, view.checkin.location, view.checkin.distance_m)
        lines.insert(2, t(lang, "🙋 Checked in: {how}", how=how or "-"))
    if view.proof_word:
        lines.insert(2, t(lang, "🔤 Expected proof word: {word}", word=view.proof_word))
    mark = video_evidence.card_mark(lang, item.media_kind)
    if mark:  # a video: live (a round video message) or a file to watch (issue 21)
        lines.insert(0, mark)
    for check in signals.get("checks", []):
        lines.append(_check_line(lang, check))
    if signals.get("recommendation") == "approve":
        lines.append(t(lang, "Suggestion: nothing unusual found"))
    elif signals.get("recommendation"):
        lines.append(t(lang, "Suggestion: look closely at the ⚠️ lines"))
    outcome = decision_line(lang, view, by)
    if outcome:
        lines += ["", outcome]
    text = "\n".join(lines)
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


def decision_line(lang: str, view: evidence.ReviewView, by: str | None = None) -> str:
    """ "Approved by …" once decided; empty while the photo waits."""
    who = by or view.reviewer_name or t(lang, "an admin")
    status = view.evidence.status
    if status == evidence.APPROVED:
        return t(
            lang, "✅ Approved by {who}: +{points}", who=who,
            points=points(lang, view.meetup.mission.points),
        )  # fmt: skip
    if status == evidence.RETRY:
        return t(lang, "🔁 {who} asked for a new photo", who=who)
    if status == evidence.REJECTED:
        reason = view.decision.reason if view.decision else None
        label = t(lang, REJECT_REASONS[reason].button) if reason in REJECT_REASONS else "-"
        return t(lang, "❌ Rejected by {who}: {reason}", who=who, reason=label)
    return ""


def rejection_told(lang: str, reason: object) -> str | None:
    """Why the sender's photo was rejected, as their notice says it (None: not a reason)."""
    found = REJECT_REASONS.get(str(reason))
    return t(lang, found.told) if found else None


def card_buttons(lang: str, view: evidence.ReviewView) -> InlineKeyboardMarkup | None:
    """Approve / Reject (and Ask again while tries are left) while the photo waits."""
    if view.evidence.status != evidence.IN_REVIEW:
        return None
    eid = view.evidence.id
    rows = [
        [
            (t(lang, "✅ Approve"), callbacks.encode(Action.REVIEW_APPROVE, eid)),
            (t(lang, "❌ Reject"), callbacks.encode(Action.REVIEW_REJECT, eid)),
        ]
    ]
    if view.can_ask_again:
        rows.append([(t(lang, "🔁 Ask again"), callbacks.encode(Action.REVIEW_AGAIN, eid))])
    return keyboards.inline(rows)


def reason_buttons(lang: str, evidence_id: int) -> InlineKeyboardMarkup:
    """Reject's second step: one button per reason, and back."""
    choices = [
        (t(lang, reason.button), callbacks.encode(Action.REVIEW_REASON, evidence_id, code))
        for code, reason in REJECT_REASONS.items()
    ]
    back = [(t(lang, "← Back"), callbacks.encode(Action.REVIEW_BACK, evidence_id))]
    return keyboards.inline([*keyboards.grid(choices, 2), back])


def queue_header(lang: str, total: int) -> str:
    return tn(lang, "{count} photo is waiting:", "{count} photos are waiting; the oldest first:",
              total)  # fmt: skip
