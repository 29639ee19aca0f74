"""The daily post to 5,000 groups through the outbox dispatcher, against the sandbox as a
process with its overall flood limit at 300 messages/s; the dispatcher runs as its own process,
is killed with SIGKILL once mid-run and restarted.

Prints one JSON line: `groups`, `sent` (posts in the sandbox), `duplicates` (posts beyond one
per group), `lost` (groups without a post), `achieved_per_s` (posts per second while a
dispatcher was running), `limit_per_s`, `ratio` (target >= 0.9), `throttled_beyond_first`
(429 responses after the first one), and how long queueing the posts took. PostgreSQL when
reachable (the production database), else SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.settings import SANDBOX_TOKEN
from bot.transport import BudgetRateLimiter, SendBudget
from scheduler import daily
from scheduler.outbox import dispatch_once
from storage.clock import FrozenClock, SystemClock
from storage.db import create_engine, session_factory, transaction
from storage.models import GroupChat, OutboxMessage, Region
from storage.seed import seed_all
from tests.databases import (
    fresh_pg_database,
    fresh_sqlite_database,
    migrated,
    pg_unreachable_reason,
)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
GROUPS = 5_000
LIMIT_PER_S = 300.0
KILL_AFTER = 2_000  # posts sent before the SIGKILL
STALE_SECONDS = 3  # the killed worker's claims are taken over after this
SEOUL = ZoneInfo("Asia/Seoul")


# --------------------------------------------------------------------------- the dispatcher


async def dispatch(db_url: str, api_url: str, rate: float) -> None:
    """The dispatcher process: sends until the outbox is empty, one line per batch."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    limiter = BudgetRateLimiter(SendBudget(rate, 20, 1.0))
    bot: ExtBot[None] = ExtBot(
        SANDBOX_TOKEN,
        base_url=f"{api_url}/bot",
        request=HTTPXRequest(connection_pool_size=64),
        rate_limiter=limiter,  # type: ignore[arg-type]
    )
    await bot.initialize()
    print(json.dumps({"ready": time.time()}), flush=True)
    worker = f"bench:{os.getpid()}"
    while True:
        sent = await dispatch_once(
            bot, sessions, SystemClock(), SEOUL, "ko",
            batch=int(rate), stale=timedelta(seconds=STALE_SECONDS), worker=worker,
        )  # fmt: skip
        print(json.dumps({"t": time.time(), "sent": sent, "429": limiter.throttled}), flush=True)
        if sent:
            continue
        async with sessions() as s:
            left = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
            )
        if not left:
            break
        await asyncio.sleep(0.2)
    await bot.shutdown()
    await engine.dispose()


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def sandbox(port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--port", str(port),
         "--overall-per-second", str(LIMIT_PER_S)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def make_groups(url: str) -> list[int]:
    """5,000 groups with one admin each, the bot added to every one."""
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api", timeout=30) as http:
        admin = (await http.post("/users", json={"first_name": "Admin"})).json()["result"]["id"]
        gate = asyncio.Semaphore(32)

        async def one(n: int) -> int:
            async with gate:
                body = {"title": f"Group {n}", "member_ids": [admin], "admin_ids": [admin]}
                chat = (await http.post("/groups", json=body)).json()["result"]["id"]
                await http.post(f"/groups/{chat}/bot", json={"user_id": admin})
                return int(chat)

        return list(await asyncio.gather(*(one(n) for n in range(GROUPS))))


async def queue_posts(db_url: str, chat_ids: list[int]) -> float:
    """The groups bound to 잠실동, and the daily job run once; returns its seconds."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    clock = FrozenClock(now)
    async with transaction(sessions) as s:
        await seed_all(s, clock)
    async with transaction(sessions) as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        s.add_all(
            GroupChat(chat_id=c, title="", region_id=region.id, post_time=clock_time(0, 0),
                      language="ko", present=True, created_at=now - timedelta(days=1))
            for c in chat_ids
        )  # fmt: skip
    started = time.perf_counter()
    queued = await daily.post_due(
        sessions, clock, SEOUL, grace=timedelta(days=1), count=1,
        weather=daily.fixed_weather(None), worker="bench",
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert queued == len(chat_ids), queued
    return elapsed


class Run:
    """One dispatcher process and what it printed."""

    def __init__(self, db_url: str, api_url: str) -> None:
        self.lines: list[dict[str, float]] = []
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--dispatch", db_url, api_url],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(line))

    @property
    def sent(self) -> int:
        return int(sum(x.get("sent", 0) for x in self.lines))

    @property
    def throttled(self) -> int:
        return int(max([x.get("429", 0) for x in self.lines] or [0]))

    def window(self, end: float | None = None) -> float:
        """Seconds from ready to its last batch (or to `end`, the kill)."""
        ready = next(x["ready"] for x in self.lines if "ready" in x)
        last = end if end is not None else max(x["t"] for x in self.lines if "t" in x)
        return last - ready


async def count_posts(url: str, chat_ids: list[int]) -> list[int]:
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api", timeout=30) as http:
        gate = asyncio.Semaphore(32)

        async def one(chat: int) -> int:
            async with gate:
                view = (await http.get(f"/chats/{chat}/transcript")).json()["result"]
                return sum(1 for m in view["messages"] if m.get("from", {}).get("is_bot"))

        return list(await asyncio.gather(*(one(c) for c in chat_ids)))


def main() -> None:
    with contextlib.ExitStack() as stack:
        if pg_unreachable_reason() is None:
            db_url = migrated(stack.enter_context(fresh_pg_database()))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            db_url = migrated(fresh_sqlite_database(tmp))
        api_url = stack.enter_context(sandbox(free_port()))
        chat_ids = asyncio.run(make_groups(api_url))
        queue_s = asyncio.run(queue_posts(db_url, chat_ids))

        first = Run(db_url, api_url)
        while first.sent < KILL_AFTER and first.process.poll() is None:
            time.sleep(0.01)
        first.process.send_signal(signal.SIGKILL)
        killed_at = time.time()
        first.process.wait()
        first.reader.join(timeout=5)
        second = Run(db_url, api_url)
        second.process.wait(timeout=300)
        second.reader.join(timeout=5)

        posts = asyncio.run(count_posts(api_url, chat_ids))
        sent = sum(posts)
        windows = [first.window(killed_at), second.window()]
        window = sum(windows)
        achieved = (first.sent + second.sent) / window if window > 0 else 0.0
        throttled = first.throttled + second.throttled
        print(
            json.dumps(
                {
                    "groups": len(chat_ids),
                    "sent": sent,
                    "duplicates": sum(max(0, n - 1) for n in posts),
                    "lost": sum(1 for n in posts if n == 0),
                    "achieved_per_s": round(achieved, 1),
                    "limit_per_s": LIMIT_PER_S,
                    "ratio": round(achieved / LIMIT_PER_S, 3),
                    "throttled_beyond_first": max(0, throttled - 1),
                    "sent_before_kill": first.sent,
                    "dispatcher_windows_s": [round(w, 2) for w in windows],
                    "queue_daily_posts_s": round(queue_s, 2),
                    "database": db_url.split("+")[0],
                }
            )
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispatch", nargs=2, metavar=("DB_URL", "API_URL"))
    args = parser.parse_args()
    if args.dispatch:
        asyncio.run(dispatch(args.dispatch[0], args.dispatch[1], LIMIT_PER_S))
    else:
        main()
