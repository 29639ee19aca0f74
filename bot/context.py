"""The one context every handler receives (PTB's `ContextTypes` with our `CallbackContext`).

`context.services`, `context.lang` and `context.pressed` replace the preamble each handler
would otherwise repeat; `bot.app` passes `CONTEXT_TYPES` to the ApplicationBuilder.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.services import Services, services_of
from storage.errors import DomainError, NotRegistered
from ui.callbacks import Callback, decode
from ui.i18n import SUPPORTED, pick_language, t
from ui.refusals import STALE_BUTTON, refusal

LANGUAGE_KEY = "lang"


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """A `CallbackContext` that knows the update it was built for."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], **kwargs: Any
    ) -> None:
        super().__init__(application, **kwargs)
        self._update: Update | None = None
        self._lang: str | None = None

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
            await update.callback_query.answer()
            await update.effective_message.reply_text(text)
            return
        await self._say(text, alert=alert)

    async def stale_button(self) -> None:
        """A forged, corrupt or outdated button: answered, so the client stops its spinner."""
        await self._say(t(self.lang, STALE_BUTTON), alert=False)

    async def _say(self, text: str, *, alert: bool) -> None:
        update = self._update
        if update is None:
            return
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=alert)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)


CONTEXT_TYPES = ContextTypes(context=Context)
