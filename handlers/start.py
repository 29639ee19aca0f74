"""First words: `/start` greets and explains the service, `/help` lists the commands.

`/start` is also what Telegram sends when someone opens the bot from a deep link
(`t.me/<bot>?start=<payload>`), with the payload as the command's argument; check-in links
will be routed by that payload.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import Context
from ui import callbacks, keyboards
from ui.callbacks import Action
from ui.commands import COMMANDS
from ui.i18n import t

HOW = "how"
COMMANDS_TOPIC = "commands"
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


def help_text(lang: str, private: bool) -> str:
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


def greeting_keyboard(lang: str) -> InlineKeyboardMarkup:
    return keyboards.inline(
        [
            [
                (t(lang, "How does it work?"), callbacks.encode(Action.HELP, HOW)),
                (t(lang, "Commands"), callbacks.encode(Action.HELP, COMMANDS_TOPIC)),
            ]
        ]
    )


async def start(update: Update, context: Context) -> None:
    """Greets the person in a private chat and offers the two ways to learn more."""
    assert update.effective_message is not None and update.effective_user is not None
    lang = context.lang
    await update.effective_message.reply_text(
        greeting(lang, update.effective_user.first_name),
        reply_markup=greeting_keyboard(lang),
    )


async def help_command(update: Update, context: Context) -> None:
    """Lists the commands that work in this kind of chat."""
    assert update.effective_message is not None and update.effective_chat is not None
    lang = context.lang
    private = update.effective_chat.type == "private"
    await update.effective_message.reply_text(help_text(lang, private))


async def help_button(update: Update, context: Context) -> None:
    """Answers the greeting's buttons with the chosen explanation."""
    query = update.callback_query
    assert query is not None
    lang = context.lang
    try:
        topic = callbacks.decode(query.data).args[0]
    except callbacks.InvalidCallback:
        topic = ""
    if topic not in TOPICS:
        await query.answer(t(lang, "This button no longer works. Send /start to begin again."))
        return
    await query.answer()
    text = how_it_works(lang) if topic == HOW else help_text(lang, private=True)
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, text)


def register(application: Application) -> None:
    """/help and the greeting's "how does it work?" buttons."""
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(
        CallbackQueryHandler(help_button, pattern=callbacks.pattern(Action.HELP))
    )
