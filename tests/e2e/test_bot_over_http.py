"""Sandbox, end to end: the bot runs as its own process against the emulator over real HTTP,
with long polling and with a webhook, while several people talk to it."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import People, bot_env, running, wait_for
from tests.servers import free_port

BOT = [sys.executable, "-m", "bot.cli", "run"]


def _conversation(people: People) -> None:
    """Two people at once, one Korean and one English; a button press gets its answer."""
    minji = people.create("민지", "ko")
    james = people.create("James", "en")
    people.say(minji, "/start")
    people.say(james, "/help")
    greeting = people.wait_for_bot(minji["id"])[0]
    [help_reply] = people.wait_for_bot(james["id"])
    assert greeting["text"].startswith("안녕하세요, 민지님!")
    assert "/help — What I can do" in help_reply["text"]
    how = greeting["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    people.press(minji, greeting, how)
    people.wait_for_bot(minji["id"], where=lambda m: m["text"].startswith("이용 방법:"))
    answers = people.view(minji["id"])["callback_answers"]
    assert len(answers) == 1  # the spinner on the button was stopped


def test_polling(people: People, sandbox_url: str, tmp_path: Path) -> None:
    with running(BOT, bot_env(sandbox_url, tmp_path), None, tmp_path / "bot.log") as bot:
        _conversation(people)
        # A deploy's SIGTERM ends the long poll at once: a clean exit, not a kill later.
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=10) == 0
    log = (tmp_path / "bot.log").read_text()
    assert "SANDBOX-TOKEN" not in log  # the token never reaches a log line


def test_webhook_with_secret_token(local_webhook_sandbox_url: str, tmp_path: Path) -> None:
    # An http:// webhook on a free port: the settings allow it on the sandbox's host only, and
    # the sandbox only with its test flag (Telegram wants https:// on 443, 80, 88 or 8443).
    people = People(local_webhook_sandbox_url)
    port = free_port()
    hook = f"http://127.0.0.1:{port}"
    env = bot_env(
        local_webhook_sandbox_url, tmp_path,
        HALSARAM_WEBHOOK_URL=hook, HALSARAM_WEBHOOK_PORT=str(port),
        HALSARAM_WEBHOOK_SECRET="right-secret",
    )  # fmt: skip
    with running(BOT, env, None, tmp_path / "bot.log") as bot:
        # /healthz has its own listener (never the webhook's port); it answers once the
        # webhook is up.
        wait_for(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz", bot)
        _wait_webhook_set(people)
        # Registered for the types the bot reads only: no edited_message (issue 19, point 3).
        info = httpx.get(f"{local_webhook_sandbox_url}/bot{SANDBOX_TOKEN}/getWebhookInfo").json()
        assert info["result"]["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
        _conversation(people)
        eve = people.create("Eve", "en")
        people.say(eve, "/help")  # a bot may only write to people who wrote to it first
        people.wait_for_bot(eve["id"])
        forged = {"update_id": 999999, "message": {"message_id": 1, "date": 0,
                  "chat": {"id": eve["id"], "type": "private"}, "from": {"id": eve["id"],
                  "is_bot": False, "first_name": "Eve", "language_code": "en"},
                  "text": "/start", "entities": [{"type": "bot_command", "offset": 0,
                  "length": 6}]}}  # fmt: skip
        url = f"{hook}/telegram/webhook"
        wrong = httpx.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
        missing = httpx.post(url, json=forged)
        assert (wrong.status_code, missing.status_code) == (403, 403)
        # The same update with the right secret is handled: only the secret made the difference.
        right = httpx.post(
            url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "right-secret"}
        )
        assert right.status_code == 200
        people.wait_for_bot(eve["id"], where=lambda m: m.get("text", "").startswith("Hi Eve!"))
        greetings = [
            m for m in people.view(eve["id"])["messages"] if m.get("text", "").startswith("Hi Eve!")
        ]
        assert len(greetings) == 1  # only the update with the right secret was handled


def _wait_webhook_set(people: People) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if people.info()["webhook_url_set"]:
            return
        time.sleep(0.1)
    raise AssertionError("the bot never called setWebhook")
