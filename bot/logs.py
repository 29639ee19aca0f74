"""Logging set-up: readable lines locally, JSON lines in production (`HALSARAM_LOG_FORMAT`).

The code never logs personal data; as a safety net, anything shaped like a bot token or a
phone number is redacted from every line, including URLs and messages of libraries.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# A Bot API token: digits, a colon, 30+ URL-safe characters (also percent-encoded, as in URLs).
_TOKEN = re.compile(r"\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}")
# Phone numbers: international (+82 10 1234 5678) or Korean domestic (010-1234-5678).
_PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[ -]?)?0?1[016789][ -]?\d{3,4}[ -]?\d{4}(?![\w])")


def redact(text: str) -> str:
    return _PHONE.sub("<phone>", _TOKEN.sub("<token>", text))


class Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs every request URL at INFO, and the URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
