"""Foundation: one settings object from HALSARAM_* variables; bad values stop start-up clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.settings import SettingsError, load_settings
from tests.harness import make_settings


def test_defaults_run_offline_against_telegram_urls() -> None:
    settings = make_settings(telegram_token=None)
    assert settings.offline
    assert settings.bot_base_url == "https://api.telegram.org/bot"
    assert settings.bot_file_url == "https://api.telegram.org/file/bot"
    assert settings.database_url.startswith("sqlite+aiosqlite://")


def test_file_url_follows_the_api_url() -> None:
    settings = make_settings(telegram_api_url="http://127.0.0.1:8081/")
    assert settings.bot_base_url == "http://127.0.0.1:8081/bot"
    assert settings.bot_file_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HALSARAM_SANDBOX_PORT", "eighty"),
        ("HALSARAM_TIMEZONE", "Mars/Olympus"),
        ("HALSARAM_DATABASE_URL", "mysql://localhost/x"),
        ("HALSARAM_TELEGRAM_API_URL", "api.telegram.org"),
        ("HALSARAM_TELEGRAM_TOKEN", "not-a-token"),
    ],
)
def test_a_bad_value_names_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{variable}:")


def test_cli_prints_one_line_and_no_traceback(tmp_path: object) -> None:
    env = {**os.environ, "HALSARAM_SANDBOX_PORT": "99999999"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("halsaram: HALSARAM_SANDBOX_PORT:")
    assert "Traceback" not in done.stderr


def test_a_real_token_needs_a_secret_key() -> None:
    settings = make_settings(telegram_token="123456:" + "a" * 35, secret_key=None)
    with pytest.raises(SettingsError, match="HALSARAM_SECRET_KEY"):
        settings.secret()


# ---------------------------------------------------------------------- the webhook URL
# Telegram posts only over HTTPS, on port 443, 80, 88 or 8443 (Bot API, setWebhook); the one
# exception is a URL on the local sandbox's host while the bot talks to that sandbox.

REAL_TOKEN = "123456:" + "a" * 35


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://bot.example.com", "must start with https://"),
        ("http://bot.example.com:8443/hook", "must start with https://"),
        ("https://bot.example.com:8080", "must use port 443, 80, 88 or 8443"),
        ("https://bot.example.com:444/hook", "must use port 443, 80, 88 or 8443"),
        ("https://bot.example.com:99999", "must be the full public URL"),
        ("bot.example.com", "must be the full public URL"),
        ("https://", "must be the full public URL"),
    ],
)
def test_a_webhook_telegram_would_refuse_stops_start_up(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALSARAM_TELEGRAM_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"HALSARAM_WEBHOOK_URL: {says}")


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.com",
        "https://bot.example.com/",
        "https://bot.example.com:443/base",
        "https://bot.example.com:8443",
        "https://bot.example.com:88",
        "https://bot.example.com:80",
        "https://203.0.113.7:8443",
    ],
)
def test_https_on_telegrams_ports_is_taken(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALSARAM_TELEGRAM_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", url)
    assert load_settings().webhook_url == url


def test_no_webhook_url_means_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALSARAM_TELEGRAM_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", "")
    assert load_settings().webhook_url is None


def test_the_local_sandbox_may_post_over_http_to_any_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The e2e tests: a token, the API on the sandbox host, the webhook on the same host.
    monkeypatch.setenv("HALSARAM_TELEGRAM_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("HALSARAM_TELEGRAM_API_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", "http://127.0.0.1:50123")
    settings = load_settings()
    assert settings.webhook_url == "http://127.0.0.1:50123"
    assert settings.local_sandbox_host == "127.0.0.1"
    # Offline (no token), `halsaram run` starts the sandbox on HALSARAM_SANDBOX_HOST.
    monkeypatch.delenv("HALSARAM_TELEGRAM_TOKEN")
    monkeypatch.delenv("HALSARAM_TELEGRAM_API_URL")
    monkeypatch.setenv("HALSARAM_SANDBOX_HOST", "localhost")
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", "http://localhost:8000/")
    assert load_settings().webhook_url == "http://localhost:8000/"
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", "http://bot.example.com:8000/")
    with pytest.raises(SettingsError, match=r"^HALSARAM_WEBHOOK_URL: must start with https://"):
        load_settings()


@pytest.mark.parametrize(
    ("api_url", "webhook"),
    [
        # Talking to Telegram: a local http:// webhook is refused like any other.
        ("https://api.telegram.org", "http://127.0.0.1:50123"),
        # Talking to the sandbox: only its own host is exempt.
        ("http://127.0.0.1:8081", "http://bot.example.com:50123"),
        ("http://127.0.0.1:8081", "http://localhost:50123"),
    ],
)
def test_the_exception_is_only_for_the_sandbox_host(
    api_url: str, webhook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALSARAM_TELEGRAM_TOKEN", REAL_TOKEN)
    monkeypatch.setenv("HALSARAM_TELEGRAM_API_URL", api_url)
    monkeypatch.setenv("HALSARAM_WEBHOOK_URL", webhook)
    with pytest.raises(SettingsError, match=r"^HALSARAM_WEBHOOK_URL: must start with https://"):
        load_settings()


@pytest.mark.parametrize(
    ("args", "variable", "first_line"),
    [
        (["db", "upgrade"], "https://bot.example.com:8080",
         "halsaram: HALSARAM_WEBHOOK_URL: must use port 443, 80, 88 or 8443"),
        (["run", "--webhook", "http://bot.example.com"], "",
         "halsaram: --webhook: must start with https://"),
    ],
)  # fmt: skip
def test_the_cli_names_the_bad_webhook_in_one_line(
    args: list[str], variable: str, first_line: str
) -> None:
    env = {**os.environ, "HALSARAM_TELEGRAM_TOKEN": REAL_TOKEN, "HALSARAM_WEBHOOK_URL": variable}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(first_line)
