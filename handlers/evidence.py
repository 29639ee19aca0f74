"""Step 5: a checked-in participant sends a photo of the mission as proof.

A photo (compressed by Telegram, EXIF gone) or the original as a document (EXIF kept) in the
private chat is attached to the meetup waiting for it (the person picks with buttons when
several are), recorded at once and answered "received, being checked"; downloading, hashing
and the other checks run in the verification job. Albums, files that are not images and files
over Telegram's 20 MB download limit each get a clear answer instead.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import Context
from bot.services import Services
from handlers.meetups import title_of
from storage import errors, evidence, meetings
from storage.accounts import NotRegistered
from storage.db import transaction
from ui import callbacks, keyboards
from ui.callbacks import Action, InvalidCallback
from ui.i18n import format_when, t
from verification.photos import expected_format

UPLOAD_KEY = "evidence_upload"  # the photo waiting for "which meetup?" (user_data)
ALBUM_KEY = "evidence_album"  # the last album answered, so an album gets one answer
MAX_BYTES = 20 * 1024 * 1024  # getFile downloads at most 20 MB
READABLE = {"image/jpeg", "image/png", "image/webp"}


class _InAlbum(filters.MessageFilter):
    """A message that is part of an album (media group)."""

    def filter(self, message: Message) -> bool:
        return message.media_group_id is not None


IN_ALBUM = _InAlbum(name="IN_ALBUM")


def rules_of(svc: Services) -> evidence.EvidenceRules:
    return evidence.EvidenceRules(
        max_attempts=svc.settings.evidence_max_attempts,
        window_after=timedelta(hours=svc.settings.evidence_window_hours),
    )


async def receive_photo(update: Update, context: Context) -> None:
    """A compressed photo: the largest size Telegram made of it."""
    message = update.effective_message
    assert message is not None
    largest = message.photo[-1]
    await _attach(update, context, evidence.Upload(largest.file_id, largest.file_unique_id, False))


async def receive_document(update: Update, context: Context) -> None:
    """An image sent as a file (the original, with EXIF)."""
    message = update.effective_message
    assert message is not None and message.document is not None
    lang = context.lang
    document = message.document
    if document.file_size and document.file_size > MAX_BYTES:
        await message.reply_text(
            t(
                lang,
                "This file is over 20 MB, too big for me to download. Please send it as a "
                "photo instead (not as a file).",
            )
        )
        return
    if (document.mime_type or "").lower() not in READABLE:
        await message.reply_text(
            t(
                lang,
                "I can't read this image format. Please send it as a photo, or as a JPEG or "
                "PNG file.",
            )
        )
        return
    upload = evidence.Upload(
        document.file_id, document.file_unique_id, True, expected_format(document.file_name)
    )
    await _attach(update, context, upload)


async def not_an_image(update: Update, context: Context) -> None:
    """A file that is not an image."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        t(
            context.lang,
            "That file is not an image. To prove a mission, send a photo of it.",
        )
    )


async def album(update: Update, context: Context) -> None:
    """Several photos at once: one answer per album, asking for the one best photo."""
    message = update.effective_message
    assert message is not None
    if context.user_data is not None:
        if context.user_data.get(ALBUM_KEY) == message.media_group_id:
            return
        context.user_data[ALBUM_KEY] = message.media_group_id
    await message.reply_text(
        t(
            context.lang,
            "Please send one photo at a time, not an album: pick the one that shows the "
            "mission best.",
        )
    )


async def _attach(update: Update, context: Context, upload: evidence.Upload) -> None:
    """Submits the photo for the one meetup waiting for it, or asks which one."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        pending = await evidence.pending_meetups(session, user.id, svc.clock.now(), rules_of(svc))
    if not pending.meetups:
        if pending.in_review:
            text = t(lang, "Your photo is already being checked. I'll tell you the result here.")
        elif pending.no_tries:
            text = t(lang, "You have used every try to send a photo for that meetup.")
        else:
            text = t(
                lang,
                "No mission is waiting for a photo from you. Photos count as proof for meetups "
                "you checked in to: find one with /meetups.",
            )
        await message.reply_text(text)
        return
    if len(pending.meetups) == 1:
        await _submit(update, context, upload, pending.meetups[0].meeting.id)
        return
    if context.user_data is not None:
        context.user_data[UPLOAD_KEY] = asdict(upload)
    rows = [
        [
            (
                f"{format_when(lang, view.meeting.starts_at, svc.settings.zone)} · "
                f"{title_of(lang, view)}"[:60],
                callbacks.encode(Action.EVIDENCE_MEETUP, view.meeting.id),
            )
        ]
        for view in pending.meetups
    ]
    await message.reply_text(
        t(lang, "Which meetup is this photo for?"), reply_markup=keyboards.inline(rows)
    )


async def pick_meetup(update: Update, context: Context) -> None:
    """The answer to "which meetup?": submits the photo kept from a moment ago."""
    query = update.callback_query
    assert query is not None
    lang = context.lang
    kept = context.user_data.pop(UPLOAD_KEY, None) if context.user_data is not None else None
    try:
        meeting_id = callbacks.decode(query.data).int_arg(0)
    except InvalidCallback:
        kept = None
    if not isinstance(kept, dict):
        await query.answer(t(lang, "Please send the photo again."), show_alert=True)
        return
    await keyboards.close_buttons(update)
    await _submit(update, context, evidence.Upload(**kept), meeting_id)


async def _submit(
    update: Update, context: Context, upload: evidence.Upload, meeting_id: int
) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    lang = context.lang
    svc = context.services
    try:
        async with transaction(svc.sessions) as session:
            await evidence.submit(
                session, user_id=user.id, meeting_id=meeting_id, upload=upload,
                now=svc.clock.now(), rules=rules_of(svc),
            )  # fmt: skip
            view = await meetings.view(session, meeting_id)
    except errors.SamePhoto:
        text = t(lang, "You sent this exact photo before. Please send a new one.")
    except errors.NothingPending as exc:
        text = {
            "approved": t(lang, "Your photo for that meetup is already approved. 🎉"),
            "in_review": t(
                lang, "Your photo is already being checked. I'll tell you the result here."
            ),
            "no_tries": t(lang, "You have used every try to send a photo for that meetup."),
        }.get(exc.reason, t(lang, "That meetup is not waiting for a photo from you."))
    except NotRegistered:
        text = t(lang, "You need an account for this. Send /start to sign up; it takes a minute.")
    else:
        text = t(
            lang,
            'Got it! Your photo for "{title}" is being checked, then a reviewer looks at it. '
            "I'll tell you the result here.",
            title=title_of(lang, view),
        )
    await context.bot.send_message(chat.id, text)


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
