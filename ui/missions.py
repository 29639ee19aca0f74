"""Step 2 on screen: the mission list and its pages and filters, "recommended for you", a
mission's card and venue, and the admins' review cards for generated drafts.

Pure functions of a language and storage's views (`storage.missions`); they never read the
database. The list and "for you" pages edit one message, so their buttons carry the page.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from missions.categories import INTERESTS, TIMES_OF_DAY
from missions.draft import POINTS_MAX, POINTS_MIN
from missions.recommend import Reason
from storage.missions import PAGE_SIZE, Drafts, Listing, RecommendedPage
from storage.models import Mission, Region
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.i18n import N_, localized, points, t, tn

ALL = "all"  # the category filter that shows every mission
STEPS = (-50, -10, 10, 50)  # the points buttons on a draft's review card
# A list button whose data this version does not know (a forged category, an old page).
STALE_LIST = N_("This button no longer works. Send /missions to see more.")


# --------------------------------------------------------------------------- a mission


def clock_time(lang: str, hour: int) -> str:
    """The hour as people say it: "7 pm", "오후 7시"."""
    h12 = hour % 12 or 12
    return t(lang, "{hour} pm", hour=h12) if hour >= 12 else t(lang, "{hour} am", hour=h12)


def reason_line(lang: str, reason: Reason) -> str:
    """Why a mission is recommended, in words."""
    interest = t(lang, INTERESTS[reason.interest]) if reason.interest in INTERESTS else ""
    time = clock_time(lang, reason.hour) if reason.hour is not None else ""
    return t(lang, reason.msgid, interest=interest, time=time, km=reason.km)


def mission_card(lang: str, mission: Mission) -> str:
    """Everything a person needs to decide: what, where, how long, with how many, the proof."""
    times = ", ".join(t(lang, TIMES_OF_DAY[k]) for k in mission.times_of_day if k in TIMES_OF_DAY)
    return t(
        lang,
        "{title}\n\n{description}\n\n📍 {place}\n🏆 {points}\n⏱ {duration} min\n"
        "👥 {min_group}-{max_group} people\n💪 Difficulty {difficulty}/5\n"
        "🕒 Good for: {times}\n📸 Proof: {evidence}",
        title=localized(lang, mission, "title"),
        description=localized(lang, mission, "description"),
        place=localized(lang, mission, "place_name"),
        points=points(lang, mission.points),
        duration=mission.duration_min,
        min_group=mission.min_group,
        max_group=mission.max_group,
        difficulty=mission.difficulty,
        times=times or "-",
        evidence=localized(lang, mission, "evidence_rule"),
    )


def card_buttons(lang: str, mission: Mission) -> InlineKeyboardMarkup:
    """The card's way to meetups: host one for this mission, or see the open ones."""
    return keyboards.inline(
        [
            [
                (t(lang, "🙋 Create a meetup"), callbacks.encode(Action.MEETUP_NEW, mission.id)),
                (t(lang, "👀 See meetups"), callbacks.encode(Action.MEETUPS_OF, mission.id)),
            ]
        ]
    )


def venue_address(lang: str, region: Region | None) -> str:
    """The dong and district, as a venue's address line (a public place has no house number)."""
    if region is None:
        return t(lang, "Seoul")
    if lang == "ko":
        return f"서울 {region.district_ko} {region.name_ko}"
    return f"{region.name_en}, {region.district_en}, Seoul"


def invitation(lang: str, mission: Mission) -> str:
    """A daily post's link followed by someone without an account."""
    return t(
        lang,
        'Want to do "{title}" with neighbours? Send /start to sign up first; it takes a minute.',
        title=localized(lang, mission, "title"),
    )


# --------------------------------------------------------------------------- the lists


def _line(lang: str, n: int, mission: Mission) -> str:
    return t(
        lang,
        "{n}. {title}\n    🏆 {points} P · 📍 {place} · ⏱ {duration} min",
        n=n,
        title=localized(lang, mission, "title"),
        points=mission.points,
        place=localized(lang, mission, "place_name"),
        duration=mission.duration_min,
    )


def _nav(lang: str, page: int, pages: int, action: str, *head: str) -> list[keyboards.Button]:
    """◀ / ▶ for the neighbouring pages that exist."""
    row = []
    if page > 0:
        row.append((t(lang, "◀ Previous"), callbacks.encode(action, *head, page - 1)))
    if page < pages - 1:
        row.append((t(lang, "Next ▶"), callbacks.encode(action, *head, page + 1)))
    return row


def _numbers(found: list[Mission], first: int) -> list[keyboards.Button]:
    """One button per listed mission, labelled with its number in the list."""
    return [
        (str(first + i), callbacks.encode(Action.MISSION_SHOW, m.id)) for i, m in enumerate(found)
    ]


def _filters(lang: str, category: str) -> list[list[keyboards.Button]]:
    """The category filters, the one shown ticked."""
    choices = [(ALL, t(lang, "All"))] + [(key, t(lang, label)) for key, label in INTERESTS.items()]
    buttons = [
        (f"✅ {label}" if key == category else label, callbacks.encode(Action.MISSION_LIST, key, 0))
        for key, label in choices
    ]
    return keyboards.grid(buttons, columns=3)


def mission_list(lang: str, listing: Listing, category: str) -> tuple[str, InlineKeyboardMarkup]:
    """The list message: a page of missions, the pager, category filters, "for you"."""
    found, region = listing.page, listing.region
    filter_name = t(lang, "All") if category == ALL else t(lang, INTERESTS[category])
    lines = [
        t(
            lang,
            "🎯 Missions in {district}, most points first ({category}, page {page}/{pages})",
            district=localized(lang, region, "district") if region else "",
            category=filter_name,
            page=found.page + 1,
            pages=found.pages,
        ),
        "",
    ]
    first = found.page * PAGE_SIZE + 1
    lines += [_line(lang, first + i, m) for i, m in enumerate(found.missions)]
    if not found.missions:
        lines.append(t(lang, "No missions here yet. Try another category, or check back tomorrow."))
    else:
        lines += ["", t(lang, "Tap a number to see the mission.")]
    rows = [
        _numbers(found.missions, first),
        _nav(lang, found.page, found.pages, Action.MISSION_LIST, category),
        *_filters(lang, category),
        [(t(lang, "⭐ Recommended for you"), callbacks.encode(Action.MISSION_FOR_YOU, 0))],
    ]
    return "\n".join(lines), keyboards.inline(row for row in rows if row)


def recommended(lang: str, ranked: RecommendedPage) -> tuple[str, InlineKeyboardMarkup]:
    """Missions ranked for this person, each with the reason it is there."""
    first = ranked.page * PAGE_SIZE + 1
    lines = [
        t(
            lang,
            "⭐ Recommended for you (page {page}/{pages})",
            page=ranked.page + 1,
            pages=ranked.pages,
        ),
        "",
    ]
    for i, (mission, reason) in enumerate(ranked.picks):
        lines.append(_line(lang, first + i, mission))
        lines.append(f"    💡 {reason_line(lang, reason)}")
    if not ranked.picks:
        lines.append(t(lang, "Nothing to recommend right now. /missions shows everything."))
    rows = [
        _numbers([mission for mission, _ in ranked.picks], first),
        _nav(lang, ranked.page, ranked.pages, Action.MISSION_FOR_YOU),
        [(t(lang, "◀ All missions"), callbacks.encode(Action.MISSION_LIST, ALL, 0))],
    ]
    return "\n".join(lines), keyboards.inline(row for row in rows if row)


# --------------------------------------------------------------------------- review of drafts


def review_card(lang: str, mission: Mission) -> str:
    """Both languages, since admins publish for everyone."""
    status = {
        "draft": t(lang, "📝 Draft, waiting for review"),
        "published": t(lang, "✅ Published"),
        "retired": t(lang, "🗑 Discarded"),
    }[mission.status]
    category = t(lang, INTERESTS[mission.category]) if mission.category in INTERESTS else "-"
    return t(
        lang,
        "Mission #{id} ({source})\n{title_ko}\n{title_en}\n\n{description_ko}\n{description_en}\n\n"
        "📍 {place_ko} / {place_en}\n🏷 {category} · 💪 {difficulty}/5 · ⏱ {duration} min · "
        "👥 {min_group}-{max_group}\n📸 {evidence_ko}\n📸 {evidence_en}\n🏆 {points}\n\n"
        "{status}",
        id=mission.id,
        source=mission.source,
        title_ko=mission.title_ko,
        title_en=mission.title_en,
        description_ko=mission.description_ko,
        description_en=mission.description_en,
        place_ko=mission.place_name_ko,
        place_en=mission.place_name_en,
        category=category,
        difficulty=mission.difficulty,
        duration=mission.duration_min,
        min_group=mission.min_group,
        max_group=mission.max_group,
        evidence_ko=mission.evidence_rule_ko,
        evidence_en=mission.evidence_rule_en,
        points=points(lang, mission.points),
        status=status,
    )


def review_buttons(lang: str, mission: Mission) -> InlineKeyboardMarkup | None:
    """Publish / points / Discard for a draft; a decided mission has no buttons."""
    if mission.status != "draft":
        return None
    # Each points button carries the resulting value, so a double tap sets it once.
    steps = [
        (f"{step:+d}", callbacks.encode(Action.DRAFT_POINTS, mission.id, mission.points + step))
        for step in STEPS
        if POINTS_MIN <= mission.points + step <= POINTS_MAX
    ]
    return keyboards.inline(
        [
            [
                (t(lang, "✅ Publish"), callbacks.encode(Action.DRAFT_PUBLISH, mission.id)),
                (t(lang, "🗑 Discard"), callbacks.encode(Action.DRAFT_DISCARD, mission.id)),
            ],
            steps,
        ]
    )


def no_drafts(lang: str) -> str:
    return t(
        lang,
        "No drafts are waiting. Generate some with:\n"
        "halsaram missions generate --region songpa --count 50",
    )


def more_drafts(lang: str, drafts: Drafts) -> str | None:
    """The line under a full batch of cards, when more drafts wait than were shown."""
    if drafts.total <= len(drafts.missions):
        return None
    return tn(
        lang,
        "{shown} of {count} draft shown. Send /drafts again for the next ones.",
        "{shown} of {count} drafts shown. Send /drafts again for the next ones.",
        drafts.total,
        shown=len(drafts.missions),
    )
