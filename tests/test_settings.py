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
