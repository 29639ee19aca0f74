"""Step 5 in words: what a person hears when they send a photo as proof.

Refusals (nothing waiting, the same photo again…) are in `ui/refusals.py`; these are the
answers to a photo that is taken in, or cannot be.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from telegram import InlineKeyboardMarkup

from storage.meetings import MeetupView
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, format_when, localized, t

TOO_BIG = N_(
    "This file is over 20 MB, too big for me to download. Please send it as a photo instead "
    "(not as a file)."
)
UNREADABLE = N_(
    "I can't read this image format. Please send it as a photo, or as a JPEG or PNG file."
)
NOT_AN_IMAGE = N_("That file is not an image. To prove a mission, send a photo of it.")
ONE_AT_A_TIME = N_(
    "Please send one photo at a time, not an album: pick the one that shows the mission best."
)
SEND_AGAIN = N_("Please send the photo again.")


SEND_ORIGINAL = N_(
    "📎 Tip: Telegram removes the time and place from photos sent this way. Next time, send "
    "the original as a file (📎 → File) and I can check when and where it was taken."
)


def received(lang: str, meetup: MeetupView, *, compressed: bool = False) -> str:
    """The photo is in and queued for the checks and a reviewer; after a `compressed` photo
    (no EXIF), with the tip to send the original as a file."""
    text = t(
        lang,
        'Got it! Your photo for "{title}" is being checked, then a reviewer looks at it. '
        "I'll tell you the result here.",
        title=localized(lang, meetup.mission, "title"),
    )
    return f"{text}\n\n{t(lang, SEND_ORIGINAL)}" if compressed else text


def which_meetup(
    lang: str, zone: tzinfo, meetups: Sequence[MeetupView]
) -> tuple[str, InlineKeyboardMarkup]:
    """Several meetups wait for a photo: one button each (time · mission)."""
    rows = [
        [
            (
                f"{format_when(lang, view.meeting.starts_at, zone)} · "
                f"{localized(lang, view.mission, 'title')}"[:60],
                callbacks.encode(Action.EVIDENCE_MEETUP, view.meeting.id),
            )
        ]
        for view in meetups
    ]
    return t(lang, "Which meetup is this photo for?"), keyboards.inline(rows)
