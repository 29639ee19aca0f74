"""The outbox at Telegram's limits, through the sandbox as a process. Three runs, each on a
fresh database (PostgreSQL when reachable, the production database, else SQLite) and sandbox:

- `ratio`: the daily post to 5,000 groups with the sandbox's overall flood limit at 300
  messages/s; the dispatcher (`scheduler.outbox.dispatch`, as the job calls it) runs as its own
  process, is killed with SIGKILL once mid-run (after 2,000 posts, between any two sends) and
  restarted; its claims are taken over after a 3 s stale-claim delay.
- `cadence_ratio`: 1,200 groups at Telegram's own 30/s, sent by a real `halsaram worker`
  process: the job as scheduled in production (`scheduler/jobs.py`), not a loop of our own.
- `paid_ratio`: 5,000 groups with paid broadcasts allowed at 1,000/s
  (`HALSARAM_OUTBOX_PAID_PER_SECOND`; the sandbox lets 30/s free and 1,000/s paid through), no
  kill; `paid_sends` is how many went with `allow_paid_broadcast` (0.1 Stars each).

Prints one JSON line: per run `duplicates` (posts beyond one per group) and `lost` (groups
without a post); `achieved_per_s` is posts per second while a dispatcher was running (from
its ready to its last send; for the worker, from the first post to the last), and each ratio is
that over the limit (targets: ratio and cadence_ratio >= 0.95, 0 duplicates, 0 lost).
A SIGKILL between Telegram's answer to a send and the commit that records it sends that post
again after the stale delay (at most one per sender, `scheduler/outbox.py`): `duplicates`
of `ratio` counts those, as it counts every post twice.
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
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.app import http_pool_size
from bot.settings import SANDBOX_TOKEN
from bot.transport import BudgetRateLimiter, SendBudget
from scheduler import daily
from scheduler.outbox import dispatch
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
from tests.e2e.processes import bot_env
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
GROUPS = int(os.environ.get("BENCH_GROUPS", 5_000))  # fewer for a quick profile
LIMIT_PER_S = 300.0
KILL_AFTER = 2_000  # posts sent before the SIGKILL
STALE_SECONDS = 3  # the killed worker's claims are taken over after this
CADENCE_GROUPS = 1_200
TELEGRAM_PER_S = 30.0
PAID_PER_S = 1_000.0
SEOUL = ZoneInfo("Asia/Seoul")
REPORT_EVERY = 0.05
POOL = http_pool_size(handle_updates=False, schedule_jobs=True)


# --------------------------------------------------------------------------- the dispatcher


class Counting(HTTPXRequest):
    """The bot's HTTP client, counting the posts Telegram accepted and when the last was."""

    sent = 0
    last = 0.0

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        code, payload = await super().do_request(url, method, *args, **kwargs)
        if code == 200 and url.endswith("/sendMessage"):
            Counting.sent += 1
            Counting.last = time.time()
        return code, payload


async def dispatcher(db_url: str, api_url: str, rate: float, paid: float | None) -> None:
    """The dispatcher process: drains the outbox as the job does (`dispatch`), again while
    rows are left (put back by a 429 or a paced chat), reporting progress on stdout."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    budget = SendBudget(rate, 20, 1.0)
    if paid is not None:
        budget.allow_paid(paid)
    limiter = BudgetRateLimiter(budget)
    bot: ExtBot[None] = ExtBot(
        SANDBOX_TOKEN,
        base_url=f"{api_url}/bot",
        # The pool a `halsaram worker` has (bot.app.http_pool_size); BENCH_POOL sets another.
        request=Counting(connection_pool_size=int(os.environ.get("BENCH_POOL", 0)) or POOL),
        rate_limiter=limiter,  # type: ignore[arg-type]
    )
    await bot.initialize()
    print(json.dumps({"ready": time.time()}), flush=True)

    def report() -> None:
        line = {"t": time.time(), "sent": Counting.sent, "last": Counting.last,
                "429": limiter.throttled, "paid": limiter.paid}  # fmt: skip
        print(json.dumps(line), flush=True)

    async def reporter() -> None:
        while True:
            report()
            await asyncio.sleep(REPORT_EVERY)

    task = asyncio.create_task(reporter())
    while True:
        await dispatch(
            bot, sessions, SystemClock(), SEOUL, "ko", stale=timedelta(seconds=STALE_SECONDS),
            worker=f"bench:{os.getpid()}", paid=paid is not None,
        )  # fmt: skip
        async with sessions() as s:
            left = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
            )
        if not left:
            break
        await asyncio.sleep(0.2)
    task.cancel()
    report()
    await bot.shutdown()
    await engine.dispose()


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def sandbox(per_second: float) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--port", str(port),
         "--overall-per-second", str(per_second), "--paid-per-second", str(PAID_PER_S)],
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


@contextlib.contextmanager
def database() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if pg_unreachable_reason() is None:
            yield migrated(stack.enter_context(fresh_pg_database()))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            yield migrated(fresh_sqlite_database(tmp))


async def make_groups(url: str, count: int) -> list[int]:
    """`count` groups with one admin each, the bot added to every one."""
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api", timeout=30) as http:
        admin = (await http.post("/users", json={"first_name": "Admin"})).json()["result"]["id"]
        gate = asyncio.Semaphore(32)

        async def one(n: int) -> int:
            async with gate:
                body = {"title": f"Group {n}", "member_ids": [admin], "admin_ids": [admin]}
                chat = (await http.post("/groups", json=body)).json()["result"]["id"]
                await http.post(f"/groups/{chat}/bot", json={"user_id": admin})
                return int(chat)

        return list(await asyncio.gather(*(one(n) for n in range(count))))


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

    def __init__(self, db_url: str, api_url: str, *extra: str) -> None:
        self.lines: list[dict[str, float]] = []
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--dispatch", db_url, api_url, *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.lines.append(json.loads(line))

    def last(self, key: str) -> int:
        return int(max([x.get(key, 0) for x in self.lines] or [0]))

    def window(self, end: float | None = None) -> float:
        """Seconds from ready to its last send (or to `end`, the kill)."""
        ready = next(x["ready"] for x in self.lines if "ready" in x)
        last = end if end is not None else max(x.get("last", 0.0) for x in self.lines)
        return last - ready

    def finish(self) -> None:
        self.process.wait(timeout=600)
        self.reader.join(timeout=5)


async def count_posts(url: str, chat_ids: list[int]) -> list[int]:
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api", timeout=30) as http:
        gate = asyncio.Semaphore(32)

        async def one(chat: int) -> int:
            async with gate:
                view = (await http.get(f"/chats/{chat}/transcript")).json()["result"]
                return sum(1 for m in view["messages"] if m.get("from", {}).get("is_bot"))

        return list(await asyncio.gather(*(one(c) for c in chat_ids)))


def outcome(posts: list[int]) -> dict[str, int]:
    return {
        "duplicates": sum(max(0, n - 1) for n in posts),
        "lost": sum(1 for n in posts if n == 0),
    }


def killed_run() -> dict[str, Any]:
    """5,000 groups at 300/s, the dispatcher killed once and restarted."""
    with database() as db_url, sandbox(LIMIT_PER_S) as api_url:
        chat_ids = asyncio.run(make_groups(api_url, GROUPS))
        queue_s = asyncio.run(queue_posts(db_url, chat_ids))
        first = Run(db_url, api_url)
        while first.last("sent") < KILL_AFTER and first.process.poll() is None:
            time.sleep(0.01)
        first.process.send_signal(signal.SIGKILL)
        killed_at = time.time()
        first.finish()
        second = Run(db_url, api_url)
        second.finish()
        posts = asyncio.run(count_posts(api_url, chat_ids))
        if trace := os.environ.get("BENCH_TRACE"):  # each process's progress lines, to plot
            Path(trace).write_text(json.dumps([first.lines, second.lines, killed_at]))
        windows = [first.window(killed_at), second.window()]
        sent = first.last("sent") + second.last("sent")
        achieved = sent / sum(windows)
        return {
            "groups": len(chat_ids),
            "sent": sum(posts),
            **outcome(posts),
            "achieved_per_s": round(achieved, 1),
            "limit_per_s": LIMIT_PER_S,
            "ratio": round(achieved / LIMIT_PER_S, 3),
            "throttled_beyond_first": max(0, first.last("429") + second.last("429") - 1),
            "sent_before_kill": first.last("sent"),
            "dispatcher_windows_s": [round(w, 2) for w in windows],
            "queue_daily_posts_s": round(queue_s, 2),
            "database": db_url.split("+")[0],
        }


async def sent_rows(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            found = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent")
            )
        return int(found or 0)
    finally:
        await engine.dispose()


def cadence_run() -> dict[str, Any]:
    """1,200 groups at 30/s sent by a `halsaram worker` process, its jobs as in production."""
    with (
        database() as db_url,
        sandbox(TELEGRAM_PER_S) as api_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        chat_ids = asyncio.run(make_groups(api_url, CADENCE_GROUPS))
        asyncio.run(queue_posts(db_url, chat_ids))
        env = bot_env(api_url, Path(tmp), HALSARAM_DATABASE_URL=db_url,
                      HALSARAM_METRICS_PORT="0", HALSARAM_LOG_LEVEL="WARNING")  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT, env={**os.environ, **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            first: tuple[float, int] | None = None
            done = 0
            deadline = time.time() + 600
            while time.time() < deadline and worker.poll() is None:
                done = asyncio.run(sent_rows(db_url))
                now = time.time()
                if first is None and done > 0:
                    first = (now, done)
                if done >= len(chat_ids):
                    break
                time.sleep(0.1)
            finished = time.time()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        posts = asyncio.run(count_posts(api_url, chat_ids))
        assert first is not None, "the worker sent nothing"
        achieved = (done - first[1]) / (finished - first[0])
        return {
            "groups": len(chat_ids),
            **outcome(posts),
            "achieved_per_s": round(achieved, 1),
            "limit_per_s": TELEGRAM_PER_S,
            "cadence_ratio": round(achieved / TELEGRAM_PER_S, 3),
        }


def paid_run() -> dict[str, Any]:
    """5,000 groups with paid broadcasts at 1,000/s (30/s of it free), no kill."""
    with database() as db_url, sandbox(TELEGRAM_PER_S) as api_url:
        chat_ids = asyncio.run(make_groups(api_url, GROUPS))
        asyncio.run(queue_posts(db_url, chat_ids))
        run = Run(db_url, api_url, "--paid")
        run.finish()
        posts = asyncio.run(count_posts(api_url, chat_ids))
        achieved = run.last("sent") / run.window()
        return {
            "groups": len(chat_ids),
            **outcome(posts),
            "achieved_per_s": round(achieved, 1),
            "limit_per_s": PAID_PER_S,
            "paid_ratio": round(achieved / PAID_PER_S, 3),
            "paid_sends": run.last("paid"),
            "throttled": run.last("429"),
        }


def main() -> None:
    killed = killed_run()
    cadence = cadence_run()
    paid = paid_run()
    print(
        json.dumps(
            {
                "ratio": killed["ratio"],
                "cadence_ratio": cadence["cadence_ratio"],
                "paid_ratio": paid["paid_ratio"],
                "killed": killed,
                "cadence": cadence,
                "paid": paid,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispatch", nargs=2, metavar=("DB_URL", "API_URL"))
    parser.add_argument("--paid", action="store_true")
    parser.add_argument("--only", choices=["ratio", "cadence", "paid"])
    args = parser.parse_args()
    if args.dispatch:
        db, api = args.dispatch
        rate, paid = (TELEGRAM_PER_S, PAID_PER_S) if args.paid else (LIMIT_PER_S, None)
        if profile := os.environ.get("BENCH_PROFILE"):  # the dispatcher's profile, to read
            import cProfile

            cProfile.run("asyncio.run(dispatcher(db, api, rate, paid))", profile)
        else:
            asyncio.run(dispatcher(db, api, rate, paid))
    elif args.only:
        print(
            json.dumps({"ratio": killed_run, "cadence": cadence_run, "paid": paid_run}[args.only]())
        )
    else:
        main()
