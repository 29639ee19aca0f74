"""The running bot, webhook mode, at HALSARAM_LOG_LEVEL=DEBUG: `/healthz` and `/metrics` answer
on their own port only, junk posted to the webhook is 400, and after a signup with a phone and
a location, a free text and that junk, the bot's log holds none of what the person gave."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import ROOT, People, bot_env, running, wait_for
from tests.people import SEOKCHON_LAKE
from tests.servers import free_port

BOT = [sys.executable, "-m", "bot.cli", "run"]
SECRET = "right-secret"


def test_private_endpoints_and_a_debug_log_without_personal_data(
    local_webhook_sandbox_url: str, tmp_path: Path
) -> None:
    people = People(local_webhook_sandbox_url)
    port = free_port()
    hook = f"http://127.0.0.1:{port}"
    env = bot_env(
        local_webhook_sandbox_url, tmp_path,
        HALSARAM_WEBHOOK_URL=hook, HALSARAM_WEBHOOK_PORT=str(port),
        HALSARAM_WEBHOOK_SECRET=SECRET, HALSARAM_LOG_LEVEL="DEBUG",
    )  # fmt: skip
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    private = f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}"
    heejin = people.create("설희진", "ko")
    said = "우리 집은 파란 대문 집이에요"
    junk = json.dumps({"update_id": 10**23, "message": {"text": "비밀 쪽지 입니다"}})
    with running(BOT, env, None, tmp_path / "bot.log") as bot:
        wait_for(f"{private}/healthz", bot)
        for path in ("/metrics", "/healthz"):
            assert httpx.get(f"{hook}{path}").status_code == 404  # not on the webhook's port
        people.sign_up(heejin, SEOKCHON_LAKE)
        people.say(heejin, said)
        people.say(heejin, "/help")  # one person's updates are handled in order
        people.wait_for_bot(heejin["id"], where=lambda m: "/help —" in m.get("text", ""))
        refused = httpx.post(
            f"{hook}/telegram/webhook", content=junk,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )  # fmt: skip
        assert refused.status_code == 400
        scraped = httpx.get(f"{private}/metrics").text
        assert re.search(r'halsaram_updates_total\{type="message"\} [1-9]', scraped)
        assert httpx.get(f"{private}/healthz").json()["ok"] is True
    log = (tmp_path / "bot.log").read_text()
    assert "receiving updates by webhook" in log  # the log was written
    messages = people.view(heejin["id"])["messages"]
    [phone] = [m["contact"]["phone_number"] for m in messages if "contact" in m]
    national = re.sub(r"\D", "", phone)[-8:]  # the subscriber digits, in any format
    assert not re.search(rf"{national[:4]}\D{{0,3}}{national[4:]}", log)
    for secret in ("설희진", said, "비밀 쪽지", str(SEOKCHON_LAKE[0]), str(SEOKCHON_LAKE[1])):
        assert secret not in log
    assert SANDBOX_TOKEN.split(":")[1] not in log
