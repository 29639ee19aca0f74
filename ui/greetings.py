"""The bot's first words on screen: the greeting with its two "learn more" buttons, the
explanation of how the service works, and the `/help` command list.

Pure functions of a language; the command list comes from `ui.commands`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.commands import COMMANDS
from ui.i18n import t

HOW = "how"  # the greeting's "How does it work?" button
COMMANDS_TOPIC = "commands"  # its "Commands" button
TOPICS = (HOW, COMMANDS_TOPIC)


def greeting(lang: str, first_name: str) -> str:
    return t(
        lang,
        'Hi {name}! I\'m Halsaram (할사람?): "who wants to do this today?"\n\n'
        "I suggest small missions around your neighbourhood, like a walk round Seokchon Lake "
        "or 30 minutes of badminton in the park. Join or host a small meetup, check in with "
        "a QR code, send a photo as proof, and earn points you can exchange for gift "
        "vouchers.\n\n"
        "Meetups always happen in public places. Type /help to see what I can do.",
        name=first_name,
    )


def greeting_keyboard(lang: str) -> InlineKeyboardMarkup:
    return keyboards.inline(
        [
            [
                (t(lang, "How does it work?"), callbacks.encode(Action.HELP, HOW)),
                (t(lang, "Commands"), callbacks.encode(Action.HELP, COMMANDS_TOPIC)),
            ]
        ]
    )


def help_text(lang: str, private: bool) -> str:
    """The commands that work in this kind of chat (a group sees fewer)."""
    lines = [t(lang, "Here is what I can do:"), ""]
    for command in COMMANDS:
        if private or not command.private_only:
            lines.append(f"/{command.name} — {t(lang, command.description)}")
    return "\n".join(lines)


def how_it_works(lang: str) -> str:
    return t(
        lang,
        "How it works:\n"
        "1. Pick a mission you like.\n"
        "2. Join a meetup or host your own, in a public place.\n"
        "3. At the meetup, scan the host's QR code to check in.\n"
        "4. Send a photo of the mission done; an admin reviews it.\n"
        "5. Points arrive once it is approved. Rate the people you met.",
    )


def help_topic(lang: str, topic: str) -> str:
    """What a greeting button explains (`topic` is one of `TOPICS`)."""
    return how_it_works(lang) if topic == HOW else help_text(lang, private=True)
