"""Step 6: admins review photo evidence with inline buttons.

The verification job posts one card per photo in the admin group (`HALSARAM_ADMIN_CHAT_ID`):
the photo itself (by file_id), mission, meetup, the sender's trust score and what the automatic
checks found, with Approve / Reject (then a reason) / Ask again. Every press is re-checked on
the server: only an admin decides, and only the first decision counts; the card is then edited
to say who decided. `/review` in a private chat shows an admin the photos still waiting, with
the same buttons.
"""

from __future__ import annotations

import contextlib
from datetime import tzinfo
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.services import Services
from handlers.evidence import rules_of
from storage import errors, evidence
from storage.db import transaction
from ui import callbacks, keyboards
from ui.callbacks import Action, InvalidCallback
from ui.i18n import N_, format_when, t

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption
SHOWN = 5  # cards per /review

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
}
VERDICTS = {
    "yes": N_("shows the mission"),
    "no": N_("does not show the mission"),
    "unsure": N_("cannot tell"),
    "unavailable": N_("no answer"),
}
REASON_LABELS = {
    "blurry": N_("Blurry"),
    "place": N_("Wrong place"),
    "mission": N_("Not the mission"),
    "duplicate": N_("Duplicate"),
    "other": N_("Other"),
}


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


def card_text(lang: str, view: evidence.ReviewView, zone: tzinfo) -> str:
    """The card: who, what, where, and every check with its reason; the decision once made."""
    item, meetup = view.evidence, view.meetup
    mission = meetup.mission
    signals = item.signals or {}
    lines = [
        t(
            lang,
            "📸 Photo #{id} (try {attempt}/{max})\n👤 {name} · trust {trust}\n🎯 {title} · "
            "⭐ {points} points\n📍 {place} · {when}\n📝 {rule}",
            id=item.id,
            attempt=item.attempt,
            max=view.max_attempts,
            name=view.sender_name or "-",
            trust=round(view.trust_score),
            title=mission.title_ko if lang == "ko" else mission.title_en,
            points=mission.points,
            place=meetup.meeting.place_name,
            when=format_when(lang, meetup.meeting.starts_at, zone),
            rule=mission.evidence_rule_ko if lang == "ko" else mission.evidence_rule_en,
        ),
        "",
    ]
    if view.proof_word:
        lines.insert(1, t(lang, "🔤 Expected proof word: {word}", word=view.proof_word))
    for check in signals.get("checks", []):
        lines.append(_check_line(lang, check))
    if signals.get("recommendation") == "approve":
        lines.append(t(lang, "Suggestion: nothing unusual found"))
    elif signals.get("recommendation"):
        lines.append(t(lang, "Suggestion: look closely at the ⚠️ lines"))
    outcome = decision_line(lang, view)
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
            lang, "✅ Approved by {who}: +{points} points", who=who,
            points=view.meetup.mission.points,
        )  # fmt: skip
    if status == evidence.RETRY:
        return t(lang, "🔁 {who} asked for a new photo", who=who)
    if status == evidence.REJECTED:
        reason = view.decision.reason if view.decision else None
        label = t(lang, REASON_LABELS[reason]) if reason in REASON_LABELS else "-"
        return t(lang, "❌ Rejected by {who}: {reason}", who=who, reason=label)
    return ""


def card_buttons(lang: str, view: evidence.ReviewView) -> InlineKeyboardMarkup | None:
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
    choices = [
        (t(lang, label), callbacks.encode(Action.REVIEW_REASON, evidence_id, code))
        for code, label in REASON_LABELS.items()
    ]
    back = [(t(lang, "← Back"), callbacks.encode(Action.REVIEW_BACK, evidence_id))]
    return keyboards.inline([*keyboards.grid(choices, 2), back])


async def send_card(
    bot: Bot, chat_id: int, lang: str, view: evidence.ReviewView, zone: tzinfo
) -> Message:
    """Posts the card: the photo (or the original file) by file_id, with the checks below."""
    text, markup = card_text(lang, view, zone), card_buttons(lang, view)
    item = view.evidence
    try:
        if item.as_document:
            return await bot.send_document(chat_id, item.file_id, caption=text, reply_markup=markup)
        return await bot.send_photo(chat_id, item.file_id, caption=text, reply_markup=markup)
    except BadRequest:
        # The file can no longer be sent by id (rare): the card still works without it.
        return await bot.send_message(chat_id, text, reply_markup=markup)


async def _edit(bot: Bot, chat_id: int, message_id: int, text: str, markup: Any) -> None:
    """Edits a card, whether it went out as a photo (caption) or as text."""
    try:
        await bot.edit_message_caption(
            chat_id=chat_id, message_id=message_id, caption=text, reply_markup=markup
        )
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return
        with contextlib.suppress(BadRequest):
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )


def _rules(svc: Services) -> evidence.EvidenceRules:
    return rules_of(svc)


async def _show_outcome(
    update: Update, context: Context, view: evidence.ReviewView, by: str | None
) -> None:
    """Redraws the pressed card and the group's card with the decision and no buttons."""
    svc = context.services
    query = update.callback_query
    assert query is not None and query.message is not None
    lang = context.lang
    group_lang = svc.settings.default_language
    text = card_text(lang, view, svc.settings.zone)
    if by:
        text = text.rsplit("\n\n", 1)[0] + "\n\n" + decision_line(lang, view, by)
    pressed = (query.message.chat.id, query.message.message_id)
    await _edit(context.bot, *pressed, text, None)
    card = (view.evidence.review_chat_id, view.evidence.review_message_id)
    if card[0] is not None and card[1] is not None and card != pressed:
        group_text = card_text(group_lang, view, svc.settings.zone)
        if by:
            group_text = (
                group_text.rsplit("\n\n", 1)[0] + "\n\n" + decision_line(group_lang, view, by)
            )
        await _edit(context.bot, card[0], card[1], group_text, None)


def _refusal(lang: str, error: errors.DomainError) -> str:
    match error:
        case errors.NotAdmin():
            return t(lang, "Only admins can review photos. Nothing was changed.")
        case errors.AlreadyDecided():
            return t(lang, "Another admin already decided on this photo. Nothing was changed.")
        case errors.NotReady():
            return t(lang, "The checks on this photo are still running. Try again in a moment.")
        case errors.NoTriesLeft():
            return t(lang, "The sender has used every try; approve or reject this photo.")
    return t(lang, "That photo no longer exists.")


async def decide(update: Update, context: Context) -> None:
    """Approve, Reject with a reason, or Ask again: the first admin's press wins."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    try:
        parsed = callbacks.decode(query.data)
        evidence_id = parsed.int_arg(0)
    except InvalidCallback:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    action, reason = {
        Action.REVIEW_APPROVE: (evidence.APPROVE, None),
        Action.REVIEW_AGAIN: (evidence.ASK_AGAIN, None),
        Action.REVIEW_REASON: (evidence.REJECT, parsed.args[-1]),
    }[parsed.action]
    if action == evidence.REJECT and reason not in evidence.REASONS:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    try:
        async with transaction(svc.sessions) as session:
            decision = await evidence.decide(
                session, evidence_id=evidence_id, reviewer_id=update.effective_user.id,
                action=action, reason=reason, now=svc.clock.now(), rules=_rules(svc),
            )  # fmt: skip
    except errors.DomainError as exc:
        await query.answer(_refusal(lang, exc), show_alert=True)
        if isinstance(exc, errors.AlreadyDecided):
            async with svc.sessions() as session:
                view = await evidence.review_view(session, evidence_id, _rules(svc).max_attempts)
            await _show_outcome(update, context, view, None)
        return
    done = {
        evidence.APPROVED: t(lang, "Approved: {points} points paid.", points=decision.points),
        evidence.REJECTED: t(lang, "Rejected; the sender was asked for a new photo."),
        evidence.RETRY: t(lang, "The sender was asked for a new photo."),
    }[decision.status]
    await query.answer(done)
    await _show_outcome(update, context, decision.view, update.effective_user.first_name)


async def _admin_view(update: Update, context: Context) -> evidence.ReviewView | None:
    """The pressed card's photo when the presser is an admin and it still waits; else answers."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    try:
        evidence_id = callbacks.decode(query.data).int_arg(0)
        async with svc.sessions() as session:
            await evidence.require_admin(session, update.effective_user.id)
            view = await evidence.review_view(session, evidence_id, _rules(svc).max_attempts)
    except InvalidCallback:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return None
    except errors.DomainError as exc:
        await query.answer(_refusal(lang, exc), show_alert=True)
        return None
    if view.evidence.status != evidence.IN_REVIEW:
        await query.answer(_refusal(lang, errors.AlreadyDecided()), show_alert=True)
        await _show_outcome(update, context, view, None)
        return None
    return view


async def reject_menu(update: Update, context: Context) -> None:
    """Reject: the card's buttons become the reasons (nothing is decided yet)."""
    view = await _admin_view(update, context)
    query = update.callback_query
    if view is None or query is None:
        return
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(reason_buttons(context.lang, view.evidence.id))


async def back(update: Update, context: Context) -> None:
    """Back from the reasons to Approve / Reject / Ask again."""
    view = await _admin_view(update, context)
    query = update.callback_query
    if view is None or query is None:
        return
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(card_buttons(context.lang, view))


async def list_waiting(update: Update, context: Context) -> None:
    """`/review`: the photos waiting for a decision, as cards in this private chat."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        try:
            await evidence.require_admin(session, user.id)
        except errors.NotAdmin:
            await message.reply_text(t(lang, "Sorry, this command is for admins."))
            return
        views, total = await evidence.waiting_reviews(session, _rules(svc).max_attempts, SHOWN)
    if not views:
        await message.reply_text(t(lang, "No photos are waiting for review. 🎉"))
        return
    await message.reply_text(t(lang, "{total} photos are waiting; the oldest first:", total=total))
    for view in views:
        await send_card(context.bot, message.chat_id, lang, view, svc.settings.zone)
    if total > len(views):
        await message.reply_text(
            t(lang, "Decide on these, then send /review again for the next ones.")
        )


def register(application: Application) -> None:
    """Step 6: /review and the card's buttons; admins only, the first decision wins."""
    application.add_handler(
        CommandHandler("review", list_waiting, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in (
        (Action.REVIEW_APPROVE, decide),
        (Action.REVIEW_REASON, decide),
        (Action.REVIEW_AGAIN, decide),
        (Action.REVIEW_REJECT, reject_menu),
        (Action.REVIEW_BACK, back),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
