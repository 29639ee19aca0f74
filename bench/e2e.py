"""Over real HTTP: 200 people at once talk to the bot (its own process, long polling)
through the sandbox, with the sandbox's flood limits off and the bot's own pacing to
Telegram's 30 messages/s lifted, so the figure is the bot's, not Telegram's.

Prints one JSON line: `updates_per_s`, `p99_ms` from sending a message to seeing the answer,
and `errors` (must be 0)."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import bot_env, running
from tests.servers import free_port

PEOPLE, ROUNDS = 200, 3


async def _person(client: httpx.AsyncClient, index: int, latencies: list[float]) -> int:
    errors = 0
    user = await client.post("/users", json={"first_name": f"u{index}", "language_code": "en"})
    user_id = user.json()["result"]["id"]
    for _ in range(ROUNDS):
        view = (await client.get(f"/chats/{user_id}/transcript")).json()["result"]
        seen = sum(1 for m in view["messages"] if m["from"]["is_bot"])
        started = time.perf_counter()
        await client.post(f"/chats/{user_id}/messages", json={"user_id": user_id, "text": "/help"})
        deadline = started + 30
        while time.perf_counter() < deadline:
            view = (
                await client.get(
                    f"/chats/{user_id}/transcript",
                    params={"after": view["version"], "timeout": 5},
                )
            ).json()["result"]
            if sum(1 for m in view["messages"] if m["from"]["is_bot"]) > seen:
                latencies.append(time.perf_counter() - started)
                break
        else:
            errors += 1
    return errors


async def _drive(base: str) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=PEOPLE + 10)
    async with httpx.AsyncClient(base_url=f"{base}/sandbox/api", timeout=40, limits=limits) as c:
        started = time.perf_counter()
        errors = await asyncio.gather(*(_person(c, i, latencies) for i in range(PEOPLE)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed, sum(errors)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        sandbox = [sys.executable, "-m", "sandbox.server", "--port", str(port),
                   "--token", SANDBOX_TOKEN, "--no-flood-limits"]  # fmt: skip
        with running(sandbox, {}, f"{base}/healthz", Path(tmp) / "sandbox.log"):
            # The bot paces itself to Telegram's 30 messages/s; lifted here to measure the bot.
            env = bot_env(base, Path(tmp), HALSARAM_OUTBOX_PER_SECOND="1000")
            with running(
                [sys.executable, "-m", "bot.cli", "run"], env, None, Path(tmp) / "bot.log"
            ):
                time.sleep(3)  # the bot migrates its database and starts polling
                latencies, elapsed, errors = asyncio.run(_drive(base))
    handled = len(latencies)
    print(json.dumps({
        "bench": "e2e_http", "people": PEOPLE, "updates": handled,
        "updates_per_s": round(handled / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1),
        "errors": errors,
    }))  # fmt: skip
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
