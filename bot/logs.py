"""Logging set-up: readable lines locally, JSON lines in production (`HALSARAM_LOG_FORMAT`).

The code never logs personal data (ids and type names, never texts, names, phones or places).
Two defences keep what libraries print out of the logs too, at every level, DEBUG included:

- Libraries speak from INFO up only. At DEBUG python-telegram-bot prints every update whole
  ("Processing update …") and every Bot API call with its parameters and its answer, httpx and
  httpcore print request URLs (they carry the bot token), aiosqlite prints query results and
  botocore prints signed requests. DEBUG is for our own modules (`OWN`): the handler drops
  records below INFO from any other logger (`LibraryFloor`), and the loggers known to be
  chatty are raised (`QUIET`) so they do not even build those records.
- One redaction (`redact`) on every message, traceback and stack, as a net: bot tokens, phone
  numbers in every common form, coordinate pairs, check-in tokens and typed codes, and the
  values of personal fields in dumped objects (`"phone_number": …`, `first_name='…'`, `text=…`).

Phone numbers are recognised by shape with guards, not by a phone-number library: only a
leading `+`, a Korean trunk `0` followed by a real area or mobile prefix, or the bare `82 1x`
form of a Korean mobile (how Telegram hands out a contact's number) make digits a phone
number, and never digits inside a longer run of digits or a decimal. So Unix timestamps
(1795568700, 1795568700.123), update, chat, user and message ids (-1001234567890,
8221467388), dates, times and durations pass untouched. (`phonenumbers`' matcher was tried:
at its POSSIBLE leniency it takes every 10-digit timestamp and id for a phone; at VALID it
still takes user ids such as 8221467388, a Seoul number in the bare country-code form, and
8-digit counts such as 18993967, and its answers change with each release's metadata.)
A bare number of another country (`14155550100`) cannot be told from an id by shape; it is
caught where it matters, as the value of a `phone_number` field.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import IO

# A Bot API token: digits, a colon, 30+ URL-safe characters (also percent-encoded, as in URLs).
_TOKEN = re.compile(r"\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}")

# --- phone numbers
# Between digit groups: a space, or a dash (any Unicode dash or minus) or dot with optional
# spaces around it.
_SEP = r"(?:[ \u00a0]?[-.\u2010-\u2015\u2212][ \u00a0]?|[ \u00a0])"
_GROUP = r"(?:\(\d+\)|\d+)"
# After a `+`: groups of digits (a group may be in parentheses), counted below (8-15 digits).
_INTERNATIONAL = rf"\+{_GROUP}(?:(?:{_SEP}|(?<=\))|(?=\())(?:\(\d+\)|\d+))*"
# Korean prefixes after the trunk 0: mobile 010/011/016-019, Seoul 02, the provinces 031-064,
# internet phones 070, personal numbers 050x, free phone 080.
_KR_PREFIX = r"(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8]|80)"
_DOMESTIC = rf"(?:\(0{_KR_PREFIX}\)|0{_KR_PREFIX}){_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"
# A Korean mobile number with the country code and no `+`, as Telegram gives a contact's:
# 821098765432 (010 numbers have 8 digits), 8211 234 5678 (the older 011/016-019 ones).
_BARE_KR = rf"82{_SEP}?(?:10{_SEP}?\d{{4}}{_SEP}?\d{{4}}|1[16789]{_SEP}?\d{{3,4}}{_SEP}?\d{{4}})"
# Not inside a longer run of digits or letters (hex hashes, ids), nor after a decimal point;
# Korean text may touch the number ("010-1234-5678로").
_PHONE = re.compile(
    rf"(?<![0-9A-Za-z.+\-])(?:(?P<intl>{_INTERNATIONAL})|{_BARE_KR}|{_DOMESTIC})"
    r"(?![0-9A-Za-z]|\.\d)"
)

# --- places: a latitude and longitude pair with 4+ decimals (about 10 m), in range.
_PAIR = re.compile(
    r"(?<![\d.])(?P<lat>-?\d{1,2}\.\d{4,})\s*[,/; ]\s*(?P<lon>-?\d{1,3}\.\d{4,})(?![\d.])"
)

# --- check-in: the QR's deep link (`/start c<token>`, `?start=c<token>`) and a typed code.
_CHECKIN_LINK = re.compile(r"(?<=start[= ])c[A-Za-z0-9_-]{16,}")
_CHECKIN_CODE = re.compile(
    r"(?P<command>/checkin(?:@\w+)?[ \t]+)[A-Za-z0-9-]+(?:[ \t][A-Za-z0-9]{1,6}\b)?"
)

# --- personal fields of dumped objects: JSON ("text": "…"), dict reprs ('text': '…') and
# PTB's reprs (text='…', latitude=37.5), whatever the value looks like.
_FIELDS = (
    "phone_number|phone|first_name|last_name|full_name|display_name|username|text|caption"
    "|vcard|address|latitude|longitude|lat|lon|lng"
)
_FIELD = re.compile(
    rf"""(?P<key>(?<![\w])["']?(?:{_FIELDS})["']?\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)"""
)


def _field(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match['key']}{quote}<redacted>{quote}"


def _phone(match: re.Match[str]) -> str:
    if match["intl"] is not None:
        digits = sum(c.isdigit() for c in match["intl"])
        if not 8 <= digits <= 15:  # E.164 numbers have at most 15 digits
            return match[0]
    return "<phone>"


def _pair(match: re.Match[str]) -> str:
    if abs(float(match["lat"])) <= 90 and abs(float(match["lon"])) <= 180:
        return "<place>"
    return match[0]


def redact(text: str) -> str:
    """`text` without secrets or personal data (see the module's docstring for what goes)."""
    text = _TOKEN.sub("<token>", text)
    text = _PHONE.sub(_phone, text)
    text = _PAIR.sub(_pair, text)
    text = _CHECKIN_LINK.sub("<checkin>", text)
    text = _CHECKIN_CODE.sub(r"\g<command><code>", text)
    return _FIELD.sub(_field, text)


# Our own code: it may log at DEBUG. Every other logger is a library's.
OWN = frozenset(
    {"bot", "handlers", "conversations", "storage", "scheduler", "missions", "verification",
     "ui", "sandbox", "halsaram", "__main__"}
)  # fmt: skip
# Libraries that log personal data or secrets below these levels (see the docstring).
QUIET = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.INFO,
    "sqlalchemy": logging.WARNING,
    "openai": logging.INFO,
    "botocore": logging.INFO,
    "boto3": logging.INFO,
    "s3transfer": logging.INFO,
    "urllib3": logging.INFO,
    "uvicorn": logging.WARNING,
    "PIL": logging.INFO,
}
_TRACEBACKS = logging.Formatter()


class LibraryFloor(logging.Filter):
    """DEBUG records are our own modules' only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or record.name.partition(".")[0] in OWN


class Redact(logging.Filter):
    """Runs `redact` over the message, the traceback and the stack of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: show neither as given
            message = f"{record.msg} (unformattable log arguments)"
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            entry["exception"] = redact(text)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """One handler on the root logger (stderr, or `stream`), with both defences."""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(LibraryFloor())
    handler.addFilter(Redact())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    chosen = logging.getLevelName(level)
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, chosen))
