"""Concurrent webhook delivery over HTTP (issue 19): the bot as its own process in webhook mode,
the sandbox posting up to `max_connections` updates at once as Telegram does (a chat's updates
one at a time and in order, different chats and a person's presses concurrently).

Several people type and press at once; each sends a sequence whose order matters (/start opens
the signup, /cancel closes it, then /help and /language). Every reply arrives once, in order.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.e2e.processes import People, bot_env, running, wait_for
from tests.servers import free_port

BOT = [sys.executable, "-m", "bot.cli", "run"]
PEOPLE = 8
SEQUENCE = ("/start", "/cancel", "/help", "/language")
# What the bot answers, in English, in that order (/start: a greeting, then the terms).
ANSWERS = (
    lambda name: f"Hi {name}!",
    lambda _name: "Before we start:",
    lambda _name: "Signup cancelled and nothing was stored.",
    lambda _name: "/help — What I can do",
    lambda _name: "Choose your language",
)


def _bot_texts(people: People, person: dict[str, Any]) -> list[str]:
    messages = people.view(person["id"])["messages"]
    return [m.get("text", "") for m in messages if m.get("from", {}).get("is_bot")]


def _wait_for_count(people: People, person: dict[str, Any], count: int) -> list[str]:
    deadline = time.monotonic() + 40
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = _bot_texts(people, person)
        if len(texts) >= count:
            time.sleep(0.5)  # anything extra (a duplicate) would show by now
            return _bot_texts(people, person)
        time.sleep(0.1)
    raise AssertionError(f"{person['first_name']}: {len(texts)} of {count} replies: {texts}")


def test_people_at_once_get_every_reply_once_and_in_order(
    local_webhook_sandbox_url: str, tmp_path: Path
) -> None:
    people = People(local_webhook_sandbox_url)
    port = free_port()
    hook = f"http://127.0.0.1:{port}"
    env = bot_env(
        local_webhook_sandbox_url, tmp_path,
        HALSARAM_WEBHOOK_URL=hook, HALSARAM_WEBHOOK_PORT=str(port),
    )  # fmt: skip
    crowd = [people.create(f"Person{i}", "en") for i in range(PEOPLE)]
    with running(BOT, env, None, tmp_path / "bot.log") as bot:
        # /healthz has its own listener (never the webhook's port); it answers once the
        # webhook is up.
        wait_for(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz", bot)
        _wait_webhook(people)

        def type_fast(person: dict[str, Any]) -> None:
            # Without waiting for any reply: all four sit in the chat's webhook queue.
            for text in SEQUENCE:
                people.say(person, text)

        with ThreadPoolExecutor(PEOPLE) as pool:
            list(pool.map(type_fast, crowd))
        for person in crowd:
            texts = _wait_for_count(people, person, len(ANSWERS))
            assert len(texts) == len(ANSWERS), texts  # none lost, none twice
            for text, expected in zip(texts, ANSWERS, strict=True):
                assert expected(person["first_name"]) in text, texts  # in the order sent

        # Everyone presses 한국어 on their language menu at once, then asks for /help.
        def press_korean(person: dict[str, Any]) -> None:
            people.press_label(person, "한국어", contains=True)

        with ThreadPoolExecutor(PEOPLE) as pool:
            list(pool.map(press_korean, crowd))
        for person in crowd:
            _wait_answered(people, person, 1)
        with ThreadPoolExecutor(PEOPLE) as pool:
            list(pool.map(lambda person: people.say(person, "/help"), crowd))
        for person in crowd:
            texts = _wait_for_count(people, person, len(ANSWERS) + 1)
            assert len(texts) == len(ANSWERS) + 1, texts
            assert "/help — 할 수 있는 일" in texts[-1], texts[-1]
            assert len(people.view(person["id"])["callback_answers"]) == 1  # answered once
        webhook = people.http.get("/webhook").json()["result"]
    # Deliveries did overlap (different chats at once), and nothing was left or refused.
    assert webhook["most_in_flight"] > 1, webhook
    assert webhook["pending_update_count"] == 0 and webhook["last_error_message"] is None
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log


def _wait_answered(people: People, person: dict[str, Any], count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(people.view(person["id"])["callback_answers"]) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{person['first_name']}'s press was never answered")


def _wait_webhook(people: People) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if people.info()["webhook_url_set"]:
            return
        time.sleep(0.1)
    raise AssertionError("the bot never called setWebhook")
