"""Check-in as people see it (step 4): the host's QR caption, the location step that follows
the QR or code, the check-in reply with when and how to send the proof, and the host's list
of who is here and how.

Pure functions of a language, a time zone and `storage.meetings`' view dataclasses. The
location step shows a reply keyboard (Telegram's location button and "I can't share"); every
answer that ends it takes the keyboard away (`ReplyKeyboardRemove`).
"""

from __future__ import annotations

from datetime import tzinfo

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from storage import meetings
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, SUPPORTED, format_distance, format_when, localized, t, tn
from ui.meetups import Screen, place_of, proof_word_note, title_of

SHARE = N_("📍 Share my location")
SKIP = N_("Skip — I can't share it")
CLOSE = ReplyKeyboardRemove()

Step = tuple[str, ReplyKeyboardMarkup | ReplyKeyboardRemove]

_METHODS = {"qr": N_("QR"), "code": N_("code"), "host": N_("host")}


def skip_labels() -> list[str]:
    """The skip button's text in every language (what the button sends as a message)."""
    return sorted({t(lang, SKIP) for lang in SUPPORTED})


def _keyboard(lang: str, *, skip: bool) -> ReplyKeyboardMarkup:
    rows = [[KeyboardButton(t(lang, SHARE), request_location=True)]]
    if skip:
        rows.append([KeyboardButton(t(lang, SKIP))])
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)


# --------------------------------------------------------------------------- the host


def checkin_caption(lang: str, sheet: meetings.CheckinSheet, rotation_seconds: int) -> Screen:
    """The caption and the "fresh QR" button under the host's check-in QR."""
    minutes = max(1, rotation_seconds // 60)
    caption = tn(
        lang,
        "Check-in for \"{title}\": participants scan this with their phone camera, or type "
        "/checkin {code}, then share their location. The QR and the code change every "
        "minute; press the button for fresh ones.",
        "Check-in for \"{title}\": participants scan this with their phone camera, or type "
        "/checkin {code}, then share their location. The QR and the code change every "
        "{count} minutes; press the button for fresh ones.",
        minutes, title=title_of(lang, sheet.meetup), code=sheet.code,
    ) + proof_word_note(lang, sheet.proof_word)  # fmt: skip
    fresh = callbacks.encode(Action.MEETUP_HOST, sheet.meetup.meeting.id, "qr")
    return caption, keyboards.inline([[(t(lang, "🔄 Fresh QR"), fresh)]])


def presence(lang: str, method: str | None, location: str | None, distance_m: int | None) -> str:
    """How someone checked in: "QR · 📍 40 m (live)", "code · location unverified"…"""
    parts = [t(lang, _METHODS[method])] if method in _METHODS else []
    if location == "unverified":
        parts.append(t(lang, "⚠️ location unverified"))
    elif location is not None and distance_m is not None:
        where = "📍 " + format_distance(lang, distance_m)
        parts.append(where + (t(lang, " (live)") if location == "live" else ""))
    return " · ".join(parts)


def roster_text(lang: str, roster: meetings.Attendance) -> str:
    """The host's list: who holds a place, who is here and how (QR or code, the distance
    from the meeting point or "location unverified")."""
    lines = [t(lang, 'Participants of "{title}":', title=title_of(lang, roster.meetup))]
    for person in roster.people:
        waiting = person.status == meetings.WAITLISTED
        mark = "✅" if person.checked_in else ("⏳" if waiting else "•")
        suffix = t(lang, " (waitlist)") if waiting else ""
        how = presence(lang, person.method, person.location, person.distance_m)
        lines.append(f"{mark} {person.name}{suffix}" + (f" — {how}" if how else ""))
    here = sum(1 for p in roster.people if p.checked_in)
    seated = sum(1 for p in roster.people if p.status == meetings.JOINED)
    lines += ["", t(lang, "Here: {here}/{seated}. 📍 counts within {radius} m of the meeting "
                          "point.", here=here, seated=seated, radius=roster.radius_m)]  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------- the location step


def ask_location(lang: str, zone: tzinfo, presented: meetings.Presented) -> Step:
    """After the QR or code: share where you are (a live location is best), or skip."""
    text = t(
        lang,
        '📍 One more step for "{title}": share your location, so I can see you are at the '
        "meeting point ({place}, within {radius} m).\n\nBest is a live location: 📎 → "
        "Location → Share My Live Location. Or press \"{share}\" below.",
        title=title_of(lang, presented.meetup), place=place_of(lang, presented.meetup.meeting),
        radius=presented.radius_m, share=t(lang, SHARE),
    )  # fmt: skip
    if presented.location_required:
        text += "\n\n" + t(lang, "Check-in here needs your location.")
    else:
        text += "\n\n" + t(
            lang,
            'Can\'t share it? Press "{skip}": you are checked in with "location '
            'unverified", which the host and the reviewers see.',
            skip=t(lang, SKIP),
        )
    text += "\n" + t(
        lang, "(This waits until {time}.)", time=f"{presented.answer_by.astimezone(zone):%H:%M}"
    )
    return text, _keyboard(lang, skip=not presented.location_required)


def too_far(lang: str, far: meetings.TooFar) -> Step:
    """The location is outside the radius: how far, and a retry."""
    text = t(
        lang,
        'You are about {distance} from the meeting point of "{title}" ({place}). Check-in '
        "counts within {radius} m: go there and share your location again (a live location "
        "works best).",
        distance=format_distance(lang, far.distance_m), title=title_of(lang, far.meetup),
        place=place_of(lang, far.meetup.meeting), radius=far.radius_m,
    )  # fmt: skip
    if not far.location_required:
        text += " " + t(
            lang,
            'Or press "{skip}" to check in with "location unverified".',
            skip=t(lang, SKIP),
        )
    return text, _keyboard(lang, skip=not far.location_required)


def location_needed(lang: str, needed: meetings.LocationNeeded) -> Step:
    return t(
        lang,
        "Check-in here needs your location: share it with the button below when you are "
        "within {radius} m of the meeting point ({place}).",
        radius=needed.radius_m, place=place_of(lang, needed.meetup.meeting),
    ), _keyboard(lang, skip=False)  # fmt: skip


def expired(lang: str, gone: meetings.Expired) -> Step:
    return t(
        lang,
        'The check-in for "{title}" waited too long for your location. Scan the host\'s QR '
        "again, or type /checkin with the code it shows now.",
        title=title_of(lang, gone.meetup),
    ), CLOSE


def nothing_waiting(lang: str) -> Step:
    return t(
        lang,
        "No check-in is waiting for your location. To check in, scan the host's QR or type "
        "/checkin with the code under it.",
    ), CLOSE


def checked_in(lang: str, zone: tzinfo, done: meetings.CheckedIn) -> Step:
    """Checked in: how it was recorded, then exactly when and how to send the proof."""
    title = title_of(lang, done.meetup)
    how = presence(lang, done.method, done.location, done.distance_m)
    text = t(lang, 'Checked in to "{title}". ✅', title=title)
    if how:
        text += f" ({how})"
    if done.location == "unverified":
        text += "\n" + t(lang, 'The host and the reviewers see "location unverified".')
    rule = localized(lang, done.meetup.mission, "evidence_rule")
    if done.evidence_until is not None:
        text += "\n\n" + t(
            lang,
            "📸 Your proof: from now until {until}, send a photo of the mission here in this "
            "chat (📎 → Photo, or the camera). It should show: {rule}",
            until=format_when(lang, done.evidence_until, zone), rule=rule,
        )  # fmt: skip
    else:
        text += "\n\n" + t(
            lang, "📸 Your proof: send a photo of the mission here in this chat: {rule}", rule=rule
        )
    return text + proof_word_note(lang, done.proof_word), CLOSE
