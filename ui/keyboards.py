"""The one keyboard builder: inline keyboards from (label, callback data) rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

Button = tuple[str, str]


def inline(rows: Iterable[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def grid(buttons: Sequence[Button], columns: int = 2) -> list[list[Button]]:
    """Lays buttons out in rows of `columns`."""
    return [list(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def request_contact(label: str) -> ReplyKeyboardMarkup:
    """A reply keyboard whose button shares the person's own number (Telegram asks first)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def request_location(label: str) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
