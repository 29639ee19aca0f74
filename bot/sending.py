"""Sends that a handler and a worker share (both may stand on `bot/`, not on each other)."""

from __future__ import annotations

from telegram import Bot, Message
from telegram.error import BadRequest

from ui.review import ReviewCard


async def send_review_card(bot: Bot, chat_id: int, card: ReviewCard) -> Message:
    """Posts a review card: the photo (or the original file) by file_id, the text as caption."""
    send = bot.send_document if card.as_document else bot.send_photo
    try:
        return await send(chat_id, card.file_id, caption=card.text, reply_markup=card.markup)
    except BadRequest:
        # The file can no longer be sent by id (rare): the card still works without it.
        return await bot.send_message(chat_id, card.text, reply_markup=card.markup)
