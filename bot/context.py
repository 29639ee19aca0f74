"""The one context every handler receives (PTB's `ContextTypes` with our `CallbackContext`).

`context.services`, `context.lang` and `context.pressed` replace the preamble each handler
would otherwise repeat; `bot.app` passes `CONTEXT_TYPES` to the ApplicationBuilder.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from typing import Any

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.services import Services, services_of
from storage import users
from storage.errors import DomainError, NotRegistered
from ui.callbacks import Callback, decode
from ui.i18n import SUPPORTED, pick_language, t
from ui.refusals import STALE_BUTTON, refusal

LANGUAGE_KEY = "lang"
_ANSWERED_KEY = "answered_queries"
# Queries answered recently, so the error handler (its own context) knows; ids never repeat.
_ANSWERED_KEPT = 4096

log = logging.getLogger(__name__)


def too_late(error: BaseException) -> bool:
    """Telegram refused an answer to a button press because the press is gone.

    answerCallbackQuery answers 400 "Bad Request: query is too old and response timeout expired
    or query ID is invalid" when the answer comes after the client stopped waiting (about 15 s;
    presses made while the bot was down wait in Telegram's queue for up to 24 h) or when the
    query was answered already (https://core.telegram.org/bots/api#answercallbackquery, and
    python-telegram-bot issue #2404 for the text). Nothing the person asked for failed.
    """
    if not isinstance(error, BadRequest):
        return False
    text = error.message.lower()
    return "query is too old" in text or "query id is invalid" in text


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """A `CallbackContext` that knows the update it was built for."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], **kwargs: Any
    ) -> None:
        super().__init__(application, **kwargs)
        self._update: Update | None = None
        self._lang: str | None = None
        self._flags: users.Flags | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> Context:
        # PTB builds the error handler's context through here too (`from_error`).
        context = super().from_update(update, application)
        context._update = update if isinstance(update, Update) else None
        return context

    @property
    def services(self) -> Services:
        return services_of(self.bot_data)

    @property
    def lang(self) -> str:
        """The language to answer in: the person's choice (/language, kept with their data),
        else the one their Telegram app reports, else the default (Korean)."""
        if self._lang is None:
            chosen = self.user_data.get(LANGUAGE_KEY) if self.user_data is not None else None
            if chosen in SUPPORTED:
                self._lang = str(chosen)
            else:
                user = self._update.effective_user if self._update else None
                default = self.services.settings.default_language
                self._lang = pick_language(user.language_code if user else None, default)
        return self._lang

    async def flags(self) -> users.Flags:
        """The sender's flags (banned, marked as having blocked the bot, admin), read once per
        update: PTB builds one context per update and hands it to every handler group, so the
        gates in front of the features (handlers/banned.py, handlers/blocking.py) and /help
        share one query. All False for an update without a sender."""
        if self._flags is None:
            person = self._update.effective_user if self._update is not None else None
            if person is None:
                self._flags = users.Flags()
            else:
                async with self.services.sessions() as session:
                    self._flags = await users.flags(session, person.id)
        return self._flags

    def remember_language(self, lang: str) -> None:
        if self.user_data is not None:
            self.user_data[LANGUAGE_KEY] = lang
        self._lang = lang

    @property
    def pressed(self) -> Callback:
        """The pressed button's data, parsed by the one codec (raises `InvalidCallback`)."""
        assert self._update is not None and self._update.callback_query is not None
        return decode(self._update.callback_query.data)

    def scratch(self, key: str) -> dict[str, Any]:
        """A conversation's answers so far, kept in user_data (persisted with the conversation)."""
        assert self.user_data is not None
        data = self.user_data.setdefault(key, {})
        assert isinstance(data, dict)
        return data

    @property
    def answered(self) -> bool:
        """Whether this update's button press was answered (or its answer refused as late)."""
        query = self._update.callback_query if self._update is not None else None
        return query is not None and query.id in self._answered_queries()

    def _answered_queries(self) -> OrderedDict[str, None]:
        kept = self.application.bot_data.setdefault(_ANSWERED_KEY, OrderedDict())
        assert isinstance(kept, OrderedDict)
        return kept

    async def answer(
        self,
        text: str | None = None,
        *,
        alert: bool = False,
        or_message: bool = False,
        url: str | None = None,
    ) -> None:
        """Answers the pressed button, once, and never fails the work around it.

        Call it first, before database work, so the answer reaches Telegram while the client
        still waits. A second call, an answer Telegram refuses as too late (`too_late`) or one
        lost on the network shows nothing; with `or_message` its text goes to the chat as a
        message instead, for text the person must see (a refusal), so nothing is lost. Without
        a press (a command), `or_message` text is a reply. `url` opens the bot's private
        chat (a `t.me/<bot>?start=...` link, the one kind of URL Telegram lets a bot's answer
        open: https://core.telegram.org/bots/api#answercallbackquery).
        """
        update = self._update
        query = update.callback_query if update is not None else None
        if update is not None and query is not None and query.id not in self._answered_queries():
            kept = self._answered_queries()
            kept[query.id] = None
            while len(kept) > _ANSWERED_KEPT:
                kept.popitem(last=False)
            try:
                await query.answer(text, show_alert=alert, url=url)
                return
            except BadRequest as error:
                if not too_late(error):
                    raise
                log.info("update %s: the press was answered too late", update.update_id)
            except NetworkError as error:
                # The answer is a courtesy: a timeout or a dropped connection must not stop
                # the work it precedes. It may have arrived; a second try would be refused.
                log.warning(
                    "update %s: the press's answer failed: %s", update.update_id,
                    type(error).__name__,
                )  # fmt: skip
        if text and or_message and update is not None:
            await self._message(text)

    async def close_buttons(self) -> None:
        """Answers the press (unless answered already) and removes the pressed message's
        keyboard, so an old button cannot be pressed again (a double tap then finds nothing
        to press). Without a press, nothing."""
        query = self._update.callback_query if self._update is not None else None
        if query is None:
            return
        await self.answer()
        # Already removed (a double tap) or too old to edit: nothing to do.
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(None)

    async def _message(self, text: str) -> None:
        update = self._update
        assert update is not None
        chat = update.effective_chat
        if update.callback_query is None and update.effective_message is not None:
            await update.effective_message.reply_text(text)
        elif chat is not None:
            await self.bot.send_message(chat.id, text)

    async def refuse(self, error: DomainError, *, alert: bool = True) -> None:
        """Tells the person why a storage operation refused them, in their language: a press
        gets the query's answer (an alert unless `alert=False`), a message gets a reply.

        Telegram accepts one answer per query, so a handler that refuses has not answered yet.
        """
        text = refusal(self.lang, error, self.services.settings.zone)
        update = self._update
        if (
            isinstance(error, NotRegistered)
            and update is not None
            and update.callback_query is not None
            and update.effective_message is not None
        ):
            # The invitation to sign up is a message even after a press: it names /start,
            # which the person can tap there (an alert's text cannot be tapped).
            await self.answer()
            await update.effective_message.reply_text(text)
            return
        await self.answer(text, alert=alert, or_message=True)

    async def stale_button(self) -> None:
        """A forged, corrupt or outdated button: answered, so the client stops its spinner."""
        pressed = self._update is not None and self._update.callback_query is not None
        # A press gets a toast (or nothing, when already answered); a deep link a reply.
        await self.answer(t(self.lang, STALE_BUTTON), or_message=not pressed)


CONTEXT_TYPES = ContextTypes(context=Context)
