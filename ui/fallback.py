"""What the bot says to a message no feature claimed (issue 23, "every message has an answer"):
free text, a pasted link, a sticker or a voice message outside any conversation, `/cancel`
with nothing running, and text typed while a conversation waits for a button.

Each answer is short and says what the bot understood, then shows the main commands as a short
list (tappable in Telegram) with two buttons: the mission list (the same data `/missions`'
pages carry, so the press shows it in this very message) and the greeting's "How does it
work?". Someone without an account is pointed to /start instead (nothing else works for them).

Also here, because they describe what people type rather than how a feature answers: the shape
of a check-in code typed on its own (`CODE_TEXT`) and of a check-in link pasted as text
(`checkin_payload`), which `handlers/fallback.py` routes on.
"""

from __future__ import annotations

import re
from enum import Enum

from telegram import InlineKeyboardMarkup

from ui import callbacks, keyboards, links
from ui.callbacks import Action
from ui.commands import COMMANDS, invocation
from ui.greetings import HOW
from ui.i18n import N_, t
from ui.missions import ALL
from verification.checkin import CODE_ALPHABET, CODE_LENGTH

# A check-in code typed on its own: exactly `CODE_LENGTH` characters of the code's alphabet,
# either case, spaces around it trimmed, a space or dash between characters allowed (as a
# code read aloud gets typed: "ab3 k7q"). The alphabet has no I, L, O, 0 or 1, so "HELLO1" or
# "hi" never match; English words such as "THANKS" do, which is why the handler treats a match
# as a code only for a person whose meetup's check-in window is open.
_LETTER = f"[{CODE_ALPHABET}{CODE_ALPHABET.lower()}]"
CODE_TEXT = rf"^\s*(?:{_LETTER}[ -]?){{{CODE_LENGTH - 1}}}{_LETTER}\s*$"

# A bot link pasted as text instead of tapped: `t.me/<bot>?start=<payload>` (with or without
# https://, or telegram.me). The handler checks that the bot is this one.
CHECKIN_LINK_TEXT = (
    r"(?:https?://)?(?:t|telegram)\.me/(?P<bot>[A-Za-z0-9_]{3,64})\?start="
    rf"(?P<payload>{links.CHECKIN}[A-Za-z0-9_-]{{1,63}})"
)
_CHECKIN_LINK = re.compile(CHECKIN_LINK_TEXT)
_GREETING = re.compile(
    r"^\s*(안녕|안녕하세요|안녕하십니까|하이|반가워요|반갑습니다|hi|hello|hey|hiya|yo)"
    r"[\s!.~?👋]*$",
    re.IGNORECASE,
)
_LINK = re.compile(r"(https?://|www\.|t\.me/)\S+", re.IGNORECASE)

# The commands of the short list, in the order `/help` shows them.
MAIN_COMMANDS = ("missions", "meetups", "mymeetups", "help")


class Kind(Enum):
    """What kind of message came in, as far as the answer cares."""

    TEXT = "text"
    GREETING = "greeting"
    LINK = "link"
    CODE = "code"  # shaped like a check-in code, from someone whose check-in is not open
    STICKER = "sticker"
    VOICE = "voice"
    CONTACT = "contact"
    OTHER = "other"


FIRST_LINES = {
    Kind.TEXT: N_("I didn't understand that: I answer commands and buttons."),
    Kind.LINK: N_(
        "I can't open links sent to me. To check in at a meetup, scan the host's QR code with "
        "your phone's camera, or type the code shown under it."
    ),
    Kind.CODE: N_(
        "If that was a check-in code: it works only while check-in is open for a meetup you "
        "joined, from shortly before its start. /mymeetups shows yours."
    ),
    Kind.STICKER: N_("Nice sticker! I can't read stickers, though."),
    Kind.VOICE: N_("I can't listen to voice or audio messages. Please type instead."),
    Kind.CONTACT: N_(
        "I don't need a contact here: I ask for your phone number only when you sign up, or "
        "when you change it in /profile."
    ),
    Kind.OTHER: N_("I can't do anything with this kind of message."),
}
GREETING = N_("Hello, {name}! 👋")
GREETING_NAMELESS = N_("Hello! 👋")
NOT_SIGNED_UP = N_(
    "Hello! I'm Halsaram, a bot for small meetups in your neighbourhood. "
    "Sign up with /start first: it takes a minute."
)
USE_THE_BUTTONS = N_("Please answer with the buttons above, or type /cancel to stop.")
NOTHING_TO_CANCEL = N_("There is nothing to cancel: we are not in the middle of anything.")
SEE_MISSIONS = N_("🔍 See missions")

Reply = tuple[str, InlineKeyboardMarkup | None]


def kind_of_text(text: str) -> Kind:
    """A greeting, a message with a link, or other text."""
    if _GREETING.match(text):
        return Kind.GREETING
    if _LINK.search(text):
        return Kind.LINK
    return Kind.TEXT


def checkin_payload(text: str, bot_username: str | None) -> str | None:
    """The `c…` payload of a check-in link to this bot pasted in `text`, else None."""
    found = _CHECKIN_LINK.search(text)
    if found is None or bot_username is None:
        return None
    if found.group("bot").lower() != bot_username.lower():
        return None
    return found.group("payload")


def reply(lang: str, kind: Kind, *, signed_up: bool, name: str = "") -> Reply:
    """The reply to a message of `kind`: what was understood, then the main commands; for
    someone without an account, the way to /start."""
    if not signed_up:
        return t(lang, NOT_SIGNED_UP), None
    if kind is Kind.GREETING:
        first = t(lang, GREETING, name=name) if name else t(lang, GREETING_NAMELESS)
    else:
        first = t(lang, FIRST_LINES[kind])
    return f"{first}\n\n{main_commands(lang)}", menu(lang)


def main_commands(lang: str) -> str:
    """The short list: each main command with the description the command menu shows."""
    described = {c.name: c.description for c in COMMANDS}
    lines = [f"{invocation(name, None)} — {t(lang, described[name])}" for name in MAIN_COMMANDS]
    return "\n".join([t(lang, "Here is what I can do:"), *lines])


def menu(lang: str) -> InlineKeyboardMarkup:
    """The mission list (shown in place of this message) and "How does it work?"."""
    return keyboards.inline(
        [
            [
                (t(lang, SEE_MISSIONS), callbacks.encode(Action.MISSION_LIST, ALL, 0)),
                (t(lang, "How does it work?"), callbacks.encode(Action.HELP, HOW)),
            ]
        ]
    )


def use_the_buttons(lang: str) -> str:
    return t(lang, USE_THE_BUTTONS)


def nothing_to_cancel(lang: str) -> str:
    return t(lang, NOTHING_TO_CANCEL)
