"""What a process remembers about people for a short while, to spare a query on every update."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

from telegram.ext import Application

V = TypeVar("V")


class Recent(Generic[V]):
    """Values per person, each trusted for `ttl` seconds; at most `kept` people, the least
    recently stored forgotten first."""

    def __init__(self, ttl: float, kept: int = 10_000) -> None:
        self.ttl = ttl
        self.kept = kept
        self._values: OrderedDict[int, tuple[float, V]] = OrderedDict()

    def get(self, user_id: int) -> V | None:
        """The value stored less than `ttl` seconds ago, else None."""
        found = self._values.get(user_id)
        if found is None or time.monotonic() - found[0] >= self.ttl:
            return None
        return found[1]

    def put(self, user_id: int, value: V) -> None:
        self._values[user_id] = (time.monotonic(), value)
        self._values.move_to_end(user_id)
        while len(self._values) > self.kept:
            self._values.popitem(last=False)

    def pop(self, user_id: int, default: V | None = None) -> V | None:
        """Forgets the person (the next `get` asks again); returns what was stored."""
        found = self._values.pop(user_id, None)
        return default if found is None else found[1]


def recent(application: Application, key: str, ttl: float) -> Recent[V]:
    """The application's memory under `key` (made on first use)."""
    kept = application.bot_data.setdefault(key, Recent(ttl))
    assert isinstance(kept, Recent)
    return kept
