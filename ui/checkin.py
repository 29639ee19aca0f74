"""Check-in as people see it (step 4): the host's QR caption, the check-in reply and the
host's list of who is here.

Pure functions of a language and `storage.meetings`' view dataclasses.
"""

from __future__ import annotations

from storage import meetings
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import localized, t
from ui.meetups import Screen, proof_word_note, title_of


def checkin_caption(lang: str, sheet: meetings.CheckinSheet, rotation_seconds: int) -> Screen:
    """The caption and the "fresh QR" button under the host's check-in QR."""
    minutes = max(1, rotation_seconds // 60)
    caption = t(
        lang,
        "Check-in for \"{title}\": participants scan this with their phone camera. If "
        "scanning does not work, they type /checkin {code}. The QR changes every {minutes} "
        "minutes; press the button for a fresh one.",
        title=title_of(lang, sheet.meetup), code=sheet.code, minutes=minutes,
    ) + proof_word_note(lang, sheet.proof_word)  # fmt: skip
    fresh = callbacks.encode(Action.MEETUP_HOST, sheet.meetup.meeting.id, "qr")
    return caption, keyboards.inline([[(t(lang, "🔄 Fresh QR"), fresh)]])


def checked_in(lang: str, done: meetings.CheckedIn) -> str:
    return t(
        lang,
        'Checked in to "{title}". ✅ Enjoy! Afterwards, send a photo of the mission here '
        "as proof: {rule}",
        title=title_of(lang, done.meetup),
        rule=localized(lang, done.meetup.mission, "evidence_rule"),
    ) + proof_word_note(lang, done.proof_word)


def roster_text(lang: str, roster: meetings.Roster) -> str:
    lines = [t(lang, 'Participants of "{title}":', title=title_of(lang, roster.meetup))]
    for person in roster.people:
        waiting = person.status == meetings.WAITLISTED
        mark = "✅" if person.checked_in else ("⏳" if waiting else "•")
        suffix = t(lang, " (waitlist)") if waiting else ""
        lines.append(f"{mark} {person.name}{suffix}")
    return "\n".join(lines)
