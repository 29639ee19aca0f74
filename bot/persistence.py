"""python-telegram-bot persistence backed by the database (JSON rows, not pickle).

PTB reads conversation states once at start-up and writes changes every `update_interval`
seconds and at shutdown, so one consumer owns each person's conversation. What is lost in a
crash is at most a few seconds of conversation position: every durable fact (a join, a
check-in, points) is committed by a storage operation the moment it happens.
Only user_data (a conversation's scratch values, JSON-able) and conversations are kept.
"""

from __future__ import annotations

import copy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage import conversations as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction

USER = "user"
FLUSH_SECONDS = 2.0


class DatabasePersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    def __init__(
        self, sessions: SessionFactory, clock: Clock, update_interval: float = FLUSH_SECONDS
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._sessions = sessions
        self._clock = clock
        # What each person's row holds, as this process last read or wrote it. PTB hands over
        # everyone who sent an update since the last flush, changed or not; an unchanged one
        # is not written again. A person without a row has {} (PTB's default). This process
        # is the only writer of these rows (one consumer owns each person, DESIGN.md).
        self._stored: dict[int, dict[str, Any]] = {}

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        async with self._sessions() as session:
            loaded = await rows.load_data(session, USER)
        self._stored = copy.deepcopy(loaded)
        return loaded

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        return {}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self._sessions() as session:
            return await rows.load_conversations(session, name)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        async with transaction(self._sessions) as session:
            await rows.save_conversation(session, name, key, new_state, self._clock.now())

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        if self._stored.get(user_id, {}) == data:
            return
        async with transaction(self._sessions) as session:
            await rows.save_data(session, USER, user_id, data, self._clock.now())
        # PTB passes a deep copy made for this call, so keeping it is safe.
        self._stored[user_id] = data

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        async with transaction(self._sessions) as session:
            await rows.drop_data(session, USER, user_id)
        self._stored.pop(user_id, None)

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None
