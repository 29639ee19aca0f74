"""The bot's commands, one list, each with the audiences whose menu shows it.

The same list feeds `setMyCommands` (per scope and language, `bot.app.publish_commands`) and
`/help`. An audience is where a command works, as its handler's filters allow:

- `PRIVATE`: everyone, in their private chat with the bot;
- `GROUP`: every member of a neighbourhood group;
- `GROUP_ADMIN`: that group's admins (`handlers.groups`, re-checked with getChatMember);
- `ADMIN_GROUP`: the operators' group (`HALSARAM_ADMIN_CHAT_ID`): `/drafts` and `/stats`
  answer there (`/drafts` nowhere else but private chats);
- `OPERATOR`: operators in their private chat (`/review`, `/refund` are private-only, and
  `/drafts`, `/stats` work there too). Nobody's menu lists these: which people are operators
  is kept in the database, not in Telegram's scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ui.i18n import N_


class Audience(Enum):
    PRIVATE = "private"
    GROUP = "group"
    GROUP_ADMIN = "group_admin"
    ADMIN_GROUP = "admin_group"
    OPERATOR = "operator"


P, G, A, AG, OP = (
    Audience.PRIVATE,
    Audience.GROUP,
    Audience.GROUP_ADMIN,
    Audience.ADMIN_GROUP,
    Audience.OPERATOR,
)


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # an English msgid, translated per language
    audiences: frozenset[Audience] = frozenset({P})


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Start, or see what this bot does")),
    Command("help", N_("What I can do"), frozenset({P, G, A, AG})),
    Command("missions", N_("Missions near you, most points first")),
    Command("meetups", N_("Open meetups in your neighbourhood")),
    Command("mymeetups", N_("Meetups you host or joined")),
    Command("map", N_("Open meetups on a map of your neighbourhood")),
    Command("host", N_("Host a meetup for a mission")),
    Command("checkin", N_("Check in with the code under the host's QR")),
    Command("points", N_("Your points, level and history")),
    Command("market", N_("Exchange points for gift vouchers")),
    Command("vouchers", N_("My vouchers: the codes you exchanged points for")),
    Command("report", N_("Report someone you met at a meetup")),
    Command("block", N_("Stop seeing someone's meetups")),
    Command("profile", N_("Your profile card, and edit it")),
    Command("language", N_("한국어 / English")),
    Command("cancel", N_("Stop what we are doing")),
    Command("privacy", N_("What we keep about you, why and for how long")),
    Command("mydata", N_("Get everything we hold about you as a file")),
    Command("deleteme", N_("Delete your account and personal data")),
    Command("setregion", N_("Choose this group's neighbourhood"), frozenset({A})),
    Command("settime", N_("When to post each day (HH:MM)"), frozenset({A})),
    Command("setgather", N_("How many 🙋 taps make a meetup (2-10)"), frozenset({A})),
    Command("pause", N_("Stop the daily posts"), frozenset({A})),
    Command("resume", N_("Restart the daily posts"), frozenset({A})),
    Command("drafts", N_("Missions waiting for review"), frozenset({AG, OP})),
    Command("review", N_("Photos waiting for review"), frozenset({OP})),
    Command("stats", N_("The last weeks' figures and the weekly chart"), frozenset({AG, OP})),
    Command("refund", N_("Give back the points of a bad voucher code"), frozenset({OP})),
    Command("reports", N_("Open reports, with buttons to decide them"), frozenset({AG, OP})),
    Command("ban", N_("Close an account for good, with a reason"), frozenset({OP})),
    Command("unban", N_("Lift a ban"), frozenset({OP})),
)


def commands_for(*audiences: Audience) -> tuple[Command, ...]:
    """The commands any of `audiences` sees, in the list's order."""
    return tuple(c for c in COMMANDS if c.audiences.intersection(audiences))


def invocation(name: str, bot_username: str | None = None) -> str:
    """`/name`, or `/name@bot` where several bots share a group and each needs its own."""
    return f"/{name}@{bot_username}" if bot_username else f"/{name}"


_IN_GROUPS = {c.name for c in commands_for(Audience.GROUP, Audience.GROUP_ADMIN)}
_MENTIONED = re.compile(r"/([a-z0-9_]{1,32})(?![a-z0-9_@])")


def addressed(text: str, bot_username: str | None) -> str:
    """`text` (already translated) with each group command in it addressed to this bot:
    `/setregion` becomes `/setregion@halsaram_bot`; other commands stay as they are."""
    if not bot_username:
        return text

    def to_bot(found: re.Match[str]) -> str:
        name = found.group(1)
        return invocation(name, bot_username) if name in _IN_GROUPS else found.group(0)

    return _MENTIONED.sub(to_bot, text)
