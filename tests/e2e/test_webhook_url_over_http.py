"""Webhook URLs as Telegram takes them, over HTTP (issue 19, point 13): Telegram posts only over
HTTPS to port 443, 80, 88 or 8443 (Bot API, setWebhook).

`halsaram run` as its own process against the sandbox process: a URL Telegram would refuse
stops it before it calls Telegram at all, with one line and exit code 2; a URL only the
settings let through (http:// on the sandbox's own host) is refused by the sandbox's
setWebhook unless it runs with `--local-http-webhooks`, and the bot then stops with Telegram's
reason in one line, not a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.settings import SANDBOX_TOKEN
from tests.e2e.processes import ROOT, People, bot_env
from tests.servers import free_port

BOT = [sys.executable, "-m", "bot.cli", "run"]
NEED_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
BAD_PORT = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"


def _run_bot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT, *args], env={**os.environ, **env}, cwd=ROOT,
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "args", "says"),
    [
        ("http://bot.example.com", (), "HALSARAM_WEBHOOK_URL: must start with https://"),
        ("https://bot.example.com:8080", (),
         "HALSARAM_WEBHOOK_URL: must use port 443, 80, 88 or 8443"),
        ("", ("--webhook", "http://bot.example.com:8443"), "--webhook: must start with https://"),
        ("", ("--webhook", "https://bot.example.com:9000/x"),
         "--webhook: must use port 443, 80, 88 or 8443"),
    ],
)  # fmt: skip
def test_a_url_telegram_refuses_stops_the_bot_before_it_calls_telegram(
    variable: str, args: tuple[str, ...], says: str, people: People, sandbox_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    env = bot_env(sandbox_url, tmp_path, HALSARAM_WEBHOOK_URL=variable)
    done = _run_bot(env, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"halsaram: {says}"), done.stderr
    info = people.info()
    assert info["answered"] == [] and info["webhook_url_set"] is False  # not one Bot API call


def test_the_sandbox_refuses_an_http_webhook_and_the_bot_says_why(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    # http:// on the sandbox's own host passes the bot's settings (the local exception), but
    # the sandbox, as Telegram, takes only HTTPS unless started with --local-http-webhooks.
    hook = f"http://127.0.0.1:{free_port()}"
    done = _run_bot(bot_env(sandbox_url, tmp_path, HALSARAM_WEBHOOK_URL=hook))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"halsaram: Telegram refused the webhook {hook}: "
        "Bad webhook: an https url must be provided for webhook"
    )
    answered = {(a["method"], a["status"]): a["count"] for a in people.info()["answered"]}
    assert answered.get(("setWebhook", 400)) == 1 and ("setWebhook", 200) not in answered
    assert people.info()["webhook_url_set"] is False


def _set_webhook(sandbox_url: str, url: str) -> tuple[int, str]:
    answer = httpx.post(f"{sandbox_url}/bot{SANDBOX_TOKEN}/setWebhook", json={"url": url})
    return answer.status_code, str(answer.json().get("description", ""))


def test_set_webhook_over_http_without_the_test_flag(sandbox_url: str) -> None:
    assert _set_webhook(sandbox_url, "http://127.0.0.1:9/hook") == (400, NEED_HTTPS)
    assert _set_webhook(sandbox_url, "http://bot.example.com/hook") == (400, NEED_HTTPS)
    assert _set_webhook(sandbox_url, "https://127.0.0.1:9/hook") == (400, BAD_PORT)
    assert _set_webhook(sandbox_url, "https://bot.example.com:8080/hook") == (400, BAD_PORT)
    assert _set_webhook(sandbox_url, "https://bot.example.com:8443/hook") == (200, "")


def test_set_webhook_over_http_with_the_test_flag(local_webhook_sandbox_url: str) -> None:
    # Only a loopback host may use http:// and any port, as a local Bot API server allows.
    assert _set_webhook(local_webhook_sandbox_url, "http://127.0.0.1:9/hook") == (200, "")
    assert _set_webhook(local_webhook_sandbox_url, "http://bot.example.com/hook") == (
        400, NEED_HTTPS,
    )  # fmt: skip
    assert _set_webhook(local_webhook_sandbox_url, "https://bot.example.com:8080") == (
        400, BAD_PORT,
    )  # fmt: skip
