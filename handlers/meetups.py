"""Meetups (steps 3 and 4): list, card, join/leave, host tools, check-in by QR or typed code.

Telegram behaviour relied on: scanning a QR of `https://t.me/<bot>?start=<payload>` with the
phone camera opens the bot and sends `/start <payload>`; when the chat is already open a
re-scan sometimes delivers no payload, hence the typed `/checkin CODE` fallback. A venue
message shows the meeting point on a map with its name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Context
from bot.services import Services
from handlers.profile import account_or_invite
from storage import errors, meetings
from storage.accounts import NotRegistered
from storage.db import transaction
from ui import callbacks, keyboards, links
from ui.callbacks import Action
from ui.i18n import format_distance, format_when, t
from verification import checkin, geo
from verification.qr import checkin_qr_png

MAX_LISTED = 8
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Me:
    user_id: int
    status: str | None  # joined | waitlisted | left | None
    checked_in: bool


def title_of(lang: str, view: meetings.MeetupView) -> str:
    return view.mission.title_ko if lang == "ko" else view.mission.title_en


def refusal(lang: str, error: Exception) -> str:
    """A polite sentence for every reason a meetup action can be refused."""
    reason = getattr(error, "reason", "")
    match error:
        case errors.HostNotAllowed() if reason == "unverified":
            return t(lang, "To host, verify your neighbourhood first: /profile → Neighbourhood.")
        case errors.HostNotAllowed():
            return t(lang, "Your trust score is too low to host for now. Join a few meetups first.")
        case errors.MissionUnavailable():
            return t(lang, "That mission is no longer available. /missions shows current ones.")
        case errors.InvalidTime() if reason == "too_far":
            return t(lang, "Meetups can be planned up to two weeks ahead.")
        case errors.InvalidTime():
            return t(
                lang, "That time is too soon or has passed. Pick a time at least 10 minutes ahead."
            )
        case errors.MeetupNotFound():
            return t(lang, "That meetup does not exist.")
        case errors.MeetupNotOpen() if reason == "cancelled":
            return t(lang, "That meetup was cancelled.")
        case errors.MeetupNotOpen() if reason == "started":
            return t(lang, "That meetup has already started.")
        case errors.MeetupNotOpen():
            return t(lang, "That meetup is over.")
        case errors.JoiningClosed():
            return t(lang, "The host has closed joining for this meetup.")
        case errors.OwnMeetup():
            return t(lang, "This is your own meetup: you are already in it as the host.")
        case errors.AlreadyIn() if reason == "waitlisted":
            return t(lang, "You are already on the waitlist of this meetup.")
        case errors.AlreadyIn():
            return t(lang, "You have already joined this meetup.")
        case errors.TimeConflict():
            return t(lang, "You already have a meetup at that time.")
        case errors.NotVerified():
            return t(
                lang, "Verify your neighbourhood first to join meetups: /profile → Neighbourhood."
            )
        case errors.NotParticipant() if reason == "waitlisted":
            return t(
                lang, "You are on the waitlist, so you cannot check in unless a seat opens up."
            )
        case errors.NotParticipant():
            return t(lang, "You are not in this meetup. Join it first from /meetups.")
        case errors.NotHost():
            return t(lang, "Only the host can do that.")
        case errors.Suspended(until=until):
            return t(
                lang,
                "Your account is suspended until {until} after a report was upheld. "
                "You can't join or host meetups until then.",
                until=until.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M"),
            )
        case errors.Blocked():
            return t(lang, "You can't join this meetup.")
        case errors.LowTrust():
            return t(
                lang, "Your trust score is too low to join meetups for now. /profile shows why."
            )
        case errors.HostLimit():
            return t(
                lang, "You have hosted as many meetups as allowed in a day. Try again tomorrow."
            )
        case errors.CheckinClosed() if reason == "early":
            return t(lang, "Check-in has not opened yet; it opens shortly before the start.")
        case errors.CheckinClosed():
            return t(lang, "Check-in for this meetup has closed.")
        case errors.AlreadyCheckedIn():
            return t(lang, "You are already checked in. ✅")
        case NotRegistered():
            return t(
                lang, "You need an account for this. Send /start to sign up; it takes a minute."
            )
        case checkin.InvalidToken():
            return t(
                lang,
                "This check-in code has expired or is not valid. Ask the host to show a fresh QR "
                "code, or type /checkin followed by the 6-character code under it.",
            )
    raise error


def card_text(lang: str, svc: Services, view: meetings.MeetupView) -> str:
    meeting = view.meeting
    text = t(
        lang,
        "{title}\n🗓 {when}\n📍 {place}\n👥 {seated}/{capacity} seats taken, {waiting} waiting\n"
        "Host: {host}\n⭐ {points} points for the mission",
        title=title_of(lang, view),
        when=format_when(lang, meeting.starts_at, svc.settings.zone),
        place=meeting.place_name,
        seated=view.seated,
        capacity=meeting.capacity,
        waiting=view.waitlisted,
        host=view.host_name,
        points=view.mission.points,
    )
    if meeting.note:
        text += "\n" + t(lang, "Note from the host: {note}", note=meeting.note)
    if meeting.status == "cancelled":
        text += "\n" + t(lang, "❌ Cancelled")
    elif meeting.joining_closed:
        text += "\n" + t(lang, "🔒 Joining closed")
    return text


def card_markup(lang: str, view: meetings.MeetupView, me: Me) -> InlineKeyboardMarkup | None:
    meeting = view.meeting
    if meeting.status != "open":
        return None
    mid = meeting.id
    venue_map = [(t(lang, "🗺 Map"), callbacks.encode(Action.MEETUP_MAP, mid))]
    if me.user_id == meeting.host_id:
        tool = Action.MEETUP_HOST
        return keyboards.inline(
            [
                [(t(lang, "📷 Check-in QR"), callbacks.encode(tool, mid, "qr"))],
                [
                    (t(lang, "👥 Participants"), callbacks.encode(tool, mid, "list")),
                    (t(lang, "✉️ Message them"), callbacks.encode(tool, mid, "msg")),
                ],
                [
                    (t(lang, "🔒 Close joining"), callbacks.encode(tool, mid, "close")),
                    (t(lang, "❌ Cancel meetup"), callbacks.encode(tool, mid, "cancel")),
                ],
                venue_map,
            ]
        )
    if me.status in meetings.ACTIVE:
        leave = [(t(lang, "Leave"), callbacks.encode(Action.MEETUP_LEAVE, mid))]
        return keyboards.inline([leave, venue_map])
    label = t(lang, "Join") if view.seats_left else t(lang, "Join the waitlist")
    return keyboards.inline([[(label, callbacks.encode(Action.MEETUP_JOIN, mid))], venue_map])


async def _card(
    session: AsyncSession, meeting_id: int, user_id: int
) -> tuple[meetings.MeetupView, Me]:
    """The meetup as its card shows it, and where this person stands in it.

    A change (join, leave, closing joining) reads its card in its own transaction, before
    the commit: the card then shows exactly what that change left, and the press needs no
    second session.
    """
    view = await meetings.view(session, meeting_id)
    mine = await meetings.participation(session, meeting_id, user_id)
    if mine is None:
        return view, Me(user_id, None, False)
    return view, Me(user_id, mine.status, mine.checked_in_at is not None)


async def send_card(
    update: Update, context: Context, meeting_id: int, *, venue: bool = True
) -> None:
    """The meetup's venue on a map, then its card with the buttons that fit the person."""
    assert update.effective_chat is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        view, me = await _card(session, meeting_id, update.effective_user.id)
    chat_id = update.effective_chat.id
    meeting = view.meeting
    if venue:
        await context.bot.send_venue(
            chat_id,
            latitude=meeting.place_lat,
            longitude=meeting.place_lon,
            title=meeting.place_name,
            address=meeting.place_address or title_of(lang, view),
        )
    await context.bot.send_message(
        chat_id, card_text(lang, svc, view), reply_markup=card_markup(lang, view, me)
    )


async def _listing(
    update: Update,
    context: Context,
    views: list[meetings.MeetupView],
    empty: str,
    near: tuple[float, float] | None = None,
    hint: str | None = None,
) -> None:
    lang = context.lang
    svc = context.services
    assert update.effective_message is not None
    if not views:
        await update.effective_message.reply_text(empty)
        return
    lines = [t(lang, "Open meetups, soonest first:"), ""]
    rows = []
    for view in views[:MAX_LISTED]:
        when = format_when(lang, view.meeting.starts_at, svc.settings.zone)
        seats = (
            t(lang, "{left} seats left", left=view.seats_left)
            if view.seats_left
            else t(lang, "full, waitlist open")
        )
        far = ""
        if near is not None:
            metres = geo.distance_m(*near, view.meeting.place_lat, view.meeting.place_lon)
            far = ", " + format_distance(lang, metres)
        place = view.meeting.place_name
        lines.append(f"• {title_of(lang, view)} — {when}, {place} ({seats}{far})")
        rows.append(
            [
                (
                    f"{when} · {title_of(lang, view)}"[:60],
                    callbacks.encode(Action.MEETUP_VIEW, view.meeting.id),
                )
            ]
        )
    if hint:
        lines += ["", hint]
    await update.effective_message.reply_text("\n".join(lines), reply_markup=keyboards.inline(rows))


async def list_meetups(update: Update, context: Context) -> None:
    """`/meetups`: open meetups in the person's neighbourhood, soonest first."""
    await _open_meetups(update, context, near=None)


async def meetups_near(update: Update, context: Context) -> None:
    """A location shared outside any conversation: the open meetups, with their distance.

    The location is used for this answer only and not stored.
    """
    message = update.effective_message
    assert message is not None
    location = message.venue.location if message.venue else message.location
    assert location is not None
    await _open_meetups(update, context, near=(location.latitude, location.longitude))


async def _open_meetups(update: Update, context: Context, near: tuple[float, float] | None) -> None:
    """The open meetups of the person's neighbourhood; with `near`, each with its distance,
    without it, a hint that sharing a location shows them."""
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        views = await meetings.open_meetups(
            session, user.region_id, svc.clock.now(), viewer_id=user.id
        )
    hint = None
    if near is None:
        hint = t(lang, "Share your location (📎 → Location) to see how far each meetup is.")
    await _listing(
        update, context, views,
        t(lang, "No open meetups in your neighbourhood right now. Host one from /missions!"),
        hint=hint, near=near,
    )  # fmt: skip


async def my_meetups(update: Update, context: Context) -> None:
    """`/mymeetups`: meetups I host or hold a place in."""
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        views = await meetings.my_meetups(session, user.id, svc.clock.now())
    await _listing(
        update, context, views, t(lang, "You have no upcoming meetups. /meetups shows open ones.")
    )


async def meetups_of_mission(update: Update, context: Context) -> None:
    """The mission card's "see meetups" button."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    mission_id = callbacks.decode(query.data).int_arg(0)
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        views = await meetings.open_meetups(session, None, svc.clock.now(), mission_id=mission_id)
    await _listing(
        update, context, views, t(lang, "No open meetups for this mission yet. Host one!")
    )


async def view_meetup(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    lang = context.lang
    try:
        await send_card(update, context, callbacks.decode(query.data).int_arg(0))
    except errors.MeetupError as exc:
        await query.answer(refusal(lang, exc), show_alert=True)
        return
    await query.answer()


async def join(update: Update, context: Context) -> None:
    """Join: a seat, or a waitlist place when full; every refusal says why."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    meeting_id = callbacks.decode(query.data).int_arg(0)
    try:
        async with transaction(svc.sessions) as session:
            seat = await meetings.join(
                session, meeting_id, update.effective_user.id, svc.rules, svc.clock.now()
            )
            # Where the person now stands is known: just seated or waitlisted.
            view = await meetings.view(session, meeting_id)
    except (errors.MeetupError, NotRegistered) as exc:
        await query.answer(refusal(lang, exc), show_alert=True)
        return
    me = Me(update.effective_user.id, seat.status, checked_in=False)
    await query.answer()
    if seat.status == meetings.JOINED:
        text = t(
            lang,
            "You're in! See you on {when} at {place}. I'll remind you before it starts.",
            when=format_when(lang, seat.meeting.starts_at, svc.settings.zone),
            place=seat.meeting.place_name,
        )
    else:
        text = t(
            lang,
            "It's full, so you are number {n} on the waitlist. I'll tell you if a seat opens up.",
            n=seat.position,
        )
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, text)
    await _redraw(update, context, view, me)


async def leave(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    lang = context.lang
    svc = context.services
    meeting_id = callbacks.decode(query.data).int_arg(0)
    try:
        async with transaction(svc.sessions) as session:
            await meetings.leave(session, meeting_id, update.effective_user.id, svc.clock.now())
            view = await meetings.view(session, meeting_id)
    except (errors.MeetupError, NotRegistered) as exc:
        await query.answer(refusal(lang, exc), show_alert=True)
        return
    await query.answer(t(lang, "You left the meetup."))
    await _redraw(update, context, view, Me(update.effective_user.id, meetings.LEFT, False))


async def _redraw(update: Update, context: Context, view: meetings.MeetupView, me: Me) -> None:
    """Redraws the pressed card so its numbers and buttons are current."""
    query = update.callback_query
    if query is None:
        return
    lang = context.lang
    svc = context.services
    # The same text and buttons again (a double tap) is refused as "not modified".
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(
            card_text(lang, svc, view), reply_markup=card_markup(lang, view, me)
        )


# --------------------------------------------------------------------------- host tools


async def host_tool(update: Update, context: Context) -> None:
    """The host's buttons on their card; each re-checks on the server that they host it."""
    query = update.callback_query
    assert (
        query is not None
        and update.effective_user is not None
        and update.effective_chat is not None
    )
    lang = context.lang
    svc = context.services
    parsed = callbacks.decode(query.data)
    meeting_id, tool = parsed.int_arg(0), parsed.args[1]
    host_id, chat_id, now = update.effective_user.id, update.effective_chat.id, svc.clock.now()
    tool_action = Action.MEETUP_HOST
    try:
        if tool == "qr":
            await query.answer()
            await send_checkin_qr(update, context, meeting_id)
        elif tool == "list":
            await query.answer()
            await _send_attendees(update, context, meeting_id, host_id)
        elif tool == "close":
            async with transaction(svc.sessions) as session:
                await meetings.close_joining(session, meeting_id, host_id)
                card = await _card(session, meeting_id, host_id)
            await query.answer(t(lang, "Joining is closed. People already in keep their seats."))
            await _redraw(update, context, *card)
        elif tool == "cancel":
            await query.answer()
            await context.bot.send_message(
                chat_id,
                t(lang, "Cancel this meetup? Everyone who joined will be told."),
                reply_markup=keyboards.inline(
                    [
                        [
                            (
                                t(lang, "Yes, cancel it"),
                                callbacks.encode(tool_action, meeting_id, "cancelyes"),
                            )
                        ]
                    ]
                ),
            )
        elif tool == "cancelyes":
            async with transaction(svc.sessions) as session:
                told = await meetings.cancel(session, meeting_id, host_id, now)
            await query.answer()
            with contextlib.suppress(BadRequest):
                await query.edit_message_text(t(lang, "Cancelled. {n} people were told.", n=told))
        else:
            await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
    except errors.MeetupError as exc:
        await query.answer(refusal(lang, exc), show_alert=True)


async def _send_attendees(update: Update, context: Context, meeting_id: int, host_id: int) -> None:
    lang = context.lang
    svc = context.services
    async with svc.sessions() as session:
        view = await meetings.view(session, meeting_id)
        if view.meeting.host_id != host_id:
            raise errors.NotHost
        people = await meetings.attendees(session, meeting_id)
    lines = [t(lang, 'Participants of "{title}":', title=title_of(lang, view))]
    for person in people:
        mark = (
            "✅" if person.checked_in else ("⏳" if person.status == meetings.WAITLISTED else "•")
        )
        suffix = t(lang, " (waitlist)") if person.status == meetings.WAITLISTED else ""
        lines.append(f"{mark} {person.name}{suffix}")
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "\n".join(lines))


async def send_checkin_qr(update: Update, context: Context, meeting_id: int) -> None:
    """The host's QR: a signed deep link for the current window, with the typed code."""
    assert update.effective_user is not None and update.effective_chat is not None
    lang = context.lang
    svc = context.services
    now = svc.clock.now()
    async with transaction(svc.sessions) as session:
        meeting = await meetings.open_checkin(
            session, meeting_id, update.effective_user.id, svc.rules, now
        )
        view = await meetings.view(session, meeting_id)
        mine = await meetings.participation(session, meeting_id, update.effective_user.id)
    payload = svc.signer.issue(meeting.id, now)
    link = links.checkin_link(context.bot.username, payload)
    code = meeting.checkin_code or ""
    image = checkin_qr_png(link, title_of(lang, view), code)
    minutes = max(1, svc.settings.checkin_rotation_seconds // 60)
    await context.bot.send_photo(
        update.effective_chat.id,
        image,
        caption=t(
            lang,
            "Check-in for \"{title}\": participants scan this with their phone camera. If "
            "scanning does not work, they type /checkin {code}. The QR changes every {minutes} "
            "minutes; press the button for a fresh one.",
            title=title_of(lang, view), code=code, minutes=minutes,
        ) + proof_word_note(lang, mine.proof_word if mine else None),
        reply_markup=keyboards.inline(
            [[(t(lang, "🔄 Fresh QR"), callbacks.encode(Action.MEETUP_HOST, meeting.id, "qr"))]]
        ),
    )  # fmt: skip


# --------------------------------------------------------------------------- check-in


async def _check_in(update: Update, context: Context, meeting_id: int) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    lang = context.lang
    svc = context.services
    async with transaction(svc.sessions) as session:
        meeting, _present = await meetings.check_in(
            session, meeting_id, update.effective_user.id, svc.rules, svc.clock.now()
        )
        view = await meetings.view(session, meeting.id)
        mine = await meetings.participation(session, meeting.id, update.effective_user.id)
    await update.effective_message.reply_text(
        t(
            lang,
            'Checked in to "{title}". ✅ Enjoy! Afterwards, send a photo of the mission here '
            "as proof: {rule}",
            title=title_of(lang, view),
            rule=view.mission.evidence_rule_ko if lang == "ko" else view.mission.evidence_rule_en,
        )
        + proof_word_note(lang, mine.proof_word if mine else None)
    )


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


async def checkin_link(update: Update, context: Context) -> None:
    """`/start c…`: the phone camera opened the bot from the host's QR code."""
    assert update.effective_message is not None
    lang = context.lang
    svc = context.services
    payload = (context.args or [""])[0]
    try:
        meeting_id = svc.signer.verify(links.checkin_token(payload), svc.clock.now())
        await _check_in(update, context, meeting_id)
    except (checkin.InvalidToken, errors.MeetupError, NotRegistered) as exc:
        await update.effective_message.reply_text(refusal(lang, exc))


async def checkin_code(update: Update, context: Context) -> None:
    """`/checkin CODE`: the typed fallback shown under the QR."""
    assert update.effective_message is not None
    lang = context.lang
    code = checkin.normalize_code("".join(context.args or []))
    if len(code) != checkin.CODE_LENGTH:
        await update.effective_message.reply_text(
            t(
                lang,
                "Type /checkin followed by the 6-character code under the host's QR, "
                "e.g. /checkin AB3XYZ.",
            )
        )
        return
    try:
        async with context.services.sessions() as session:
            meeting_id = await meetings.meeting_by_code(session, code)
        await _check_in(update, context, meeting_id)
    except errors.MeetupNotFound:
        await update.effective_message.reply_text(
            t(lang, "No meetup has that code. Check it and try again.")
        )
    except (errors.MeetupError, NotRegistered) as exc:
        await update.effective_message.reply_text(refusal(lang, exc))


def register_deep_link(application: Application) -> None:
    """A scanned check-in QR arrives as `/start c<token>`: registered before signup."""
    application.add_handler(
        CommandHandler(
            "start",
            checkin_link,
            filters=filters.ChatType.PRIVATE & filters.Regex(links.CHECKIN_START),
        )
    )


def register(application: Application) -> None:
    """Steps 3-4: /meetups, /mymeetups, /checkin, a shared location, and the meetup buttons."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("meetups", list_meetups, filters=private))
    application.add_handler(CommandHandler("mymeetups", my_meetups, filters=private))
    application.add_handler(CommandHandler("checkin", checkin_code, filters=private))
    # A location outside a conversation (signup's location step comes first): distances.
    application.add_handler(
        MessageHandler((filters.LOCATION | filters.VENUE) & private, meetups_near)
    )
    for action, callback in (
        (Action.MEETUPS_OF, meetups_of_mission),
        (Action.MEETUP_VIEW, view_meetup),
        (Action.MEETUP_JOIN, join),
        (Action.MEETUP_LEAVE, leave),
        (Action.MEETUP_HOST, host_tool),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
