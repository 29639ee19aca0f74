"""The real Application in process on PostgreSQL, 1,000 people doing the mixed flow
(/missions, paging, a mission's card, join, leave, /points), against a bare
python-telegram-bot echo bot through the same transport.

Prints one JSON line: `updates_per_s`, `baseline_updates_per_s`, `ratio` (target ≥ 0.2) and
`p99_ms` per update (target < 25 ms).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot import callbacks
from bot.callbacks import Action
from bot.settings import SANDBOX_TOKEN
from sandbox.emulator import Emulator, FloodLimits
from storage import meetings
from storage.clock import FrozenClock
from storage.db import create_engine, session_factory, transaction
from storage.models import Mission, Region, User
from storage.seed import seed_all
from tests.conftest import make_settings
from tests.databases import fresh_pg_database, migrated
from tests.harness import BotHarness, RecordingRequest

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000"))
HOSTS = 40


async def _timed(app: Application, emulator: Emulator) -> list[float]:
    """Handles every pending update in order; returns each one's seconds."""
    took: list[float] = []
    while pending := emulator.pending_updates():
        for data in pending:
            update = Update.de_json(data, app.bot)
            started = time.perf_counter()
            await app.process_update(update)
            took.append(time.perf_counter() - started)
    return took


async def _scenario(url: str) -> tuple[list[float], float]:
    clock = FrozenClock(datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
    engine = create_engine(url, pool_size=10)
    sessions = session_factory(engine)
    harness = BotHarness(make_settings(database_url=url), sessions, clock,
                         limits=FloodLimits(enabled=False))  # fmt: skip
    await harness.start()
    now = clock.now()
    async with transaction(sessions) as s:
        await seed_all(s, clock)
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        mission = await s.scalar(select(Mission).where(Mission.key == "seokchon-lake-loop"))
        assert region is not None and mission is not None
        people = [harness.user(f"p{i}") for i in range(PEOPLE)]
        s.add_all(
            User(id=p["id"], display_name=p["first_name"], registered_at=now, created_at=now,
                 region_id=region.id, region_verified_at=now, interests=["walking"],
                 preferred_times=["evening"])
            for p in people
        )  # fmt: skip
    meeting_ids = []
    for n in range(HOSTS):
        async with transaction(sessions) as s:
            meeting = await meetings.create(
                s, host_id=people[n]["id"], mission_id=mission.id,
                starts_at=now + timedelta(hours=3, minutes=n), capacity=10, note=None,
                place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
                rules=meetings.Rules(host_max_per_day=99), now=now,
            )  # fmt: skip
            meeting_ids.append(meeting.id)
    emulator = harness.emulator
    for person in people:  # everyone opens the chat first (not measured)
        await emulator.send_text(person["id"], "/help")
    await _timed(harness.app, emulator)

    async def press(person: dict[str, Any], data: str) -> None:
        pid = int(person["id"])
        last = harness.bot_messages(pid)[-1]
        await emulator.press_button(pid, pid, last["message_id"], data, force=True)

    took: list[float] = []
    started = time.perf_counter()
    for i, person in enumerate(people[HOSTS:]):
        meeting_id = meeting_ids[i % HOSTS]
        pid = int(person["id"])
        await emulator.send_text(pid, "/missions")
        took += await _timed(harness.app, emulator)
        await press(person, callbacks.encode(Action.MISSION_LIST, "all", 1))
        await press(person, callbacks.encode(Action.MISSION_SHOW, mission.id))
        await press(person, callbacks.encode(Action.MEETUP_JOIN, meeting_id))
        await press(person, callbacks.encode(Action.MEETUP_LEAVE, meeting_id))
        await emulator.send_text(pid, "/points")
        took += await _timed(harness.app, emulator)
    elapsed = time.perf_counter() - started
    await harness.stop()
    await engine.dispose()
    return took, elapsed


async def _baseline(updates: int) -> float:
    """A bare PTB bot (echo and answer) through the same recording transport and emulator."""
    emulator = Emulator(SANDBOX_TOKEN, limits=FloodLimits(enabled=False))
    app = (
        Application.builder().token(SANDBOX_TOKEN).request(RecordingRequest(emulator))
        .updater(None).build()
    )  # fmt: skip

    async def echo(update: Update, _context: object) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    async def answer(update: Update, _context: object) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(answer))
    await app.initialize()
    users = [emulator.add_user(f"b{i}") for i in range(100)]
    for user in users:
        await emulator.send_text(user["id"], "hi")
    await _timed(app, emulator)
    started = time.perf_counter()
    for n in range(updates):
        user = users[n % len(users)]
        if n % 3:
            last = [m for m in emulator.transcript(user["id"]) if m["from"]["is_bot"]][-1]
            await emulator.press_button(user["id"], user["id"], last["message_id"], "x", force=True)
        else:
            await emulator.send_text(user["id"], "hello")
        await _timed(app, emulator)
    elapsed = time.perf_counter() - started
    await app.shutdown()
    return updates / elapsed


def main() -> None:
    with fresh_pg_database() as url:
        took, elapsed = asyncio.run(_scenario(migrated(url)))
    rate = len(took) / elapsed
    baseline = asyncio.run(_baseline(3000))
    p99 = statistics.quantiles(took, n=100)[98] * 1000
    print(json.dumps({
        "bench": "handlers_postgresql", "people": PEOPLE, "updates": len(took),
        "updates_per_s": round(rate, 1), "baseline_updates_per_s": round(baseline, 1),
        "ratio": round(rate / baseline, 3), "ratio_target": 0.2,
        "p50_ms": round(statistics.median(took) * 1000, 2), "p99_ms": round(p99, 2),
        "p99_target_ms": 25,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
