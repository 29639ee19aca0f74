"""A banned person gets a polite, final answer to anything they send (issue 23).

A ban (`/ban`, or Ban on a report card) closes an account for good: storage refuses every
action (`accounts.require_may_act`), and this gate, in a handler group of its own before every
feature (-5), answers whatever the person sends or presses with the final message and stops
the update there. What privacy law keeps open stays open: `/privacy`, `/mydata`, `/deleteme`
and its confirmation buttons go through. In groups a banned person's messages are not
answered (a group is not told of anyone's ban); their button presses get the text as the
press's answer.

Whether someone is banned is read with every update, in the one read of the person the gates
share (`Context.flags`), so a ban reaches this gate at once. The final message goes at most
once a minute per person (`QUIET`), so repeated messages are not answered with a flood.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import Context
from bot.recent import Recent, recent
from ui import callbacks
from ui import moderation as ui
from ui.callbacks import Action
from ui.i18n import t

GROUP = -5
QUIET = 60.0  # seconds between two final messages to one person
TOLD_KEY = "banned_told"
# What a banned person may still do: see and take their data, delete their account.
OPEN_COMMANDS = ("/privacy", "/mydata", "/deleteme")


def _lets_through(update: Update) -> bool:
    message = update.message
    if message is not None and message.text:
        word = message.text.split(maxsplit=1)[0].split("@", 1)[0].lower() if message.text else ""
        return word in OPEN_COMMANDS
    if update.callback_query is not None:
        try:
            return callbacks.decode(update.callback_query.data).action == Action.DELETE
        except callbacks.InvalidCallback:
            return False
    return False


async def gate(update: Update, context: Context) -> None:
    """Stops every update of a banned person but the privacy ones, with the final message."""
    person, chat = update.effective_user, update.effective_chat
    if person is None or person.is_bot or update.my_chat_member is not None:
        return
    if update.edited_message is not None:  # group -4 drops edits anyway
        return
    if not (await context.flags()).banned or _lets_through(update):
        return
    text = t(context.lang, ui.BANNED_FINAL)
    if update.callback_query is not None:
        await context.answer(text, alert=True)
    elif chat is not None and chat.type == ChatType.PRIVATE:
        told: Recent[bool] = recent(context.application, TOLD_KEY, QUIET)
        if told.get(person.id) is None:
            told.put(person.id, True)
            await context.bot.send_message(chat.id, text)
    raise ApplicationHandlerStop


def register(application: Application) -> None:
    """Group -5: before edits, blocking, flood control and every feature."""
    application.add_handler(TypeHandler(Update, gate), group=GROUP)
