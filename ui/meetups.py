"""Meetups as people see them (steps 3 and 4): cards, lists, the host's tools, the check-in
QR caption and the hosting conversation's questions.

Pure functions of a language, a time zone and `storage.meetings`' view dataclasses; they
return text, or text and an inline keyboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, tzinfo

from telegram import InlineKeyboardMarkup

from missions.places import place_name
from storage import meetings
from storage.models import Meeting, Mission
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, format_distance, format_when, localized, points, t, tn
from verification import geo

MAX_LISTED = 8

Screen = tuple[str, InlineKeyboardMarkup | None]


def title_of(lang: str, view: meetings.MeetupView) -> str:
    return localized(lang, view.mission, "title")


def place_of(lang: str, meeting: Meeting) -> str:
    """Where a meetup is, in `lang`: a meetup keeps its place's name as its host saw it, and
    the catalogue's places have a Korean and an English name (missions/data/places.json)."""
    return place_name(lang, meeting.place_name)


# --------------------------------------------------------------------------- the card


def seats_taken(lang: str, seated: int, capacity: int) -> str:
    """ "1/1 seat taken", "2/4 seats taken" (the plural follows the capacity)."""
    return tn(lang, "{seated}/{count} seat taken", "{seated}/{count} seats taken", capacity,
              seated=seated)  # fmt: skip


def card_text(lang: str, zone: tzinfo, view: meetings.MeetupView) -> str:
    meeting = view.meeting
    text = t(
        lang,
        "{title}\n🗓 {when}\n📍 {place}\n👥 {seats}, {waiting} waiting\n"
        "Host: {host}\n⭐ {points} for the mission",
        title=title_of(lang, view),
        when=format_when(lang, meeting.starts_at, zone),
        place=place_of(lang, meeting),
        seats=seats_taken(lang, view.seated, meeting.capacity),
        waiting=view.waitlisted,
        host=view.host_name,
        points=points(lang, view.mission.points),
    )
    if meeting.note:
        text += "\n" + t(lang, "Note from the host: {note}", note=meeting.note)
    if meeting.status == "cancelled":
        text += "\n" + t(lang, "❌ Cancelled")
    elif meeting.joining_closed:
        text += "\n" + t(lang, "🔒 Joining closed")
    return text


def _host_tools(lang: str, meeting_id: int) -> list[list[keyboards.Button]]:
    def tool(label: str, name: str) -> keyboards.Button:
        return t(lang, label), callbacks.encode(Action.MEETUP_HOST, meeting_id, name)

    return [
        [tool("📷 Check-in QR", "qr")],
        [tool("👥 Participants", "list"), tool("✉️ Message them", "msg")],
        [tool("🕒 Change time", "when"), tool("📝 Edit note", "note")],
        [tool("🔒 Close joining", "close"), tool("❌ Cancel meetup", "cancel")],
    ]


def card_markup(lang: str, card: meetings.Card) -> InlineKeyboardMarkup | None:
    """The buttons that fit the person: the host's tools, "Can't make it" (with "Still
    coming" after the host moved the start), or Join (the waitlist); "Come back" for someone
    who gave up their place.

    "Can't make it" only until the start and never once checked in; Join only until the start
    (the server refuses either anyway, with the same words for a forged press)."""
    meeting, me = card.meetup.meeting, card.me
    if meeting.status != "open":
        return None
    mid = meeting.id
    venue_map = [(t(lang, "🗺 Map"), callbacks.encode(Action.MEETUP_MAP, mid))]
    if me.user_id == meeting.host_id:
        return keyboards.inline([*_host_tools(lang, mid), venue_map])
    if me.status in meetings.ACTIVE:
        if me.checked_in or card.started:
            return keyboards.inline([venue_map])
        leave = [(t(lang, "Can't make it"), callbacks.encode(Action.MEETUP_LEAVE, mid))]
        if me.confirm_by is not None:
            still = callbacks.encode(Action.MEETUP_CONFIRM, mid, "c")
            return keyboards.inline([[(t(lang, "✅ Still coming"), still)], leave, venue_map])
        return keyboards.inline([leave, venue_map])
    if card.started:
        return keyboards.inline([venue_map])
    if me.status == meetings.LEFT and card.meetup.seats_left:
        label = t(lang, "Come back")
    else:
        label = t(lang, "Join") if card.meetup.seats_left else t(lang, "Join the waitlist")
    return keyboards.inline([[(label, callbacks.encode(Action.MEETUP_JOIN, mid))], venue_map])


def meetup_card(lang: str, zone: tzinfo, card: meetings.Card) -> Screen:
    """The meetup's card with the buttons that fit the person looking at it; a participant
    who checked in reads so where the Leave button was."""
    text = card_text(lang, zone, card.meetup)
    me = card.me
    if me.checked_in and me.status in meetings.ACTIVE and me.user_id != card.meetup.meeting.host_id:
        text += "\n" + t(lang, "✅ You checked in.")
    elif me.confirm_by is not None and me.status in meetings.ACTIVE:
        text += "\n" + t(
            lang,
            '🕒 The time changed. Tap "Still coming" by {until} to keep your place.',
            until=format_when(lang, me.confirm_by, zone),
        )
    return text, card_markup(lang, card)


def joined(lang: str, zone: tzinfo, seat: meetings.Seat) -> str:
    if seat.status == meetings.JOINED:
        return t(
            lang,
            "You're in! See you on {when} at {place}. I'll remind you before it starts.",
            when=format_when(lang, seat.meeting.starts_at, zone),
            place=place_of(lang, seat.meeting),
        )
    return t(
        lang,
        "It's full, so you are number {n} on the waitlist. I'll tell you if a seat opens up.",
        n=seat.position,
    )


def left(lang: str) -> str:
    return t(
        lang,
        "Got it, you can't make it: your place is free for someone else. If your plans change, "
        "tap Come back on the card while a seat is free.",
    )


def still_coming(lang: str, zone: tzinfo, seat: meetings.Seat) -> str:
    """ "Still coming" kept the place (issue 23)."""
    if seat.status == meetings.JOINED:
        return t(
            lang,
            "Great, your seat is kept. See you on {when} at {place}!",
            when=format_when(lang, seat.meeting.starts_at, zone),
            place=place_of(lang, seat.meeting),
        )
    return t(
        lang,
        "Great, your waitlist place is kept (number {n}), for {when}.",
        n=seat.position,
        when=format_when(lang, seat.meeting.starts_at, zone),
    )


# --------------------------------------------------------------------------- changes (issue 23)


def _keep_as_it_is(lang: str) -> InlineKeyboardMarkup:
    """The "Cancel" under a change's question (conversations/changes.py), as /cancel."""
    return keyboards.inline([[(t(lang, "Cancel"), callbacks.encode(Action.STOP, "change"))]])


def ask_new_time(lang: str, zone: tzinfo, starts_at: datetime) -> Screen:
    text = t(
        lang,
        "It starts {when} now. Type the new time, like 19:30 or tomorrow 19:30 (at least 10 "
        "minutes ahead). Everyone holding a place is asked to confirm. /cancel keeps it as it is.",
        when=format_when(lang, starts_at, zone),
    )
    return text, _keep_as_it_is(lang)


def postponed(lang: str, zone: tzinfo, result: meetings.Postponed) -> str:
    return tn(
        lang,
        "Moved to {when}. {count} person is asked to confirm by {until}; a place not confirmed "
        "by then goes to the waitlist.",
        "Moved to {when}. {count} people are asked to confirm by {until}; places not confirmed "
        "by then go to the waitlist.",
        result.told,
        when=format_when(lang, result.meeting.starts_at, zone),
        until=format_when(lang, result.confirm_by, zone),
    )


def ask_new_note(lang: str, note: str | None) -> Screen:
    if note:
        text = t(
            lang,
            "The note now reads:\n{note}\n\nType the new note (everyone holding a place is told). "
            "/cancel keeps it as it is.",
            note=note,
        )
    else:
        text = t(
            lang,
            "There is no note yet. Type one (everyone holding a place is told). /cancel keeps it "
            "as it is.",
        )
    return text, _keep_as_it_is(lang)


def note_changed(lang: str, told: int) -> str:
    return tn(
        lang,
        "Note changed; {count} person is told.",
        "Note changed; {count} people are told.",
        told,
    )


def nothing_changed(lang: str) -> str:
    return t(lang, "Nothing was changed.")


def change_timed_out(lang: str) -> str:
    return t(lang, "You didn't answer for a while, so nothing was changed.")


# --------------------------------------------------------------------------- lists


def _listing(
    lang: str,
    zone: tzinfo,
    views: Sequence[meetings.MeetupView],
    empty: str,
    near: tuple[float, float] | None = None,
    hint: str | None = None,
) -> Screen:
    if not views:
        return empty, None
    lines = [t(lang, "Open meetups, soonest first:"), ""]
    rows = []
    for view in views[:MAX_LISTED]:
        when = format_when(lang, view.meeting.starts_at, zone)
        seats = (
            tn(lang, "{count} seat left", "{count} seats left", view.seats_left)
            if view.seats_left
            else t(lang, "full, waitlist open")
        )
        far = ""
        if near is not None:
            metres = geo.distance_m(*near, view.meeting.place_lat, view.meeting.place_lon)
            far = ", " + format_distance(lang, metres)
        title, place = title_of(lang, view), place_of(lang, view.meeting)
        lines.append(f"• {title} — {when}, {place} ({seats}{far})")
        rows.append(
            [(f"{when} · {title}"[:60], callbacks.encode(Action.MEETUP_VIEW, view.meeting.id))]
        )
    if hint:
        lines += ["", hint]
    return "\n".join(lines), keyboards.inline(rows)


def nothing_near(lang: str) -> str:
    return t(lang, "No open meetups in your district right now. Host one from /missions!")


def nearby_list(lang: str, zone: tzinfo, found: meetings.Nearby, from_location: bool) -> Screen:
    """`/meetups`: the district's open meetups, nearest first, each with its distance from the
    shared location or from the person's 동 (then a hint that a location is more exact)."""
    if not found.meetups:
        return nothing_near(lang), None
    if from_location:
        lines = [t(lang, "Open meetups near you, nearest first:"), ""]
    else:
        home = localized(lang, found.home, "name") if found.home else ""
        lines = [t(lang, "Open meetups near {dong}, nearest first:", dong=home), ""]
    rows = []
    for view, metres in found.meetups[:MAX_LISTED]:
        when = format_when(lang, view.meeting.starts_at, zone)
        seats = (
            tn(lang, "{count} seat left", "{count} seats left", view.seats_left)
            if view.seats_left
            else t(lang, "full, waitlist open")
        )
        title, place = title_of(lang, view), place_of(lang, view.meeting)
        far = format_distance(lang, metres)
        lines.append(f"• {title} — {when}, {place} ({far}, {seats})")
        rows.append(
            [(f"{when} · {title}"[:60], callbacks.encode(Action.MEETUP_VIEW, view.meeting.id))]
        )
    if not from_location:
        lines += ["", t(lang, "Share your location (📎 → Location) to measure from where you are.")]
    return "\n".join(lines), keyboards.inline(rows)


def my_record(lang: str, zone: tzinfo, record: meetings.MyRecord) -> Screen:
    """`/mymeetups`: coming up with where the person stands (a button each, to its card), then
    the past with how it went, a page at a time."""
    if not record.upcoming and not record.past:
        return t(lang, "You have no meetups yet. /meetups shows open ones."), None
    lines, rows = [], []
    if record.upcoming:
        lines += [t(lang, "📅 Coming up:"), ""]
        for mine in record.upcoming:
            when = format_when(lang, mine.view.meeting.starts_at, zone)
            title = title_of(lang, mine.view)
            lines.append(f"• {title} — {when}, {place_of(lang, mine.view.meeting)} · "
                         f"{_standing(lang, mine)}")  # fmt: skip
            view = callbacks.encode(Action.MEETUP_VIEW, mine.view.meeting.id)
            rows.append([(f"{when} · {title}"[:60], view)])
    else:
        lines.append(t(lang, "Nothing coming up: /meetups shows open ones."))
    if record.past:
        lines += ["", tn(lang, "🗂 Past ({page}/{count} page):", "🗂 Past ({page}/{count} pages):",
                         record.pages, page=record.page + 1)]  # fmt: skip
        for mine in record.past:
            when = format_when(lang, mine.view.meeting.starts_at, zone)
            lines.append(f"• {title_of(lang, mine.view)} — {when} · {_outcome(lang, mine)}")
        pager = []
        if record.page > 0:
            pager.append((t(lang, "« Newer"), callbacks.encode(Action.MY_MEETUPS, record.page - 1)))
        if record.page + 1 < record.pages:
            pager.append((t(lang, "Older »"), callbacks.encode(Action.MY_MEETUPS, record.page + 1)))
        if pager:
            rows.append(pager)
    return "\n".join(lines), keyboards.inline(rows) if rows else None


def _standing(lang: str, mine: meetings.MyMeetup) -> str:
    if mine.hosting:
        return t(lang, "🏠 hosting")
    if mine.checked_in:
        return t(lang, "🙋 checked in")
    if mine.status == meetings.WAITLISTED:
        return t(lang, "⏳ on the waitlist")
    return t(lang, "✅ joined")


_EVIDENCE = {
    "approved": N_("📸 approved, +{points}"),
    "rejected": N_("📸 photo rejected"),
    "retry": N_("📸 a new photo was asked for"),
}


def _outcome(lang: str, mine: meetings.MyMeetup) -> str:
    """How a past meetup went for the person."""
    if mine.view.meeting.status == "cancelled":
        return t(lang, "cancelled")
    if mine.no_show:
        return t(lang, "🚫 did not check in")
    parts = [t(lang, "🏠 hosted") if mine.hosting else t(lang, "🙋 attended")]
    if mine.evidence in _EVIDENCE:
        parts.append(t(lang, _EVIDENCE[mine.evidence], points=points(lang, mine.points)))
    elif mine.evidence is not None:
        parts.append(t(lang, "📸 photo being checked"))
    elif mine.checked_in:
        parts.append(t(lang, "no photo sent"))
    return " · ".join(parts)


def mission_list(lang: str, zone: tzinfo, views: Sequence[meetings.MeetupView]) -> Screen:
    empty = t(lang, "No open meetups for this mission yet. Host one!")
    return _listing(lang, zone, views, empty)


# --------------------------------------------------------------------------- host tools


def joining_closed(lang: str) -> str:
    return t(lang, "Joining is closed. People already in keep their seats.")


def cancel_question(lang: str, meeting_id: int) -> Screen:
    yes = callbacks.encode(Action.MEETUP_HOST, meeting_id, "cancelyes")
    return (
        t(lang, "Cancel this meetup? Everyone who joined will be told."),
        keyboards.inline([[(t(lang, "Yes, cancel it"), yes)]]),
    )


def cancelled(lang: str, told: int) -> str:
    return tn(lang, "Cancelled. {count} person was told.", "Cancelled. {count} people were told.",
              told)  # fmt: skip


def host_message_sent(lang: str, count: int) -> str:
    return tn(lang, "Sent to {count} participant.", "Sent to {count} participants.", count)


# --------------------------------------------------------------------------- check-in


def proof_word_note(lang: str, word: str | None) -> str:
    """The ask to show the one-time word in the photo, as a paragraph to append (or "")."""
    if not word:
        return ""
    return "\n\n" + t(
        lang,
        "🔤 Your proof word: {word}\nWrite it on paper or show it on a phone screen so it can "
        "be read in your photo. It works for this meetup only.",
        word=word,
    )


# --------------------------------------------------------------------------- hosting


def missions_to_host(lang: str, found: Sequence[Mission]) -> Screen:
    rows = [
        [(localized(lang, m, "title"), callbacks.encode(Action.MEETUP_NEW, m.id))] for m in found
    ]
    return t(lang, "Which mission would you like to host a meetup for?"), keyboards.inline(rows)


def when_question(lang: str, slots: Sequence[tuple[int, time]]) -> Screen:
    """The time question with a button per (day offset, local time) slot still ahead."""
    buttons = []
    for day, slot in slots:
        label = t(lang, "Today {time}") if day == 0 else t(lang, "Tomorrow {time}")
        value = f"d{day}t{slot:%H%M}"
        buttons.append(
            (label.format(time=f"{slot:%H:%M}"), callbacks.encode(Action.HOST_WHEN, value))
        )
    return (
        t(lang, "When shall we meet? Pick a time, or type one like 19:30 or 내일 07:30."),
        keyboards.inline(keyboards.grid(buttons, 2)),
    )


def chosen_time(lang: str, start: datetime, now: datetime) -> str:
    """The time taken, as the answered time question shows it ("Today 19:00"); `start` and
    `now` in local time."""
    days = (start.date() - now.date()).days
    if days in (0, 1):
        label = t(lang, "Today {time}") if days == 0 else t(lang, "Tomorrow {time}")
        return label.format(time=f"{start:%H:%M}")
    return f"{start:%Y-%m-%d %H:%M}"


def note_answer(note: str | None) -> str:
    """A typed note as the answered note question shows it: its start."""
    text = " ".join((note or "").split())
    return text if len(text) <= 40 else text[:39] + "…"


def unreadable_time(lang: str) -> str:
    return t(lang, "I could not read that time. Type it like 19:30, or pick a button.")


def place_question(lang: str, places: meetings.MeetingPlaces) -> Screen:
    assert places.mission is not None
    here = "📍 " + localized(lang, places.mission, "place_name")
    rows = [[(here, callbacks.encode(Action.HOST_PLACE, "mission"))]]
    for other in places.others:
        rows.append(
            [(localized(lang, other, "place_name"), callbacks.encode(Action.HOST_PLACE, other.id))]
        )
    return (
        t(lang, "Where do you meet? The mission's place, or another public place nearby."),
        keyboards.inline(rows),
    )


def size_question(lang: str, sizes: range) -> Screen:
    """How many people: the mission's own range only (its card says "👥 2-6")."""
    buttons = [(str(n), callbacks.encode(Action.HOST_SIZE, n)) for n in sizes]
    text = t(lang, "How many people, you included? This mission is for {low}-{high}.",
             low=sizes.start, high=sizes.stop - 1)  # fmt: skip
    return text, keyboards.inline(keyboards.grid(buttons, 5))


def too_soon(lang: str, earliest: datetime) -> str:
    """A typed time less than 10 minutes ahead: the earliest one that works, in local time."""
    return t(lang, "That is too soon: a meetup starts at least 10 minutes from now, so at "
                   "{earliest} or later. Type another time or pick a button.",
             earliest=f"{earliest:%H:%M}")  # fmt: skip


def moved_to_tomorrow(lang: str, start: datetime, zone: tzinfo) -> str:
    """A bare time already past today was read as tomorrow's: said, not silently done."""
    local = start.astimezone(zone)
    return t(lang, "{time} has already passed today, so the meetup would be tomorrow, {when}.",
             time=f"{local:%H:%M}", when=format_when(lang, start, zone))  # fmt: skip


def note_question(lang: str) -> Screen:
    return (
        t(
            lang,
            'Anything participants should know? (e.g. "I\'ll wear a red cap") Type it, or skip.',
        ),
        keyboards.inline([[(t(lang, "Skip"), callbacks.encode(Action.HOST_NOTE, "skip"))]]),
    )


def confirm_question(
    lang: str,
    zone: tzinfo,
    mission: Mission,
    starts_at: datetime,
    place: str,
    capacity: int,
    note: str | None,
) -> Screen:
    text = t(
        lang,
        "Create this meetup?\n\n{title}\n🗓 {when}\n📍 {place}\n👥 {capacity} people\n{note}",
        title=localized(lang, mission, "title"),
        when=format_when(lang, starts_at, zone),
        place=place,
        capacity=capacity,
        note=note or "",
    ).rstrip()
    return text, keyboards.inline([[
        (t(lang, "Create ✅"), callbacks.encode(Action.HOST_CONFIRM, "yes")),
        (t(lang, "Cancel"), callbacks.encode(Action.HOST_CONFIRM, "no")),
    ]])  # fmt: skip


def created(lang: str) -> str:
    return t(
        lang,
        "Your meetup is open! Neighbours can find it in /meetups. Here is its card with "
        "your host tools:",
    )


def not_created(lang: str) -> str:
    return t(lang, "Okay, no meetup was created.")


def ask_host_message(lang: str) -> Screen:
    """ "✉️ Message them": the question, with "Cancel" under it (as /cancel)."""
    stop = callbacks.encode(Action.STOP, "message")
    text = t(lang, "Type the message for your participants (or /cancel).")
    return text, keyboards.inline([[(t(lang, "Cancel"), stop)]])


def nothing_sent(lang: str) -> str:
    return t(lang, "Okay, nothing was sent.")


def hosting_timed_out(lang: str) -> str:
    return t(lang, "I stopped creating the meetup because nothing happened for a while; no "
                   "meetup was created. Pick a mission in /missions to start again.")  # fmt: skip


def message_timed_out(lang: str) -> str:
    return t(lang, "Nothing was sent to the participants: no message came for a while. Press "
                   "\"✉️ Message them\" on the meetup card to try again.")  # fmt: skip


def unreadable_new_time(lang: str) -> str:
    return t(lang, "I could not read that time. Type it like 19:30 or tomorrow 19:30.")
