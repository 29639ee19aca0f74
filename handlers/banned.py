"""A banned person gets a polite, final answer to anything they send (issue 23).

A ban (`/ban`, or Ban on a report card) closes an account for good: storage refuses every
action (`accounts.require_may_act`), and this gate, in a handler group of its own before every
feature (-5), answers whatever the person sends or presses with the final message and stops
the update there. What privacy law keeps open stays open: `/privacy`, `/mydata`, `/deleteme`
and its confirmation buttons go through. In groups a banned person's messages are not
answered (a group is not told of anyone's ban); their button presses get the text as the
press's answer.

Whether someone is banned is kept in memory for a minute per person (`TTL`), so the gate costs
most updates no query; a ban therefore reaches this gate within a minute (storage refuses the
person's actions at once). The final message goes at most once a minute per person (`QUIET`),
so repeated messages are not answered with a flood.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import Context
from storage import moderation
from ui import callbacks
from ui import moderation as ui
from ui.callbacks import Action
from ui.i18n import t

GROUP = -5
TTL = 60.0  # seconds a person's ban status is trusted from memory
QUIET = 60.0  # seconds between two final messages to one person
KEPT = 10_000  # people remembered at most
STATUS_KEY = "banned_status"  # handlers/moderation.py drops a person's entry on /ban, /unban
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


def _memory(context: Context, key: str) -> OrderedDict[int, tuple[float, bool]]:
    kept = context.application.bot_data.setdefault(key, OrderedDict())
    assert isinstance(kept, OrderedDict)
    return kept


async def _is_banned(context: Context, user_id: int) -> bool:
    known = _memory(context, STATUS_KEY)
    now = time.monotonic()
    found = known.get(user_id)
    if found is not None and now - found[0] < TTL:
        return found[1]
    async with context.services.sessions() as session:
        banned = await moderation.banned(session, user_id)
    known[user_id] = (now, banned)
    known.move_to_end(user_id)
    while len(known) > KEPT:
        known.popitem(last=False)
    return banned


async def gate(update: Update, context: Context) -> None:
    """Stops every update of a banned person but the privacy ones, with the final message."""
    person, chat = update.effective_user, update.effective_chat
    if person is None or person.is_bot or update.my_chat_member is not None:
        return
    if update.edited_message is not None:  # group -4 drops edits anyway
        return
    if not await _is_banned(context, person.id) or _lets_through(update):
        return
    text = t(context.lang, ui.BANNED_FINAL)
    if update.callback_query is not None:
        await context.answer(text, alert=True)
    elif chat is not None and chat.type == ChatType.PRIVATE:
        told = _memory(context, TOLD_KEY)
        now = time.monotonic()
        last = told.get(person.id)
        if last is None or now - last[0] >= QUIET:
            told[person.id] = (now, True)
            told.move_to_end(person.id)
            while len(told) > KEPT:
                told.popitem(last=False)
            await context.bot.send_message(chat.id, text)
    raise ApplicationHandlerStop


def register(application: Application) -> None:
    """Group -5: before edits, blocking, flood control and every feature."""
    application.add_handler(TypeHandler(Update, gate), group=GROUP)
