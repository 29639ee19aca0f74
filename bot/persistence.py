"""python-telegram-bot persistence backed by the database (JSON rows, not pickle).

PTB reads conversation states once at start-up and hands over what changed every
`update_interval` seconds, at shutdown, and (here) when an update is marked done. A person's
conversation position and scratch values are written in the same transaction that marks
their update done in the inbox (`save`), so a kill -9 can never leave an update marked done
with the step it made unwritten (it would be lost) nor the step written with the update still
pending (it would be replayed against the next step). Changes of a person with no update in
hand (a conversation timeout, a job) are written a moment later on their own.
Only user_data (a conversation's scratch values, JSON-able) and conversations are kept.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage import conversations as rows
from storage.clock import Clock
from storage.db import SessionFactory, transaction

log = logging.getLogger(__name__)

USER = "user"
FLUSH_SECONDS = 2.0

# A row waiting to be written: ("conversation", name, key) or ("user", user_id).
Row = tuple[Any, ...]
Written = dict[int, dict[Row, object]]


def _owner(key: ConversationKey) -> int:
    """The person a conversation belongs to: PTB's key is (chat id, user id) for per-chat,
    per-user conversations (ours), the user id last."""
    return int(key[-1])


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
        # Handed over by PTB, not written yet, by person.
        self._pending: dict[int, dict[Row, object]] = {}
        # Whether a person has an update in hand (bot.ingress.PerUserProcessor.busy): their
        # rows wait for `save` in the transaction that marks it done.
        self.busy: Callable[[int], bool] = lambda owner: False
        self._writer: asyncio.Task[None] | None = None

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
        self._hold(_owner(key), ("conversation", name, key), new_state)

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        row: Row = ("user", user_id)
        if row not in self._pending.get(user_id, {}) and self._stored.get(user_id, {}) == data:
            return
        # PTB passes a deep copy made for this call, so keeping it is safe.
        self._hold(user_id, row, data)

    def _hold(self, owner: int, row: Row, value: object) -> None:
        self._pending.setdefault(owner, {})[row] = value
        if not self.busy(owner) and (self._writer is None or self._writer.done()):
            self._writer = asyncio.get_running_loop().create_task(self._write_idle())

    async def save(self, session: AsyncSession, owner: int) -> Written:
        """Writes `owner`'s pending rows into `session` (the caller commits); pass what it
        returns to `saved` once committed."""
        return await self._write(session, [owner])

    def saved(self, written: Written) -> None:
        """Forgets rows once their transaction committed (unless changed again since)."""
        for owner, done in written.items():
            pending = self._pending.get(owner, {})
            for row, value in done.items():
                if row[0] == "user":
                    self._stored[owner] = value  # type: ignore[assignment]
                if row in pending and pending[row] is value:
                    del pending[row]
            if not pending:
                self._pending.pop(owner, None)

    async def _write(self, session: AsyncSession, owners: Iterable[int]) -> Written:
        written: Written = {}
        now = self._clock.now()
        for owner in owners:
            pending = dict(self._pending.get(owner, {}))
            for row, value in pending.items():
                if row[0] == "user":
                    await rows.save_data(session, USER, owner, value, now)  # type: ignore[arg-type]
                else:
                    await rows.save_conversation(session, row[1], row[2], value, now)
            if pending:
                written[owner] = pending
        return written

    async def _write_idle(self) -> None:
        """Writes the rows of people with no update in hand (a timeout, a job's change)."""
        await asyncio.sleep(0)  # PTB hands over the rest of this round first
        owners = [owner for owner in self._pending if not self.busy(owner)]
        if not owners:
            return
        try:
            async with transaction(self._sessions) as session:
                written = await self._write(session, owners)
        except Exception as exc:  # kept pending: written with the next change or at stop
            log.warning("conversation positions not written yet (%s)", type(exc).__name__)
            return
        self.saved(written)

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        self._pending.get(user_id, {}).pop(("user", user_id), None)
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
        """Writes everything still pending (PTB calls it when the application stops)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if not self._pending:
            return
        async with transaction(self._sessions) as session:
            written = await self._write(session, list(self._pending))
        self.saved(written)
