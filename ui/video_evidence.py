"""Videos as proof in words (issue 21): what a person hears when they send a round video
message or a video, and what the review card says about one.

A round video message (`video_note`) is recorded live in Telegram's own camera, so the card
marks it "live video"; an ordinary video (from the gallery, or as a file) is a file for the
reviewer to watch, with no such mark. The answers to a photo that is taken in are in
`ui/evidence.py`; refusals in `ui/refusals.py`.
"""

from __future__ import annotations

from storage.meetings import MeetupView
from storage.models import EVIDENCE_MEDIA
from ui.i18n import N_, localized, t

PHOTO, VIDEO_NOTE, VIDEO = EVIDENCE_MEDIA

TOO_LONG = N_(
    "This video is longer than a minute. Please send a shorter one: a round video message "
    "(hold the camera button in the chat) lasts at most a minute."
)
TOO_BIG = N_(
    "This video is over 20 MB, too big for me to download. Please send a shorter clip, or "
    "record a round video message in the chat."
)
LIVE_TIP = N_(
    "🎥 Tip: a round video message recorded right here in the chat (tap the mic button to "
    "switch to the camera, then hold it) shows you were there live."
)

# The card's first line: what kind of proof this is.
MARKS = {
    VIDEO_NOTE: N_("🎥 Live video: a round video message recorded in Telegram's camera"),
    VIDEO: N_("🎞 Video file: not necessarily recorded at the meetup"),
}

# A video's checks on the review card (storage keeps the reason codes of verification/video.py).
CHECKS = {
    "live_video": N_("Round video message recorded live in Telegram ({seconds} s)"),
    "video_file": N_("A video file ({seconds} s): it may have been recorded earlier"),
    "sent_during": N_("Recorded and sent {taken}, during the meetup"),
    "sent_outside": N_("Recorded and sent {taken}, not during the meetup"),
    "too_long": N_("{seconds} s long, over the {max} s a video may last"),
    "not_round": N_("Not square ({width}×{height}): not recorded by Telegram's camera"),
    "unreadable_video": N_("Could not read the video: {detail}"),
    "no_video_time": N_("The file states no recording time"),
}


def received(lang: str, meetup: MeetupView, *, live: bool) -> str:
    """The video is in and queued for the checks and a reviewer; after an ordinary video,
    with the tip that a round video message proves a live recording."""
    title = localized(lang, meetup.mission, "title")
    if live:
        return t(
            lang,
            'Got it! Your live video for "{title}" is being checked, then a reviewer looks at '
            "it. I'll tell you the result here.",
            title=title,
        )
    text = t(
        lang,
        'Got it! Your video for "{title}" is being checked, then a reviewer looks at it. '
        "I'll tell you the result here.",
        title=title,
    )
    return f"{text}\n\n{t(lang, LIVE_TIP)}"


def card_mark(lang: str, media_kind: str) -> str | None:
    """The review card's mark for a video ("live video" for a round one); None for a photo."""
    mark = MARKS.get(media_kind)
    return t(lang, mark) if mark else None
