"""Step 9 on screen: what the bot says in a neighbourhood group, and the admins' pickers
(district, then dong) for `/setregion`."""

from __future__ import annotations

from datetime import time

from telegram import Chat, InlineKeyboardMarkup

from storage.accounts import District
from storage.groups import Bound
from storage.models import Region
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.commands import addressed
from ui.i18n import localized, t


def introduction(
    lang: str, post_time: str, bot_username: str | None = None, *, paused: bool = False
) -> str:
    """The bot's first words in a group it was added to; with `bot_username` its commands are
    written `/setregion@bot`, so they reach this bot where several bots share the group.
    `paused`: added again where the admin had paused the posts, which stay paused."""
    text = _introduction(lang, post_time)
    if paused:
        text = f"{text}\n\n{still_paused(lang)}"
    return addressed(text, bot_username)


def _introduction(lang: str, post_time: str) -> str:
    return t(
        lang,
        "Hello! I'm Halsaram (할사람?): every morning I post a small mission to do together "
        "in your neighbourhood.\n\nGroup admins:\n/setregion — choose the neighbourhood\n"
        "/settime HH:MM — when to post (now {time})\n/pause, /resume — stop or restart the "
        "posts",
        time=post_time,
    )


def district_picker(lang: str, districts: list[District]) -> tuple[str, InlineKeyboardMarkup]:
    buttons = [
        (localized(lang, d, "name"), callbacks.encode(Action.GROUP_DISTRICT, d.code))
        for d in districts
    ]
    return t(lang, "Which district is this group in?"), keyboards.inline(keyboards.grid(buttons))


def dong_picker(lang: str, dongs: list[Region]) -> tuple[str, InlineKeyboardMarkup | None]:
    """The open dongs of the chosen district, or word that it is not open."""
    if not dongs:
        return t(lang, "That district is not open yet. Send /setregion."), None
    buttons = [
        (localized(lang, r, "name"), callbacks.encode(Action.GROUP_DONG, r.id)) for r in dongs
    ]
    rows = [
        *keyboards.grid(buttons, columns=3),
        [(t(lang, "« Back"), callbacks.encode(Action.GROUP_DONG, "back"))],
    ]
    return t(lang, "Which neighbourhood (dong)?"), keyboards.inline(rows)


def region_set(lang: str, bound: Bound) -> str:
    return t(
        lang,
        "Done: this group gets a mission in {region} every day at {time}.",
        region=localized(lang, bound.region, "name"),
        time=f"{bound.post_time:%H:%M}",
    )


def time_format(lang: str) -> str:
    return t(lang, "Send the time as /settime HH:MM, e.g. /settime 08:00.")


def time_set(lang: str, when: time) -> str:
    return t(lang, "Done: the daily mission will be posted at {time}.", time=f"{when:%H:%M}")


def posts_active(lang: str, active: bool) -> str:
    """The answer to `/resume` (active) or `/pause`."""
    if active:
        return t(lang, "Daily missions are back on. See you in the morning!")
    return t(lang, "Daily missions are paused. Send /resume to restart.")


def still_paused(lang: str) -> str:
    """Added again to a group whose admin had paused the posts: they stay paused."""
    return t(lang, "Daily missions are still paused here. Send /resume to restart.")


def chat_id_for_admins(lang: str, chat: Chat) -> str:
    """Sent privately to whoever added the bot to a group that may become the admin group."""
    return t(
        lang,
        'You added me to "{title}". Its chat id is {chat_id}. To review photos and reports '
        "there, make it the admin group: set HALSARAM_ADMIN_CHAT_ID={chat_id} in the bot's "
        "settings and restart it. Otherwise nothing needs doing.",
        title=chat.title or "", chat_id=chat.id,
    )  # fmt: skip
