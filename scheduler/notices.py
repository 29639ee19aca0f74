"""Outbox notices rendered as text in the recipient's language, at send time."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from bot.i18n import N_, format_when, t
from storage.meetings import MeetupView

MESSAGES = {
    "meetup_joined": N_('{name} joined your meetup "{title}" ({seated}/{capacity} seats taken).'),
    "meetup_waitlisted": N_('{name} is on the waitlist of your meetup "{title}".'),
    "meetup_left": N_('{name} left your meetup "{title}".'),
    "meetup_promoted": N_(
        'A seat opened up: you are now in "{title}" on {when} at {place}. See you there!'
    ),
    "meetup_cancelled": N_('The host cancelled "{title}" on {when}. Sorry! /meetups shows others.'),
    "host_message": N_('Message from the host of "{title}":\n\n{text}'),
    "checked_in": N_('{name} checked in to "{title}" ({present}/{seated} here).'),
    "meetup_reminder": N_(
        'Reminder: "{title}" starts {when} at {place}. Scan the host\'s QR code there to check in.'
    ),
    "evidence_request": N_(
        'Thanks for coming to "{title}"! Send a photo of the mission here as proof to earn '
        "your points."
    ),
}


def render(
    kind: str, lang: str, values: dict[str, Any], meetup: MeetupView | None, zone: tzinfo
) -> str:
    """The text of one notice; an unknown kind raises KeyError (a bug, not a person's doing)."""
    fields: dict[str, Any] = dict(values)
    if meetup is not None:
        mission = meetup.mission
        fields["title"] = mission.title_ko if lang == "ko" else mission.title_en
        fields["when"] = format_when(lang, meetup.meeting.starts_at, zone)
        fields["place"] = meetup.meeting.place_name
    return t(lang, MESSAGES[kind], **fields)
