"""Over real HTTP: people talk to the bot (its own process, long polling, on PostgreSQL when
reachable, else SQLite) through the sandbox, each with a small HTTP client of their own (one
shared client holding hundreds of connections spends most of a core on its own bookkeeping,
so the driver, not the bot, would be measured). Two phases against one bot process:

- open loop: 30 updates/s offered (Telegram's own ceiling on what a bot can answer), 200
  people taking turns, each message sent at its scheduled time whatever came before;
  `p99_ms` from that scheduled time to the answer seen (so a slow bot is not hidden by a
  driver that waits for it);
- closed loop: 200 people at once, each sending their next message once the last was
  answered; `p99_burst_ms`, and `burst_updates_per_s`.

The sandbox's flood limits are off and the bot's own pacing to Telegram's 30 messages/s is
lifted (`HALSARAM_OUTBOX_PER_SECOND`), so the figures are the bot's, not Telegram's; the
bot's pacing of about 1 message/s per chat stays. `bot_cpu_ms_per_update` is the bot
process's own CPU time (user + system, from /proc) over the updates it answered, both phases.
`errors`: messages not answered within 30 s, or a request that failed (must be 0); each is
printed to stderr with its cause.
Targets (issue 24): p99_ms <= 1,000 at 30 updates/s, errors 0, bot_cpu_ms_per_update <= 5.
Context, not targets: the same drive, same sandbox, new people, against a bare
python-telegram-bot bot (`bench/_echo_bot.py`: long polling, one fixed answer, no database):
`echo_bot_cpu_ms_per_update`, and `cpu_over_echo`, the real bot's CPU per update over it.
`BENCH_PROFILE=file` runs the real bot under cProfile. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.databases import fresh_pg_database, migrated, pg_unreachable_reason
from tests.e2e.processes import bot_env, running, wait_for
from tests.servers import free_port

PEOPLE = 200
OFFERED_PER_S = 30.0
OPEN_SECONDS = 20.0
BURST_ROUNDS = 3
ANSWER_WITHIN = 30.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Person:
    """Someone with a chat and a small HTTP client of their own."""

    def __init__(self, base: str, index: int) -> None:
        self.index = index
        self.client = httpx.AsyncClient(
            base_url=f"{base}/sandbox/api",
            timeout=ANSWER_WITHIN + 10,
            # The sandbox's server (uvicorn) closes a connection idle for 5 s, httpx's own
            # default expiry: a turn coming about 5 s after the last one reused a connection
            # the server was closing at that moment (ReadError, the "2 errors" of earlier
            # runs; the bot's log showed nothing). Expiring idle connections sooner on the
            # client side is the usual cure.
            limits=httpx.Limits(
                max_connections=2, max_keepalive_connections=2, keepalive_expiry=2.0
            ),
        )
        self.user_id = 0
        self.version = 0
        self.answers = 0

    async def join(self) -> None:
        body = {"first_name": f"u{self.index}", "language_code": "en"}
        self.user_id = (await self.client.post("/users", json=body)).json()["result"]["id"]

    async def close(self) -> None:
        await self.client.aclose()

    async def say(self, text: str) -> None:
        body = {"user_id": self.user_id, "text": text}
        response = await self.client.post(f"/chats/{self.user_id}/messages", json=body)
        response.raise_for_status()

    async def answered(self, count: int, deadline: float) -> bool:
        """Waits (long polling the transcript) until the bot has sent `count` messages."""
        while self.answers < count:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            params = {"after": self.version, "timeout": min(5.0, max(0.1, left))}
            view = (
                await self.client.get(f"/chats/{self.user_id}/transcript", params=params)
            ).json()["result"]
            self.version = view["version"]
            self.answers = sum(1 for m in view["messages"] if m["from"]["is_bot"])
        return True


async def _turn(person: Person, due: float, latencies: list[float]) -> int:
    """One message sent at `due` (perf_counter), answered or counted as an error."""
    await asyncio.sleep(max(0.0, due - time.perf_counter()))
    expected = person.answers + 1
    try:
        await person.say("/help")
        if await person.answered(expected, due + ANSWER_WITHIN):
            latencies.append(time.perf_counter() - due)
            return 0
        print(f"no answer within {ANSWER_WITHIN:.0f} s (person {person.index})", file=sys.stderr)
    except httpx.HTTPError as exc:
        print(f"request failed (person {person.index}): {exc!r}", file=sys.stderr)
    return 1


async def open_loop(people: list[Person]) -> tuple[list[float], int]:
    """`OFFERED_PER_S` for `OPEN_SECONDS`, people in turn; each person's messages in order."""
    latencies: list[float] = []
    start = time.perf_counter() + 0.5
    total = int(OFFERED_PER_S * OPEN_SECONDS)
    turns: dict[int, list[float]] = {}
    for n in range(total):
        turns.setdefault(n % len(people), []).append(start + n / OFFERED_PER_S)

    async def one(person: Person, dues: list[float]) -> int:
        errors = 0
        for due in dues:
            errors += await _turn(person, due, latencies)
        return errors

    errors = await asyncio.gather(*(one(people[i], dues) for i, dues in turns.items()))
    return latencies, sum(errors)


async def closed_loop(people: list[Person]) -> tuple[list[float], float, int]:
    """Everyone at once, each message once the last was answered."""
    latencies: list[float] = []

    async def one(person: Person) -> int:
        errors = 0
        for _ in range(BURST_ROUNDS):
            errors += await _turn(person, time.perf_counter(), latencies)
        return errors

    started = time.perf_counter()
    errors = await asyncio.gather(*(one(p) for p in people))
    return latencies, time.perf_counter() - started, sum(errors)


def p99_ms(latencies: list[float]) -> float | None:
    if len(latencies) < 2:
        return None
    return round(statistics.quantiles(latencies, n=100)[98] * 1000, 1)


async def drive(base: str, bot_pid: int) -> dict[str, object]:
    people = [Person(base, i) for i in range(PEOPLE)]
    try:
        await asyncio.gather(*(p.join() for p in people))
        cpu_before = cpu_seconds(bot_pid)
        open_latencies, open_errors = await open_loop(people)
        cpu_open = cpu_seconds(bot_pid) - cpu_before
        burst_latencies, burst_seconds, burst_errors = await closed_loop(people)
        cpu_all = cpu_seconds(bot_pid) - cpu_before
    finally:
        await asyncio.gather(*(p.close() for p in people))
    answered = len(open_latencies) + len(burst_latencies)
    return {
        "p99_ms": p99_ms(open_latencies),
        "p50_ms": round(statistics.median(open_latencies) * 1000, 1) if open_latencies else None,
        "offered_per_s": OFFERED_PER_S,
        "open_updates": len(open_latencies),
        "p99_burst_ms": p99_ms(burst_latencies),
        "burst_updates_per_s": round(len(burst_latencies) / burst_seconds, 1),
        "errors": open_errors + burst_errors,
        "bot_cpu_ms_per_update": round(cpu_all / answered * 1000, 2) if answered else None,
        "bot_cpu_ms_per_update_open": (
            round(cpu_open / len(open_latencies) * 1000, 2) if open_latencies else None
        ),
    }


@contextlib.contextmanager
def database(tmp: Path) -> Iterator[tuple[str, str]]:
    if pg_unreachable_reason() is None:
        with fresh_pg_database() as url:
            yield migrated(url), "postgresql"
    else:
        yield f"sqlite+aiosqlite:///{tmp / 'bot.sqlite3'}", "sqlite"


def measure(bot: list[str], env: dict[str, str], base: str, log: Path) -> dict[str, object]:
    """Starts a bot process, drives it, stops it; its figures."""
    metrics = free_port()
    env = {**env, "HALSARAM_METRICS_PORT": str(metrics)}
    with running(bot, env, None, log) as process:
        wait_for(f"http://127.0.0.1:{metrics}/healthz", process, timeout=180)  # a busy machine
        return asyncio.run(drive(base, process.pid))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (db_url, backend):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        sandbox = [sys.executable, "-m", "sandbox.server", "--port", str(port),
                   "--token", SANDBOX_TOKEN, "--no-flood-limits"]  # fmt: skip
        with running(sandbox, {}, f"{base}/healthz", Path(tmp) / "sandbox.log"):
            env = bot_env(
                base, Path(tmp), HALSARAM_DATABASE_URL=db_url, HALSARAM_OUTBOX_PER_SECOND="1000",
                HALSARAM_LOG_LEVEL="WARNING",
            )  # fmt: skip
            bot = [sys.executable, "-m", "bot.cli", "run"]
            if profile := os.environ.get("BENCH_PROFILE"):  # the bot's profile, to read
                bot[1:1] = ["-m", "cProfile", "-o", profile]
            figures = measure(bot, env, base, Path(tmp) / "bot.log")
            # The same drive against a bare PTB bot (bench/_echo_bot.py), new people on the
            # same sandbox: what the stack costs before the bot does anything of its own.
            echo = [sys.executable, str(Path(__file__).with_name("_echo_bot.py"))]
            baseline = measure(echo, env, base, Path(tmp) / "echo.log")
    cpu, echo_cpu = figures["bot_cpu_ms_per_update"], baseline["bot_cpu_ms_per_update"]
    print(json.dumps({
        "bench": "e2e_http", "database": backend, "people": PEOPLE, **figures,
        # Context, not targets: a bare python-telegram-bot bot driven the same way.
        "echo_bot_cpu_ms_per_update": echo_cpu,
        "cpu_over_echo": round(cpu / echo_cpu, 2)
        if isinstance(cpu, float) and isinstance(echo_cpu, float) else None,
        "echo_p99_ms": baseline["p99_ms"], "echo_errors": baseline["errors"],
    }))  # fmt: skip
    if figures["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
