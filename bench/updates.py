"""How many updates per second the bot handles in process (/start: greeting and signup terms).

Telegram's outbound limit is 30 messages/s, so the consumer needs to stay well above that;
`ratio` is the measured rate over a target of 1,000 updates/s (over 1 means headroom).
Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.emulator import FloodLimits
from storage import migrate
from storage.clock import FrozenClock
from storage.db import create_engine, session_factory
from tests.harness import BotHarness, make_settings

TARGET_PER_S = 1000.0
UPDATES = 2000


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(url)
        engine = create_engine(url)
        harness = BotHarness(
            make_settings(database_url=url),
            session_factory(engine),
            FrozenClock(datetime(2026, 11, 25, tzinfo=UTC)),
            limits=FloodLimits(enabled=False),  # measure the bot, not Telegram's limits
        )
        await harness.start()
        people = [harness.user(f"p{i}") for i in range(50)]
        for i in range(UPDATES):
            await harness.emulator.send_text(people[i % len(people)]["id"], "/start")
        started = time.perf_counter()
        handled = await harness.deliver()
        elapsed = time.perf_counter() - started
        replies = sum(len(harness.bot_messages(p["id"])) for p in people)
        await harness.stop()
        await engine.dispose()
    # Someone new gets two messages per /start: the greeting and the terms to agree to.
    if replies != 2 * handled:
        raise SystemExit(f"{replies} messages for {handled} updates; expected two each")
    rate = handled / elapsed
    print(json.dumps({
        "bench": "updates_in_process", "updates": handled, "seconds": round(elapsed, 3),
        "per_second": round(rate, 1), "target_per_second": TARGET_PER_S,
        "ratio": round(rate / TARGET_PER_S, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
