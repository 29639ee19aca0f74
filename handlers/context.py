"""What every handler reaches through PTB's context: services and the person's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.settings import Settings
from storage.clock import Clock
from storage.db import SessionFactory
from storage.meetings import Rules
from ui import callbacks
from ui.callbacks import Callback
from ui.i18n import SUPPORTED, pick_language
from verification.checkin import TokenSigner

SERVICES_KEY = "services"


@dataclass(frozen=True)
class Services:
    """Process-wide collaborators, built once by `bot.app` and kept in `bot_data`."""

    settings: Settings
    clock: Clock
    sessions: SessionFactory
    rules: Rules
    signer: TokenSigner

    @classmethod
    def build(cls, settings: Settings, clock: Clock, sessions: SessionFactory) -> Services:
        rules = Rules(
            host_min_trust=settings.host_min_trust,
            host_requires_verified=settings.host_requires_verified,
            join_requires_verified=not settings.unverified_can_join,
            checkin_opens_before=timedelta(minutes=settings.checkin_opens_minutes),
            checkin_closes_after=timedelta(minutes=settings.checkin_closes_minutes),
            host_max_per_day=settings.host_max_per_day,
            join_min_trust=settings.join_min_trust,
        )
        signer = TokenSigner(settings.secret(), settings.checkin_rotation_seconds)
        return cls(settings, clock, sessions, rules, signer)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    found = context.bot_data[SERVICES_KEY]
    assert isinstance(found, Services)
    return found


LANGUAGE_KEY = "lang"


def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language to answer in: the person's choice (/language, kept with their
    conversation data), else the one their Telegram app reports, else the default (Korean)."""
    chosen = context.user_data.get(LANGUAGE_KEY) if context.user_data is not None else None
    if chosen in SUPPORTED:
        return str(chosen)
    user = update.effective_user
    default = services(context).settings.default_language
    return pick_language(user.language_code if user else None, default)


def remember_language(context: ContextTypes.DEFAULT_TYPE, lang: str) -> None:
    if context.user_data is not None:
        context.user_data[LANGUAGE_KEY] = lang


def scratch(context: ContextTypes.DEFAULT_TYPE, key: str) -> dict[str, Any]:
    """A conversation's answers so far, kept in user_data (persisted with the conversation)."""
    assert context.user_data is not None
    data = context.user_data.setdefault(key, {})
    assert isinstance(data, dict)
    return data


def pressed(update: Update) -> Callback:
    """The pressed button's data, parsed by the one codec (raises `InvalidCallback`)."""
    assert update.callback_query is not None
    return callbacks.decode(update.callback_query.data)
