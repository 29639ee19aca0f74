"""Sends that a handler and a worker share (both may stand on `bot/`, not on each other)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Message
from telegram.error import BadRequest

from storage.evidence import VIDEO
from storage.files import FileStore
from ui.review import ReviewCard

log = logging.getLogger(__name__)


async def send_review_card(
    bot: Bot, chat_id: int, card: ReviewCard, store: FileStore | None = None, **extra: Any
) -> Message:
    """Posts a review card, the text as caption: the photo (or the original file, or a video)
    by file_id, or, for an original Telegram cannot show inline (an iPhone's HEIC) or a round
    video message (no caption possible), the JPEG the checks stored from it (when `store` is
    given and can give it back). `extra` goes with the send (the outbox's forum topic and
    rate-limit arguments)."""
    jpeg = await _shown_jpeg(store, card.shown_as_jpeg)
    caption, markup = card.text, card.markup
    try:
        if jpeg is not None:
            return await bot.send_photo(
                chat_id, jpeg, caption=caption, reply_markup=markup, **extra
            )
        if card.media_kind == VIDEO and not card.as_document:  # to watch on the card (issue 21)
            return await bot.send_video(
                chat_id, card.file_id, caption=caption, reply_markup=markup, **extra
            )
        send = bot.send_document if card.as_document else bot.send_photo
        return await send(chat_id, card.file_id, caption=caption, reply_markup=markup, **extra)
    except BadRequest:
        # The file can no longer be sent by id (rare): the card still works without it.
        return await bot.send_message(chat_id, card.text, reply_markup=markup, **extra)


async def _shown_jpeg(store: FileStore | None, key: str | None) -> bytes | None:
    if store is None or key is None:
        return None
    try:
        return await store.get(key)
    except Exception as exc:  # the card still goes out, with the original file
        log.warning("stored JPEG of a review card unavailable: %s", type(exc).__name__)
        return None
