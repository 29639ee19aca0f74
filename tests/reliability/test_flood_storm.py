"""A 429 storm: Telegram allows far fewer messages than the bot's budget expects, and a crowd
writes at once. Every reply still arrives exactly once, and the bot backs off instead of
hammering (the sandbox counts every answer it gave, 429s included)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, bot_env, running
from tests.servers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def strict_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A sandbox whose overall limit is a fraction of Telegram's 30 messages a second."""
    per_second = str(getattr(request, "param", 4))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "sandbox.server", "--port", str(port),
            "--token", SANDBOX_TOKEN, "--overall-per-second", per_second]  # fmt: skip
    with running(args, {}, f"{url}/healthz", tmp_path / "sandbox.log"):
        yield url


def _answered(people: People, method: str) -> dict[int, int]:
    return {
        row["status"]: row["count"] for row in people.info()["answered"] if row["method"] == method
    }


def _storm(url: str, tmp_path: Path, crowd_size: int) -> tuple[People, dict[int, int]]:
    people = People(url)
    crowd = [people.create(f"p{i}", "en") for i in range(crowd_size)]
    env = bot_env(url, tmp_path)
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people.say(crowd[0], "/help")
        people.wait_for_bot(crowd[0]["id"], timeout=30)
        # Everyone at once, as after a post in a busy group chat.
        threads = [threading.Thread(target=people.say, args=(p, "/help")) for p in crowd]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for person in crowd:
            expected = 2 if person is crowd[0] else 1
            replies = people.wait_for_bot(person["id"], expected, timeout=90)
            assert len(replies) == expected  # none lost, none twice
            assert all(r["text"].startswith("Here is what I can do") for r in replies)
    return people, _answered(people, "sendMessage")


def test_a_429_storm_delays_replies_but_loses_none(strict_sandbox: str, tmp_path: Path) -> None:
    crowd = 30
    _, answered = _storm(strict_sandbox, tmp_path, crowd)
    assert answered[200] == crowd + 1
    assert answered.get(429, 0) > 0  # it was a storm
    # Backing off: on average at most one refused attempt per message, not a retry loop.
    assert answered[429] <= crowd + 1


@pytest.mark.reliability
@pytest.mark.parametrize("strict_sandbox", [10], indirect=True)
def test_a_long_429_storm_with_a_big_crowd(strict_sandbox: str, tmp_path: Path) -> None:
    crowd = 200
    _, answered = _storm(strict_sandbox, tmp_path, crowd)
    assert answered[200] == crowd + 1
    assert 0 < answered.get(429, 0) <= crowd + 1
