"""Gathering on a group's daily post (issue 23) on screen: the post with its "🙋" counts, the
answers to a tap, "who?", the call for a host and /setgather.

Pure functions of a language and `storage.gathering`'s views."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage import meetings
from storage.gathering import NAMES_SHOWN, Post, Tapped
from ui import callbacks, links
from ui import meetups as meetup_screens
from ui.callbacks import Action
from ui.i18n import N_, localized, t, tn
from ui.refusals import FALLBACK, TABLE

DEFAULT_NEEDED = 3
# A refusal whose text needs values the notice does not keep (a suspension's end).
CANNOT_JOIN_NOW = N_("you can't join meetups right now.")


def day_arg(day: date) -> str:
    """A post's day as a button carries it (YYYYMMDD)."""
    return day.strftime("%Y%m%d")


def needed_of(values: dict[str, Any]) -> int:
    return int(values.get("needed", DEFAULT_NEEDED))


def mission_lines(
    lang: str, item: dict[str, Any], needed: int, count: int, made: bool | None
) -> list[str]:
    """One mission of the post: what and where, then how the gathering stands (`made`: None
    nothing made yet, True a meetup, False waiting for a host)."""
    lines = [
        t(
            lang,
            "🎯 {title}\n📍 {place} · 🏆 {points} P · ⏱ {duration} min",
            title=localized(lang, item, "title"),
            place=localized(lang, item, "place"),
            points=item["points"],
            duration=item["duration"],
        )
    ]
    if made is True:
        lines.append(
            t(lang, "✅ {count} tapped: the meetup is on, see its card below.", count=count)
        )
    elif made is False:
        lines.append(t(lang, "🙋 {count} tapped: who will host? See below.", count=count))
    elif count:
        lines.append(t(lang, "🙋 {count}/{needed} so far", count=count, needed=needed))
    return lines


def post_markup(
    lang: str,
    values: dict[str, Any],
    bot_username: str | None,
    counts: dict[int, int] | None = None,
) -> InlineKeyboardMarkup | None:
    """Per mission: "🙋" with the count, "who?", and the mission's card in a private chat."""
    day = day_arg(date.fromisoformat(values["day"]))
    needed = needed_of(values)
    rows: list[list[InlineKeyboardButton]] = []
    for item in values["missions"]:
        count = (counts or {}).get(int(item["id"]), 0)
        label = t(
            lang, "🙋 I'm in: {title} ({count}/{needed})",
            title=localized(lang, item, "title"), count=count, needed=needed,
        )  # fmt: skip
        tap = callbacks.encode(Action.GATHER_TAP, item["id"], day)
        rows.append([InlineKeyboardButton(label, callback_data=tap)])
        who = callbacks.encode(Action.GATHER_WHO, item["id"], day)
        row = [InlineKeyboardButton(t(lang, "👀 Who?"), callback_data=who)]
        if bot_username:
            link = links.mission_link(bot_username, item["id"])
            row.append(InlineKeyboardButton(t(lang, "ℹ️ Details"), url=link))
        rows.append(row)
    return InlineKeyboardMarkup(rows) if rows else None


def post_screen(
    lang: str, post: Post, bot_username: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The daily post redrawn after a tap (the same words as when it was sent)."""
    from ui.notices import daily_post

    return daily_post(lang, post.values, bot_username, post)


def tapped(lang: str, tapped: Tapped) -> str:
    """The tap's answer (a toast): counted, or counted before."""
    if tapped.refused is not None:
        return t(lang, "Counted, but I couldn't seat you: I've told you why in our private chat.")
    if tapped.seat == "joined":
        return t(lang, "You're in the meetup! Details in our private chat.")
    if tapped.seat == "waitlisted":
        return t(lang, "The meetup is full: you're on its waitlist.")
    if not tapped.counted:
        return t(lang, "You're already counted. 🙋")
    return t(lang, "Counted! 🙋")


def sign_up_first(lang: str) -> str:
    """A tap by someone without an account (the answer opens the bot on the mission)."""
    return t(
        lang,
        "Sign up first (it takes a minute): I've opened our private chat. Then tap 🙋 again "
        "and you count.",
    )


def who(lang: str, names: Sequence[str]) -> str:
    """ "Who?": display names only, the first few."""
    if not names:
        return t(lang, "Nobody yet. Be the first! 🙋")
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    if more > 0:
        return tn(lang, "🙋 {names} and {count} more", "🙋 {names} and {count} more", more,
                  names=shown, count=more)  # fmt: skip
    return t(lang, "🙋 {names}", names=shown)


def need_host(
    lang: str, item: dict[str, Any], count: int, bot_username: str | None, mission_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Nobody who tapped may host yet: the group is asked for a volunteer (the button opens
    the mission's card privately, where hosting starts)."""
    text = t(
        lang,
        '🙋 {count} people want to do "{title}" today, but none of them can host yet. Who will '
        "host it? Open the mission and tap Host; the others can join your meetup.",
        count=count,
        title=localized(lang, item, "title"),
    )
    if not bot_username:
        return text, None
    link = links.mission_link(bot_username, mission_id)
    button = InlineKeyboardButton(t(lang, "I'll host"), url=link)
    return text, InlineKeyboardMarkup([[button]])


def formed_intro(lang: str, count: int) -> str:
    """Above the meetup's card in the group."""
    return tn(
        lang,
        "🎉 {count} person tapped 🙋: here is your meetup!",
        "🎉 {count} people tapped 🙋: here is your meetup!",
        count,
        count=count,
    )


def group_card(
    lang: str,
    values: dict[str, Any],
    card: meetings.Card | None,
    zone: tzinfo,
    bot_username: str | None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """What the group is told under the post when taps completed the count (the outbox's
    `gathering_card`, drawn when it is sent): the new meetup's card (its own text and Join
    button) with a line above it, or, when nobody who tapped may host (no `card`), the call
    for a host."""
    count = int(values["count"])
    if card is not None:
        body = meetup_screens.card_text(lang, zone, card.meetup)
        return f"{formed_intro(lang, count)}\n\n{body}", meetup_screens.card_markup(lang, card)
    item = values["mission"]
    return need_host(lang, item, count, bot_username, int(item["id"]))


def size_set(lang: str, size: int) -> str:
    return t(lang, "Done: when {size} people tap 🙋 on a daily post, I set up a meetup.", size=size)


def size_format(lang: str) -> str:
    return t(lang, "Send /setgather N, a number from 2 to 10 (how many taps make a meetup).")


def why(lang: str, code: str) -> str:
    """A refusal (its `code[:reason]`, as storage.gathering keeps it) told in a notice."""
    msgid = TABLE.get(code) or TABLE.get(code.partition(":")[0]) or FALLBACK
    if "{" in msgid:
        msgid = CANNOT_JOIN_NOW
    return t(lang, msgid)
