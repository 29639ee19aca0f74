"""Step 5: a checked-in participant (or host) sends a photo of the mission as proof.

A photo (compressed by Telegram, EXIF gone) or the original as a document (EXIF kept; an
iPhone's arrives as `image/heic`) in the private chat is attached to the meetup waiting for it
(the person picks with buttons when several are), recorded at once and answered "received,
being checked" — after a compressed photo with the tip to send the original as a file next
time, so the time and place checks can run. Photos count from the person's check-in on;
someone who has not checked in is told how and from when they can. Downloading, hashing and
the other checks run in the verification job. Albums, files that are not images and files over
Telegram's 20 MB download limit each get a clear answer instead. The same message handled
twice (a redelivery) is one photo and gets the same answer.
"""

from __future__ import annotations

from dataclasses import asdict

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import Context
from storage import errors, evidence
from storage.db import transaction
from ui import callbacks
from ui import evidence as ui
from ui import video_evidence as video_ui
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t
from ui.refusals import refusal
from verification.photos import expected_format

UPLOAD_KEY = "evidence_upload"  # the photo waiting for "which meetup?" (user_data)
ALBUM_KEY = "evidence_album"  # the last album answered, so an album gets one answer
MAX_BYTES = 20 * 1024 * 1024  # getFile downloads at most 20 MB
# Image files the checks read; HEIC/HEIF are iPhones' originals (read through pillow-heif).
READABLE = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}


class _InAlbum(filters.MessageFilter):
    """A message that is part of an album (media group)."""

    def filter(self, message: Message) -> bool:
        return message.media_group_id is not None


IN_ALBUM = _InAlbum(name="IN_ALBUM")


async def receive_photo(update: Update, context: Context) -> None:
    """A compressed photo: the largest size Telegram made of it."""
    message = update.effective_message
    assert message is not None
    largest = message.photo[-1]
    upload = evidence.Upload(
        largest.file_id, largest.file_unique_id, False, message_id=message.message_id
    )
    await _attach(update, context, upload)


async def receive_document(update: Update, context: Context) -> None:
    """An image sent as a file (the original, with EXIF); too big or unreadable ones are
    answered with what to send instead."""
    message = update.effective_message
    assert message is not None and message.document is not None
    document = message.document
    if document.file_size and document.file_size > MAX_BYTES:
        await message.reply_text(t(context.lang, ui.TOO_BIG))
        return
    if (document.mime_type or "").lower() not in READABLE:
        await message.reply_text(t(context.lang, ui.UNREADABLE))
        return
    upload = evidence.Upload(
        document.file_id, document.file_unique_id, True, expected_format(document.file_name),
        message_id=message.message_id,
    )  # fmt: skip
    await _attach(update, context, upload)


async def not_an_image(update: Update, context: Context) -> None:
    """A file that is not an image."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(t(context.lang, ui.NOT_AN_IMAGE))


async def album(update: Update, context: Context) -> None:
    """Several photos at once: one answer per album, asking for the one best photo."""
    message = update.effective_message
    assert message is not None
    if context.user_data is not None:
        if context.user_data.get(ALBUM_KEY) == message.media_group_id:
            return
        context.user_data[ALBUM_KEY] = message.media_group_id
    await message.reply_text(t(context.lang, ui.ONE_AT_A_TIME))


async def pick_meetup(update: Update, context: Context) -> None:
    """The answer to "which meetup?": submits the photo kept from a moment ago (kept until the
    next photo, so the same press handled twice gives the same answer)."""
    kept = context.user_data.get(UPLOAD_KEY) if context.user_data is not None else None
    try:
        meeting_id = context.pressed.int_arg(0)
    except InvalidCallback:
        kept = None
    if not isinstance(kept, dict):
        await context.answer(t(context.lang, ui.SEND_AGAIN), alert=True, or_message=True)
        return
    await context.close_buttons()
    await _attach(update, context, evidence.Upload(**kept), meeting_id)


async def _attach(
    update: Update, context: Context, upload: evidence.Upload, meeting_id: int | None = None
) -> None:
    """Submits the photo for `meeting_id`, or for the one meetup waiting for it, or asks
    which one; a refusal is said in the chat (a press was answered already)."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    lang, svc = context.lang, context.services
    try:
        async with transaction(svc.sessions) as session:
            received = await evidence.receive(
                session, user_id=user.id, upload=upload, meeting_id=meeting_id,
                now=svc.clock.now(), rules=evidence.EvidenceRules.from_settings(svc.settings),
            )  # fmt: skip
    except errors.DomainError as exc:
        await context.bot.send_message(chat.id, refusal(lang, exc, svc.settings.zone))
        return
    if received.meetup is not None:
        # One answer per submission; a compressed photo's carries the tip about originals.
        text = ui.received(lang, received.meetup, compressed=not upload.as_document)
        if upload.media_kind != evidence.PHOTO:  # a video, after "which meetup?" (issue 21)
            live = upload.media_kind == evidence.VIDEO_NOTE
            text = video_ui.received(lang, received.meetup, live=live)
        await context.bot.send_message(chat.id, text)
        return
    if context.user_data is not None:
        context.user_data[UPLOAD_KEY] = asdict(upload)
    text, markup = ui.which_meetup(lang, svc.settings.zone, received.choices)
    await context.bot.send_message(chat.id, text, reply_markup=markup)


def register(application: Application) -> None:
    """Step 5: photos and files. Registered after every conversation, so a photo one of them
    waits for goes there; albums are answered before the single-photo handlers see them."""
    private = filters.ChatType.PRIVATE
    photo_or_file = filters.PHOTO | filters.Document.ALL
    application.add_handler(MessageHandler(private & IN_ALBUM & photo_or_file, album))
    application.add_handler(MessageHandler(private & filters.PHOTO, receive_photo))
    application.add_handler(MessageHandler(private & filters.Document.IMAGE, receive_document))
    application.add_handler(MessageHandler(private & filters.Document.ALL, not_an_image))
    application.add_handler(
        CallbackQueryHandler(pick_meetup, pattern=callbacks.pattern(Action.EVIDENCE_MEETUP))
    )
