"""What the durable inbox costs the bot: `inbox_cpu_ms_per_update`, the bot's CPU per update
with the inbox (stored by getUpdates batch before handling, marked done by group commit) minus
without it (handed straight to the application, nothing stored or marked), in one run.

In process, on PostgreSQL when reachable (the production database) else SQLite; the
handlers, the sends (to the in-process emulator) and the database driver run in this process,
the database server does not (its CPU is not the bot's). The two ways alternate, several rounds
each, and the medians are compared, so a machine busy with other work weighs on both alike.
Target: <= 1 ms (issue 24). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update

from bot.ingress import Inbox
from sandbox.emulator import FloodLimits
from storage.clock import FrozenClock
from storage.db import create_engine, session_factory
from tests.databases import (
    fresh_pg_database,
    fresh_sqlite_database,
    migrated,
    pg_unreachable_reason,
)
from tests.harness import BotHarness, make_settings

PEOPLE = 50
PER_ROUND = 200  # updates a round: two getUpdates answers of 100
PER_ROUND_ALONE = 60  # updates a round, one at a time
ROUNDS = 4  # of each way, alternating
BATCH = 100  # getUpdates returns up to 100 updates
TARGET_MS = 1.0


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        if pg_unreachable_reason() is None:
            yield migrated(stack.enter_context(fresh_pg_database())), "postgresql"
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            yield migrated(fresh_sqlite_database(tmp)), "sqlite"


class Counted:
    """The processor's `on_done`: marks done through the inbox or not, and counts."""

    def __init__(self, harness: BotHarness) -> None:
        processor = harness.app.update_processor
        self.marking = processor._on_done  # type: ignore[attr-defined]
        processor._on_done = self.done  # type: ignore[attr-defined]
        self.with_inbox = False
        self.count = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.marked = asyncio.Event()

    async def done(self, update: Update) -> None:
        self.marked.clear()
        if self.with_inbox:
            await self.marking(update)
        self.marked.set()
        # Without the inbox nothing is marked done, and PTB hands what changed to the
        # persistence every `update_interval` seconds (it does in both ways).
        self.count += 1
        if self.count >= self.target:
            self.reached.set()


async def _round(
    harness: BotHarness, counted: Counted, people: list[dict[str, Any]], alone: bool = False
) -> float:
    """CPU seconds of this process to handle `PER_ROUND` /help updates, one way: in
    getUpdates answers of `BATCH`, or `alone`, each stored and handled before the next
    arrives (a quiet bot: every getUpdates answer holds one update, every mark is its own)."""
    if alone:
        return await _alone(harness, counted, people)
    for n in range(PER_ROUND):
        await harness.emulator.send_text(people[n % len(people)]["id"], "/help")
    raw = harness.emulator.pending_updates()
    box = Inbox(harness.app, harness.sessions, harness.clock)
    counted.target = counted.count + len(raw)
    counted.reached.clear()
    started = time.process_time()
    updates = [Update.de_json(data, harness.app.bot) for data in raw]
    if counted.with_inbox:
        for at in range(0, len(updates), BATCH):
            await box.accept(updates[at : at + BATCH])
    else:
        for update in updates:
            await harness.app.update_queue.put(update)
    await counted.reached.wait()
    return time.process_time() - started


async def _alone(harness: BotHarness, counted: Counted, people: list[dict[str, Any]]) -> float:
    box = Inbox(harness.app, harness.sessions, harness.clock)
    spent = 0.0
    for n in range(PER_ROUND_ALONE):
        await harness.emulator.send_text(people[n % len(people)]["id"], "/help")
        (data,) = harness.emulator.pending_updates()
        counted.target = counted.count + 1
        counted.reached.clear()
        started = time.process_time()
        update = Update.de_json(data, harness.app.bot)
        if counted.with_inbox:
            await box.accept([update])
        else:
            await harness.app.update_queue.put(update)
        await counted.reached.wait()
        if counted.with_inbox:  # the mark's own commit, which runs after the handler's end
            await counted.marked.wait()
        spent += time.process_time() - started
    return spent / PER_ROUND_ALONE * PER_ROUND


async def main() -> None:
    with database() as (url, backend):
        engine = create_engine(url)
        harness = BotHarness(
            make_settings(database_url=url),
            session_factory(engine),
            FrozenClock(datetime(2026, 11, 25, tzinfo=UTC)),
            limits=FloodLimits(enabled=False),  # measure the bot, not Telegram's limits
        )
        await harness.start()
        counted = Counted(harness)
        people = [harness.user(f"p{i}", language_code="en") for i in range(PEOPLE)]
        cpu: dict[tuple[bool, bool], list[float]] = {}
        for alone in (False, True):
            for round_ in range(2 * ROUNDS + 1):
                counted.with_inbox = round_ % 2 == 1
                spent = await _round(harness, counted, people, alone)
                if round_:  # the first round warms up (imports, caches, connections)
                    key = (counted.with_inbox, alone)
                    cpu.setdefault(key, []).append(spent / PER_ROUND * 1000)
        await harness.stop()
        await engine.dispose()
    with_ms, without_ms = statistics.median(cpu[True, False]), statistics.median(cpu[False, False])
    alone_with, alone_without = (
        statistics.median(cpu[True, True]),
        statistics.median(cpu[False, True]),
    )
    print(json.dumps({
        "bench": "inbox_overhead", "database": backend, "updates_per_round": PER_ROUND,
        "rounds": ROUNDS, "cpu_ms_per_update_with_inbox": round(with_ms, 3),
        "cpu_ms_per_update_without_inbox": round(without_ms, 3),
        "inbox_cpu_ms_per_update": round(with_ms - without_ms, 3),
        "target_ms": TARGET_MS,
        # Context: updates arriving one at a time (a quiet bot), each stored and marked alone.
        "alone_cpu_ms_per_update_with_inbox": round(alone_with, 3),
        "alone_cpu_ms_per_update_without_inbox": round(alone_without, 3),
        "alone_inbox_cpu_ms_per_update": round(alone_with - alone_without, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
