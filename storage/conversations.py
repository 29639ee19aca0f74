"""Where people are in multi-step conversations, and those conversations' scratch values.

Rows are plain JSON; `bot/persistence.py` adapts them to python-telegram-bot's persistence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationState, PersistedData

ConversationKey = tuple[str | int, ...]


def _key_text(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


async def load_conversations(session: AsyncSession, name: str) -> dict[ConversationKey, object]:
    rows = await session.scalars(select(ConversationState).where(ConversationState.name == name))
    return {tuple(json.loads(row.key)): row.state["state"] for row in rows}


async def save_conversation(
    session: AsyncSession, name: str, key: ConversationKey, state: object, now: datetime
) -> None:
    """Stores a state; `None` means the conversation ended and its row goes."""
    text = _key_text(key)
    row = await session.get(ConversationState, (name, text))
    if state is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        session.add(ConversationState(name=name, key=text, state={"state": state}, updated_at=now))
    else:
        row.state = {"state": state}
        row.updated_at = now


async def load_data(session: AsyncSession, kind: str) -> dict[int, dict[str, Any]]:
    rows = await session.scalars(select(PersistedData).where(PersistedData.kind == kind))
    return {int(row.key): dict(row.data) for row in rows}


async def save_data(
    session: AsyncSession, kind: str, key: int, data: Mapping[str, Any], now: datetime
) -> None:
    row = await session.get(PersistedData, (kind, str(key)))
    if row is None:
        session.add(PersistedData(kind=kind, key=str(key), data=dict(data), updated_at=now))
    else:
        row.data = dict(data)
        row.updated_at = now


async def drop_data(session: AsyncSession, kind: str, key: int) -> None:
    await session.execute(
        delete(PersistedData).where(PersistedData.kind == kind, PersistedData.key == str(key))
    )
