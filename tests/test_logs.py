"""Secrets and personal data never reach a log line, in text or JSON format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import JsonFormatter, Redact, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@pytest.mark.parametrize(
    "line",
    [
        f"POST https://api.telegram.org/bot{TOKEN}/getUpdates",
        f"POST https://api.telegram.org/bot{TOKEN.replace(':', '%3A')}/sendMessage",
        "contact +82 10-2345-6789 shared",
        "contact 010-2345-6789 shared",
        "contact +821023456789 shared",
    ],
)
def test_tokens_and_phone_numbers_are_redacted(line: str) -> None:
    cleaned = redact(line)
    assert "2345" not in cleaned and "AAHdq" not in cleaned
    assert "<token>" in cleaned or "<phone>" in cleaned


def test_ids_times_and_amounts_survive() -> None:
    line = "update 7000000001 handled in 0.012 s; 150 points; meeting 42 at 2026-11-25 09:00"
    assert redact(line) == line


def test_json_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact())
    logger = logging.getLogger("halsaram.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("sending to %s failed", "+82 10-2345-6789")
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "WARNING" and entry["logger"] == "halsaram.test.json"
    assert entry["message"] == "sending to <phone> failed"
