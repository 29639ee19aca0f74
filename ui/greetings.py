"""The bot's first words on screen: the greeting with its two "learn more" buttons, the
explanation of how the service works, and the `/help` command list.

Pure functions of a language; the command list comes from `ui.commands`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.commands import Audience, Command, commands_for, invocation
from ui.i18n import N_, t

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


def help_text(
    lang: str,
    private: bool,
    *,
    group_admin: bool = False,
    admin_group: bool = False,
    bot_username: str | None = None,
    operator: bool = False,
) -> str:
    """The commands that work in this kind of chat (a group sees fewer), as its menu lists
    them: in a group each written `/name@bot`, and for a group's admin its admin commands too;
    the admin group (`admin_group`) sees the review commands instead; an operator
    (`operator`) sees theirs after everyone's in a private chat."""
    if private:
        text = _listing(lang, commands_for(Audience.PRIVATE), None)
        if not operator:
            return text
        run = [_line(lang, c, None) for c in commands_for(Audience.OPERATOR)]
        return "\n".join([text, "", t(lang, "Operators (you are one):"), *run])
    if admin_group:
        return _listing(lang, commands_for(Audience.ADMIN_GROUP), bot_username)
    text = _listing(lang, commands_for(Audience.GROUP), bot_username)
    if not group_admin:
        return text
    extra = [c for c in commands_for(Audience.GROUP_ADMIN) if Audience.GROUP not in c.audiences]
    admin = [_line(lang, c, bot_username) for c in extra]
    return "\n".join([text, "", t(lang, "Group admins:"), *admin])


def _listing(lang: str, commands: tuple[Command, ...], bot_username: str | None) -> str:
    lines = [t(lang, "Here is what I can do:"), ""]
    lines.extend(_line(lang, c, bot_username) for c in commands)
    return "\n".join(lines)


def _line(lang: str, command: Command, bot_username: str | None) -> str:
    return f"{invocation(command.name, bot_username)} — {t(lang, command.description)}"


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


# `/whoami` (issue 23): how the first admin is made on a new installation (README).
WHOAMI = N_(
    "Your Telegram id is {id}. To make this account an admin, whoever runs the bot types "
    "`make admin ID={id}` (or `.venv/bin/halsaram admin add {id}`) where it runs."
)
