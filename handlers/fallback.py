"""Every message has an answer (issue 23): what reaches the private chat and no feature claimed.

Registered after every feature and conversation, just before `handlers/errors.py` (unknown
commands, stale buttons), so it only sees what nothing else took:
- `/cancel` with no conversation running (each conversation's own /cancel comes first):
  "nothing to cancel";
- a check-in code typed on its own (`ui.fallback.CODE_TEXT`): handled as `/checkin CODE` by
  the very handler of `/checkin` — for a person holding a seat in a meetup whose check-in
  window is open now. Anyone else's six letters ("THANKS", "MEETUP" fit the code's alphabet)
  are text, answered with the commands and a line on when a check-in code works; a wrong code
  from someone at a meetup gets /checkin's polite refusal;
- a check-in link to this bot pasted as text instead of tapped: handled as the tap would be
  (`/start c<token>`, the same handler);
- other text: a greeting back, "I can't open links", or "I didn't understand", then the main
  commands (`ui.fallback`); someone without an account is pointed to /start;
- a sticker, a voice or audio message, a contact, anything else: a line saying what the bot
  cannot do with it, then the main commands.
Photos, files and videos are evidence's (`handlers/evidence.py`, `handlers/video_evidence.py`
answer each, with or without a meetup waiting), locations are "meetups near you"
(`handlers/meetups.py`): they never get here.

A running conversation keeps its own: signup and profile editing answer any message
themselves; the hosting, report and host-message conversations take text only at the steps
that ask for it, so text or a sticker sent while one of them waits for a button is answered
"use the buttons above, or /cancel" rather than with the command list.

Private chats only. In groups the bot stays quiet on ordinary chatter: with Telegram's privacy
mode a bot that is not a group admin receives only commands, replies to it and mentions
(Bot API, "Privacy mode"), and an admin bot would see every message, so answering them would
flood the group.

The `/checkin` handlers are handed in by `bot.app` (a feature does not import another).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import Message, Update
from telegram.ext import (
    Application,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import Context
from storage import accounts, errors, meetings
from storage.db import SessionFactory
from ui import fallback as ui

Callback = Callable[[Update, Context], Awaitable[None]]


async def nothing_to_cancel(update: Update, context: Context) -> None:
    """`/cancel` when no conversation is running."""
    await _message(update).reply_text(ui.nothing_to_cancel(context.lang))


class Fallback:
    """The answers, knowing the conversations registered before them and the `/checkin` and
    `/start c…` handlers to hand a bare code or a pasted link to."""

    def __init__(
        self,
        conversations: list[ConversationHandler],
        checkin_code: Callback,
        checkin_link: Callback,
    ) -> None:
        self.conversations = conversations
        self.checkin_code = checkin_code
        self.checkin_link = checkin_link

    async def free_text(self, update: Update, context: Context) -> None:
        """Text nobody took: a greeting, a link or anything else, answered with the commands."""
        await self._answer(update, context, ui.kind_of_text(_message(update).text or ""))

    async def other_message(self, update: Update, context: Context) -> None:
        """A sticker, a voice message, a contact or anything else nobody took."""
        await self._answer(update, context, _kind_of(_message(update)))

    async def bare_code(self, update: Update, context: Context) -> None:
        """A code typed on its own: `/checkin CODE` for a person whose check-in is open."""
        svc = context.services
        if await _checkin_open(svc.sessions, _user_id(update), svc.rules, svc.clock.now()):
            context.args = [_message(update).text or ""]
            await self.checkin_code(update, context)
            return
        await self._answer(update, context, ui.Kind.CODE)

    async def pasted_link(self, update: Update, context: Context) -> None:
        """A check-in link to this bot pasted as text: what tapping it would have done."""
        payload = ui.checkin_payload(_message(update).text or "", context.bot.username)
        if payload is None:
            await self.free_text(update, context)
            return
        context.args = [payload]
        await self.checkin_link(update, context)

    async def _answer(self, update: Update, context: Context, kind: ui.Kind) -> None:
        message = _message(update)
        if self._in_conversation(update):
            await message.reply_text(ui.use_the_buttons(context.lang))
            return
        async with context.services.sessions() as session:
            user = await accounts.registered_user(session, _user_id(update))
        name = user.display_name if user is not None else ""
        text, markup = ui.reply(context.lang, kind, signed_up=user is not None, name=name)
        await message.reply_text(text, reply_markup=markup)

    def _in_conversation(self, update: Update) -> bool:
        """Whether one of the conversations registered before is running for this person.

        PTB offers no public way to ask a ConversationHandler whether it holds a state for a
        key; `_get_key` and `_conversations` are what its own `check_update` reads.
        """
        for conversation in self.conversations:
            key = conversation._get_key(update)
            if conversation._conversations.get(key) is not None:
                return True
        return False


async def _checkin_open(
    sessions: SessionFactory, user_id: int, rules: meetings.Rules, now: datetime
) -> bool:
    """Whether the person holds a seat in a meetup whose check-in window is open now."""
    async with sessions() as session:
        try:
            mine = await meetings.my_meetups(session, user_id, now)
        except errors.NotRegistered:
            return False
    for meetup in mine:
        opens, closes = meetings.checkin_window(meetup.meeting, rules)
        if opens <= now <= closes:
            return True
    return False


def _kind_of(message: Message) -> ui.Kind:
    if message.sticker is not None:
        return ui.Kind.STICKER
    if message.voice is not None or message.audio is not None:
        return ui.Kind.VOICE
    if message.contact is not None:
        return ui.Kind.CONTACT
    return ui.Kind.OTHER


def _message(update: Update) -> Message:
    assert update.effective_message is not None
    return update.effective_message


def _user_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def register(application: Application, checkin_code: Callback, checkin_link: Callback) -> None:
    """Last before `handlers/errors.py`: `/cancel` with nothing running, a bare check-in code
    or a pasted check-in link (handled by the `/checkin` and `/start c…` handlers given),
    other text, and every other kind of message, in the private chat."""
    conversations = [
        h for h in application.handlers.get(0, []) if isinstance(h, ConversationHandler)
    ]
    answers = Fallback(conversations, checkin_code, checkin_link)
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    application.add_handler(CommandHandler("cancel", nothing_to_cancel, filters=private))
    application.add_handler(MessageHandler(text & filters.Regex(ui.CODE_TEXT), answers.bare_code))
    application.add_handler(
        MessageHandler(text & filters.Regex(ui.CHECKIN_LINK_TEXT), answers.pasted_link)
    )
    application.add_handler(MessageHandler(text, answers.free_text))
    application.add_handler(
        MessageHandler(
            private & ~filters.COMMAND & ~filters.StatusUpdate.ALL, answers.other_message
        )
    )
