"""Step 5 with a video (issue 21): a round video message, or a video, as proof of the mission.

A round video message (`video_note`) is recorded live in Telegram's own camera — the apps
offer no way to send one from the gallery — so it is the strongest proof a person can send
from where they are; the review card marks it "live video". An ordinary video (from the
gallery, or a video file) is taken as a file for the reviewer to watch, with no such mark.
Either is refused politely when the message says it is longer than a minute (Telegram's own
limit for round videos; ours for any video) or bigger than the 20 MB a bot may download; the
verification job reads the real length from the file, takes one frame for the hash, the
duplicate index, the AI judge and the card, and the rest runs as for a photo: a reviewer
approves, the points are paid.

Registered before `handlers/evidence.py`, whose last handler answers any other file as "not
an image". The "which meetup?" buttons and their answer are evidence's (the kept upload
carries the media kind); a video in an album gets evidence's one answer per album.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from telegram import Message, Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import Context
from storage import errors, evidence
from storage.db import transaction
from ui import evidence as photo_ui
from ui import video_evidence as ui
from ui.i18n import t
from ui.refusals import refusal
from verification import video

# The same user_data keys as handlers/evidence.py (a feature may not import another): the
# upload kept while the person picks a meetup, and the last album answered.
UPLOAD_KEY = "evidence_upload"
ALBUM_KEY = "evidence_album"


class _InAlbum(filters.MessageFilter):
    """A message that is part of an album (media group)."""

    def filter(self, message: Message) -> bool:
        return message.media_group_id is not None


IN_ALBUM = _InAlbum(name="VIDEO_IN_ALBUM")


async def receive_video_note(update: Update, context: Context) -> None:
    """A round video message: live proof, unless it says it is too long or too big."""
    message = update.effective_message
    assert message is not None and message.video_note is not None
    note = message.video_note
    if await _refused(message, context, _seconds(note.duration), note.file_size):
        return
    upload = evidence.Upload(
        note.file_id, note.file_unique_id, False, message_id=message.message_id,
        media_kind=evidence.VIDEO_NOTE,
    )  # fmt: skip
    await _attach(update, context, upload)


async def receive_video(update: Update, context: Context) -> None:
    """A video from the gallery, or a video file: proof for the reviewer to watch."""
    message = update.effective_message
    assert message is not None
    media = message.video or message.document
    assert media is not None
    seconds = _seconds(message.video.duration) if message.video is not None else None
    if await _refused(message, context, seconds, media.file_size):
        return
    upload = evidence.Upload(
        media.file_id, media.file_unique_id, message.video is None,
        message_id=message.message_id, media_kind=evidence.VIDEO,
    )  # fmt: skip
    await _attach(update, context, upload)


def _seconds(duration: int | timedelta | None) -> float | None:
    """A duration as PTB gives it (seconds, or a timedelta with PTB_TIMEDELTA set)."""
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    return None if duration is None else float(duration)


async def _refused(
    message: Message, context: Context, seconds: float | None, size: int | None
) -> bool:
    """Answers a video the message says is too long or too big; True when it did."""
    if video.too_long(seconds):
        await message.reply_text(t(context.lang, ui.TOO_LONG))
        return True
    if video.too_big(size):
        await message.reply_text(t(context.lang, ui.TOO_BIG))
        return True
    return False


async def album(update: Update, context: Context) -> None:
    """Videos in an album: one answer per album (the same one evidence gives photos)."""
    message = update.effective_message
    assert message is not None
    if context.user_data is not None:
        if context.user_data.get(ALBUM_KEY) == message.media_group_id:
            return
        context.user_data[ALBUM_KEY] = message.media_group_id
    await message.reply_text(t(context.lang, photo_ui.ONE_AT_A_TIME))


async def _attach(update: Update, context: Context, upload: evidence.Upload) -> None:
    """Submits the video for the one meetup waiting for proof, or asks which one; a refusal
    (nothing waiting, not checked in, the same file again) is said in the chat."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    lang, svc = context.lang, context.services
    try:
        async with transaction(svc.sessions) as session:
            received = await evidence.receive(
                session, user_id=user.id, upload=upload, now=svc.clock.now(),
                rules=evidence.EvidenceRules.from_settings(svc.settings),
            )  # fmt: skip
    except errors.DomainError as exc:
        await context.bot.send_message(chat.id, refusal(lang, exc, svc.settings.zone))
        return
    if received.meetup is not None:
        live = upload.media_kind == evidence.VIDEO_NOTE
        await context.bot.send_message(chat.id, ui.received(lang, received.meetup, live=live))
        return
    if context.user_data is not None:
        context.user_data[UPLOAD_KEY] = asdict(upload)
    text, markup = photo_ui.which_meetup(lang, svc.settings.zone, received.choices)
    await context.bot.send_message(chat.id, text, reply_markup=markup)


def register(application: Application) -> None:
    """Videos in the private chat: before evidence's handlers, whose last one answers any
    other file as "not an image"; albums first, so an album gets one answer."""
    private = filters.ChatType.PRIVATE
    videos = filters.VIDEO | filters.Document.VIDEO
    application.add_handler(MessageHandler(private & IN_ALBUM & videos, album))
    application.add_handler(MessageHandler(private & filters.VIDEO_NOTE, receive_video_note))
    application.add_handler(MessageHandler(private & videos, receive_video))
