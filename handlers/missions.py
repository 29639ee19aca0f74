"""Step 2, missions: `/missions` lists what is published in the person's district, most points
first, a page at a time; category buttons filter; "recommended for you" ranks for them. Every
button edits the same list message, so the chat does not fill up with pages. A mission's card
is a new message, followed by a venue message showing its place on a map; the card links to
meetups ("create a meetup", "see meetups"), which `handlers.meetups` answers.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from handlers.profile import account_or_invite
from missions.categories import INTERESTS, TIMES_OF_DAY
from missions.recommend import REPEAT_DAYS, Person, Reason, recommend
from missions.timing import season_of
from storage import errors, missions
from storage.models import Mission, Region, User
from ui import callbacks, keyboards
from ui.callbacks import Action, InvalidCallback
from ui.i18n import t

ALL = "all"
PAGE_SIZE = missions.PAGE_SIZE
RECOMMENDED = 15  # ranked missions shown on the "for you" pages, five at a time


# --------------------------------------------------------------------------- texts


def title(mission: Mission, lang: str) -> str:
    return mission.title_ko if lang == "ko" else mission.title_en


def place_name(mission: Mission, lang: str) -> str:
    return mission.place_name_ko if lang == "ko" else mission.place_name_en


def address(region: Region | None, lang: str) -> str:
    """The dong and district, as a venue's address line (a public place has no house number)."""
    if region is None:
        return t(lang, "Seoul")
    if lang == "ko":
        return f"서울 {region.district_ko} {region.name_ko}"
    return f"{region.name_en}, {region.district_en}, Seoul"


def clock_time(lang: str, hour: int) -> str:
    """The hour as people say it: "7 pm", "오후 7시"."""
    h12 = hour % 12 or 12
    return t(lang, "{hour} pm", hour=h12) if hour >= 12 else t(lang, "{hour} am", hour=h12)


def reason_line(lang: str, reason: Reason) -> str:
    interest = t(lang, INTERESTS[reason.interest]) if reason.interest in INTERESTS else ""
    time = clock_time(lang, reason.hour) if reason.hour is not None else ""
    return t(lang, reason.msgid, interest=interest, time=time, km=reason.km)


def mission_card(mission: Mission, lang: str) -> str:
    """Everything a person needs to decide: what, where, how long, with how many, the proof."""
    description = mission.description_ko if lang == "ko" else mission.description_en
    evidence = mission.evidence_rule_ko if lang == "ko" else mission.evidence_rule_en
    times = ", ".join(t(lang, TIMES_OF_DAY[k]) for k in mission.times_of_day if k in TIMES_OF_DAY)
    return t(
        lang,
        "{title}\n\n{description}\n\n📍 {place}\n🏆 {points} points\n⏱ {duration} min\n"
        "👥 {min_group}-{max_group} people\n💪 Difficulty {difficulty}/5\n"
        "🕒 Good for: {times}\n📸 Proof: {evidence}",
        title=title(mission, lang),
        description=description,
        place=place_name(mission, lang),
        points=mission.points,
        duration=mission.duration_min,
        min_group=mission.min_group,
        max_group=mission.max_group,
        difficulty=mission.difficulty,
        times=times or "-",
        evidence=evidence,
    )


def _line(n: int, mission: Mission, lang: str) -> str:
    return t(
        lang,
        "{n}. {title}\n    🏆 {points} P · 📍 {place} · ⏱ {duration} min",
        n=n,
        title=title(mission, lang),
        points=mission.points,
        place=place_name(mission, lang),
        duration=mission.duration_min,
    )


def _nav(lang: str, page: int, pages: int, data: callbacks.Callback) -> list[keyboards.Button]:
    """◀ / ▶ for the neighbouring pages that exist."""
    head = data.args[:-1]
    row = []
    if page > 0:
        row.append((t(lang, "◀ Previous"), callbacks.encode(data.action, *head, page - 1)))
    if page < pages - 1:
        row.append((t(lang, "Next ▶"), callbacks.encode(data.action, *head, page + 1)))
    return row


def _detail_buttons(found: list[Mission], first: int) -> list[keyboards.Button]:
    return [
        (str(first + i), callbacks.encode(Action.MISSION_SHOW, m.id)) for i, m in enumerate(found)
    ]


# --------------------------------------------------------------------------- views


async def list_view(
    context: Context,
    session: AsyncSession,
    user: User,
    lang: str,
    category: str,
    page: int,
) -> tuple[str, InlineKeyboardMarkup]:
    """The list message: a page of missions, the pager, category filters, "for you"."""
    svc = context.services
    today = svc.clock.now().astimezone(svc.settings.zone).date()
    region = await missions.home_region(session, user)
    district = region.district_code if region else ""
    found = await missions.page_in_district(
        session,
        district,
        page,
        season=season_of(today),
        category=None if category == ALL else category,
    )
    district_name = (region.district_ko if lang == "ko" else region.district_en) if region else ""
    filter_name = t(lang, "All") if category == ALL else t(lang, INTERESTS[category])
    lines = [
        t(
            lang,
            "🎯 Missions in {district}, most points first ({category}, page {page}/{pages})",
            district=district_name,
            category=filter_name,
            page=found.page + 1,
            pages=found.pages,
        ),
        "",
    ]
    first = found.page * PAGE_SIZE + 1
    lines += [_line(first + i, m, lang) for i, m in enumerate(found.missions)]
    if not found.missions:
        lines.append(t(lang, "No missions here yet. Try another category, or check back tomorrow."))
    else:
        lines += ["", t(lang, "Tap a number to see the mission.")]
    here = callbacks.Callback(Action.MISSION_LIST, (category, str(found.page)))
    filters = [(t(lang, "All"), callbacks.encode(Action.MISSION_LIST, ALL, 0))] + [
        (t(lang, label), callbacks.encode(Action.MISSION_LIST, key, 0))
        for key, label in INTERESTS.items()
    ]
    current = callbacks.encode(Action.MISSION_LIST, category, 0)
    filters = [(f"✅ {label}" if data == current else label, data) for label, data in filters]
    rows = [
        _detail_buttons(found.missions, first),
        _nav(lang, found.page, found.pages, here),
        *keyboards.grid(filters, columns=3),
        [(t(lang, "⭐ Recommended for you"), callbacks.encode(Action.MISSION_FOR_YOU, 0))],
    ]
    return "\n".join(lines), keyboards.inline(row for row in rows if row)


async def for_you_view(
    context: Context, session: AsyncSession, user: User, lang: str, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Missions ranked for this person, each with the reason it is there."""
    svc = context.services
    now = svc.clock.now()
    region = await missions.home_region(session, user)
    candidates = (
        await missions.published_in_district(session, region.district_code) if region else []
    )
    done = await missions.recently_done(session, user.id, now - timedelta(days=REPEAT_DAYS))
    person = Person(
        interests=user.interests,
        preferred_times=user.preferred_times,
        home_lat=region.center_lat if region else 0.0,
        home_lon=region.center_lon if region else 0.0,
    )
    ranked = recommend(
        candidates, person, now.astimezone(svc.settings.zone), done, limit=RECOMMENDED
    )
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    first = page * PAGE_SIZE + 1
    lines = [
        t(lang, "⭐ Recommended for you (page {page}/{pages})", page=page + 1, pages=pages),
        "",
    ]
    for i, rec in enumerate(shown):
        lines.append(_line(first + i, rec.mission, lang))
        lines.append(f"    💡 {reason_line(lang, rec.reason)}")
    if not shown:
        lines.append(t(lang, "Nothing to recommend right now. /missions shows everything."))
    here = callbacks.Callback(Action.MISSION_FOR_YOU, (str(page),))
    rows = [
        _detail_buttons([r.mission for r in shown], first),
        _nav(lang, page, pages, here),
        [(t(lang, "◀ All missions"), callbacks.encode(Action.MISSION_LIST, ALL, 0))],
    ]
    return "\n".join(lines), keyboards.inline(row for row in rows if row)


# --------------------------------------------------------------------------- handlers


async def list_missions(update: Update, context: Context) -> None:
    """`/missions`: the first page of missions in the person's district."""
    assert update.effective_message is not None
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        text, markup = await list_view(context, session, user, context.lang, ALL, 0)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _edit(update: Update, text: str, markup: InlineKeyboardMarkup) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    # Pressing the filter already shown changes nothing; Telegram then says "not modified".
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, reply_markup=markup)


async def _outdated(update: Update, context: Context) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer(
        t(context.lang, "This button no longer works. Send /missions to see more.")
    )


async def list_page(update: Update, context: Context) -> None:
    """A page or a category filter: the same message shows it."""
    assert update.callback_query is not None
    try:
        data = callbacks.decode(update.callback_query.data)
        category, page = data.args[0], data.int_arg(1)
    except InvalidCallback:
        category, page = "", 0
    if category != ALL and category not in INTERESTS:
        await _outdated(update, context)
        return
    lang = context.lang
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        text, markup = await list_view(context, session, user, lang, category, page)
    await _edit(update, text, markup)


async def for_you(update: Update, context: Context) -> None:
    """The "recommended for you" pages, in the same message."""
    assert update.callback_query is not None
    try:
        page = callbacks.decode(update.callback_query.data).int_arg(0)
    except InvalidCallback:
        await _outdated(update, context)
        return
    lang = context.lang
    async with context.services.sessions() as session:
        user = await account_or_invite(update, context, session)
        if user is None:
            return
        text, markup = await for_you_view(context, session, user, lang, page)
    await _edit(update, text, markup)


async def show_mission(update: Update, context: Context) -> None:
    """A mission's card with the meetup buttons, then its place as a venue on the map."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    lang = context.lang
    try:
        mission_id = callbacks.decode(query.data).int_arg(0)
    except InvalidCallback:
        await _outdated(update, context)
        return
    try:
        async with context.services.sessions() as session:
            if await account_or_invite(update, context, session) is None:
                return
            mission = await missions.published_mission(session, mission_id)
            region = await missions.mission_region(session, mission)
    except errors.MissionNotFound:
        await query.answer(
            t(lang, "That mission is no longer available. /missions shows current ones.")
        )
        return
    await query.answer()
    chat_id = update.effective_chat.id
    await context.bot.send_message(
        chat_id,
        mission_card(mission, lang),
        reply_markup=keyboards.inline(
            [
                [
                    (
                        t(lang, "🙋 Create a meetup"),
                        callbacks.encode(Action.MEETUP_NEW, mission.id),
                    ),
                    (t(lang, "👀 See meetups"), callbacks.encode(Action.MEETUPS_OF, mission.id)),
                ]
            ]
        ),
    )
    await context.bot.send_venue(
        chat_id,
        latitude=mission.place_lat,
        longitude=mission.place_lon,
        title=place_name(mission, lang),
        address=address(region, lang),
    )


def register(application: Application) -> None:
    """Step 2: /missions, its pages, "recommended for you" and a mission's card."""
    application.add_handler(
        CommandHandler("missions", list_missions, filters=filters.ChatType.PRIVATE)
    )
    for action, callback in (
        (Action.MISSION_LIST, list_page),
        (Action.MISSION_FOR_YOU, for_you),
        (Action.MISSION_SHOW, show_mission),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=callbacks.pattern(action)))
