"""A card in the admin group about a person who deleted their account, deleted or blanked
(issue 20; the rows come from `storage.admin_cards.queue`, the outbox dispatcher calls `clean`).

Delete first; where Telegram refuses ("A message can only be deleted if it was sent less than
48 hours ago", Bot API deleteMessage: 400 "message can't be deleted"), edit instead: a review
card gets a plain grey placeholder for the photo (editMessageMedia, which also turns a card
that went out as text into a photo) and a caption without the name; a report card gets its
text without the name and the reporter's words. A card already gone counts as cleaned; any
other refusal or a network error goes back to the dispatcher, which retries or gives up as for
any notice.

A review card (or an appeal's card) whose photo's retention ended (`admin_cards.PHOTO_EXPIRED`)
is only edited: the same placeholder for the photo, the caption redrawn as the decided card
showed it (its name, checks, decision and the appeal's reason stay for the admins;
editMessageMedia sets the caption the new media carries, so it is sent again). A card whose
sender has since deleted their account is left to that erasure's cleanup.
"""

from __future__ import annotations

import functools
import io
from datetime import tzinfo
from typing import Any

from PIL import Image
from telegram import Bot, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest

from storage import admin_cards, appeals, evidence
from storage.db import SessionFactory
from storage.errors import AppealRefused, EvidenceNotFound
from ui import appeals as appeal_ui
from ui import erased_cards, review
from ui.i18n import t

PLACEHOLDER_SIZE = (320, 240)
PLACEHOLDER_GREY = (214, 214, 214)


@functools.cache
def placeholder_jpeg() -> bytes:
    """The image a review card's photo is replaced with: plain grey, nothing in it."""
    buffer = io.BytesIO()
    Image.new("RGB", PLACEHOLDER_SIZE, PLACEHOLDER_GREY).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _said(exc: BadRequest, *words: str) -> bool:
    return any(word in exc.message.lower() for word in words)


async def clean(
    bot: Bot,
    sessions: SessionFactory,
    chat_id: int,
    values: dict[str, Any],
    lang: str,
    zone: tzinfo,
    **extra: Any,
) -> str:
    """Deletes or blanks one card; returns "deleted", "edited" or "gone" (nothing to do)."""
    message_id = int(values["message_id"])
    if values["action"] == admin_cards.PHOTO_EXPIRED:
        return await _photo_expired(bot, sessions, chat_id, values, lang, zone, **extra)
    if values["action"] == admin_cards.DELETE:
        try:
            await bot.delete_message(chat_id, message_id, **extra)
            return "deleted"
        except BadRequest as exc:
            if _said(exc, "not found"):
                return "gone"  # an admin deleted it already
            if not _said(exc, "can't be deleted"):
                raise
    async with sessions() as session:
        card = await admin_cards.view(session, values)
    try:
        if values["card"] in admin_cards.PHOTO_CARDS:  # the appeal's card showed the photo too
            text = (
                erased_cards.review_text(lang, card, zone)
                if isinstance(card, admin_cards.ErasedReview)
                else t(lang, erased_cards.REMOVED)
            )
            media = InputMediaPhoto(placeholder_jpeg(), caption=text, filename="removed.jpg")
            await bot.edit_message_media(
                media, chat_id=chat_id, message_id=message_id, reply_markup=None, **extra
            )
        else:
            markup: InlineKeyboardMarkup | None = None
            if isinstance(card, admin_cards.ErasedReport):
                text, markup = erased_cards.report_text(lang, card, zone)
            else:
                text = t(lang, erased_cards.REMOVED)
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup, **extra
            )
    except BadRequest as exc:
        if _said(exc, "not found"):
            return "gone"
        if not _said(exc, "not modified"):
            raise
    return "edited"


async def _photo_expired(
    bot: Bot,
    sessions: SessionFactory,
    chat_id: int,
    values: dict[str, Any],
    lang: str,
    zone: tzinfo,
    **extra: Any,
) -> str:
    """The card's photo becomes the placeholder; its caption stays as it was."""
    evidence_id, max_attempts = int(values["id"]), int(values.get("max_attempts", 3))
    markup: InlineKeyboardMarkup | None = None
    try:
        async with sessions() as session:
            view = await evidence.review_view(session, evidence_id, max_attempts)
            if values["card"] == admin_cards.APPEAL:
                appeal = await appeals.view(session, evidence_id, max_attempts)
    except (EvidenceNotFound, AppealRefused):
        return "gone"
    if view.evidence.user_id < 0:
        return "gone"  # the sender deleted their account: that erasure cleans the card
    if values["card"] == admin_cards.APPEAL:
        caption = appeal_ui.appeal_text(lang, appeal, zone)
        markup = appeal_ui.appeal_buttons(lang, appeal)  # still to decide: still decidable
    else:
        caption = review.card_text(lang, view, zone)
    media = InputMediaPhoto(placeholder_jpeg(), caption=caption, filename="expired.jpg")
    try:
        await bot.edit_message_media(
            media, chat_id=chat_id, message_id=int(values["message_id"]), reply_markup=markup,
            **extra,
        )  # fmt: skip
    except BadRequest as exc:
        if _said(exc, "not found"):
            return "gone"
        if not _said(exc, "not modified"):
            raise
    return "edited"
