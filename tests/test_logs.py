"""Secrets and personal data never reach a log line, in text or JSON format, at any level.

`redact` is fed every common form of a phone number and every kind of number that is not one
(timestamps, ids, dates, durations); then the bot runs at DEBUG through a signup with a phone
and a location, a free text and two check-ins, and nothing it printed holds any of them.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.logs import QUIET, JsonFormatter, LibraryFloor, Redact, configure, redact
from storage.models import Meeting
from tests.harness import BotHarness
from tests.people import (
    SEOKCHON_LAKE,
    Neighbour,
    Person,
    decode_qr,
    meetup_card,
    new_meetup,
    sign_up,
)

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"

# Every common way a phone number is written, with the digits that must not survive.
PHONES = {
    "+821012345678": "12345678",  # E.164
    "+14155550100": "5550100",
    "+82 10 1234 5678": "5678",  # spaced international
    "+1 415 555 0100": "555 0100",
    "+82-10-1234-5678": "1234-5678",
    "+82 10-2345-6789": "2345-6789",  # as Telegram shows a Korean contact
    "+82 (10) 1234-5678": "1234-5678",
    "+44 20 7946 0958": "7946 0958",
    "010-1234-5678": "1234-5678",  # Korean domestic
    "01012345678": "12345678",
    "010 1234 5678": "1234 5678",
    "010.1234.5678": "1234.5678",
    "010\u20111234\u20115678": "5678",  # with non-breaking hyphens
    "016-123-4567": "123-4567",
    "02-123-4567": "123-4567",  # Seoul
    "(02) 123-4567": "123-4567",
    "0212345678": "12345678",
    "031-123-4567": "123-4567",
    "821098765432": "98765432",  # the country code without "+", as in a Telegram contact
    "82-10-9876-5432": "9876-5432",
    "82 10 9876 5432": "9876 5432",
}
CONTEXTS = ["{}", "contact {} shared.", "번호는 {}로 연락", "phone={}&next=a", '"{}"', "({})"]

# Numbers that are not phone numbers and must come out exactly as they went in.
NOT_PHONES = [
    "1795568700",  # a Unix timestamp
    "1795568700.123",
    "at 1795568700123 ms since the epoch",
    "update 7000000001 handled in 0.012 s; 150 points; meeting 42 at 2026-11-25 09:00",
    "chat -1001234567890 user 8221467388 message 8253142",  # a user id that starts with 822
    "user 8210987654 (10 digits, starts like a Korean mobile)",
    "2026-11-25T09:00:00+09:00 and 2026-01-05 10:12:13.123456",
    "took 1234567 ms; 0.0123456789 s; 18993967 bytes",
    "photo sha256 0a01012345678f2b and version 0.1.0",
    "offset +09:00, delta +15 points",
    "8210987654321 is too long for a Korean mobile number",
]


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("context", CONTEXTS)
def test_every_form_of_a_phone_number_is_redacted(phone: str, context: str) -> None:
    cleaned = redact(context.format(phone))
    assert "<phone>" in cleaned
    assert PHONES[phone] not in cleaned
    assert cleaned == context.format("<phone>")


@pytest.mark.parametrize("line", NOT_PHONES)
def test_timestamps_ids_dates_and_durations_are_untouched(line: str) -> None:
    assert redact(line) == line


@given(
    st.one_of(
        st.integers(1_000_000_000, 4_102_444_800).map(str),  # Unix seconds up to 2100
        st.integers(1_000_000_000_000, 4_102_444_800_000).map(str),  # milliseconds
        st.tuples(st.integers(1_000_000_000, 4_102_444_800), st.integers(0, 999_999)).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        # Telegram ids today: user and update ids below 10^10, supergroup and channel ids -100….
        st.integers(1, 9_999_999_999).map(str),
        st.integers(1_000_000_000, 9_999_999_999_999).map(lambda n: f"-100{n}"),
        st.integers(-9_999_999_999, -1).map(str),
    )
)
def test_no_timestamp_or_id_is_taken_for_a_phone_number(number: str) -> None:
    line = f"update {number} at {number} from {number}"
    assert redact(line) == line


@pytest.mark.parametrize(
    "line",
    [
        f"POST https://api.telegram.org/bot{TOKEN}/getUpdates",
        f"POST https://api.telegram.org/bot{TOKEN.replace(':', '%3A')}/sendMessage",
    ],
)
def test_bot_tokens_are_redacted(line: str) -> None:
    cleaned = redact(line)
    assert "AAHdq" not in cleaned and "<token>" in cleaned


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("shared 37.51117, 127.10381 at the lake", "37.51"),
        ("location (37.511170/127.103810)", "127.10"),
        ("Location(latitude=37.5111, longitude=127.1038)", "37.51"),
        ('{"latitude": 37.511170, "longitude": 127.103810}', "127.10"),
        ("/start cAQAAAAAAAAAKAAAAAlfN0123abcdEFGH_-xyz", "AQAAAAAAAAAK"),
        ("https://t.me/halsaram_bot?start=cAQAAAAAAAAAKAAAAAlfN0123abc", "AQAAAAAAAAAK"),
        ("/checkin K7PX2M", "K7PX2M"),
        ("/checkin k7p x2m was typed", "x2m"),
        ("Contact(first_name='설희진', phone_number='14155550100', user_id=5)", "14155550100"),
        ("Contact(first_name='설희진', phone_number='14155550100', user_id=5)", "설희진"),
        ('{"text": "우리 집은 \\"잠실\\" 근처", "from": {"username": "heejin"}}', "잠실"),
        ('{"text": "우리 집은 \\"잠실\\" 근처", "from": {"username": "heejin"}}', "heejin"),
        ("Message(caption='my street', chat=Chat(last_name='Seol'))", "Seol"),
    ],
)
def test_places_check_in_codes_and_personal_fields_are_redacted(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_a_pair_of_durations_or_version_numbers_is_not_a_place() -> None:
    for line in ("took 0.012, 0.034 s", "versions 1.2.3, 4.5.6", "ratio 512.0000, 300.0000"):
        assert redact(line) == line


def _emit(handler: logging.Handler, name: str, level: int, *args: object, **kw: object) -> None:
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.log(level, *args, **kw)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_json_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact())
    _emit(
        handler, "halsaram.test.json", logging.WARNING, "sending to %s failed", "+82 10-2345-6789"
    )
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "WARNING" and entry["logger"] == "halsaram.test.json"
    assert entry["message"] == "sending to <phone> failed"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tracebacks_are_redacted_too(fmt: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter())
    handler.addFilter(Redact())
    try:
        raise ValueError("no user for phone 010-2345-6789 at 37.51117, 127.10381")
    except ValueError as exc:
        _emit(handler, "bot.test.traceback", logging.ERROR, "failed", exc_info=exc)
    written = stream.getvalue()
    assert "ValueError" in written and "<phone>" in written
    assert "2345-6789" not in written and "127.10381" not in written


def test_libraries_speak_from_info_up_and_our_modules_at_debug() -> None:
    floor = LibraryFloor()

    def kept(name: str, level: int) -> bool:
        return floor.filter(logging.LogRecord(name, level, __file__, 1, "x", None, None))

    assert kept("bot.ingress", logging.DEBUG) and kept("handlers.errors", logging.DEBUG)
    assert not kept("telegram.ext.Application", logging.DEBUG)  # "Processing update …"
    assert not kept("telegram.Bot", logging.DEBUG)  # every API call's parameters and answer
    assert not kept("httpcore.http11", logging.DEBUG) and not kept("aiosqlite", logging.DEBUG)
    assert kept("telegram.ext.Application", logging.INFO)


@pytest.fixture
def debug_log() -> Iterator[tuple[io.StringIO, list[str]]]:
    """The bot's logging as `halsaram run` sets it up at HALSARAM_LOG_LEVEL=DEBUG, written to
    a buffer; and, beside it, every record as it was raised, before any filter."""
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    saved_levels = {name: logging.getLogger(name).level for name in QUIET}
    written = io.StringIO()
    raw: list[str] = []

    class Raw(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raw.append(record.getMessage())

    configure("DEBUG", "text", stream=written)
    root.handlers.insert(0, Raw())  # first: it sees each record before the redaction
    try:
        yield written, raw
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def test_at_debug_the_chatty_libraries_are_raised(
    debug_log: tuple[io.StringIO, list[str]],
) -> None:
    for name in ("telegram", "httpx", "httpcore", "aiosqlite", "botocore", "uvicorn"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO, name
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING  # URLs: token
    assert logging.getLogger("bot.ingress").getEffectiveLevel() == logging.DEBUG


@pytest.mark.usefixtures("seeded")
async def test_at_debug_nothing_a_person_gave_reaches_the_log(
    bot: BotHarness, debug_log: tuple[io.StringIO, list[str]]
) -> None:
    written, raw = debug_log
    # As if PTB were asked for its DEBUG lines all the same: the handler's floor and the
    # redaction must hold without the raised levels.
    logging.getLogger("telegram").setLevel(logging.DEBUG)
    bot.deliveries = 2  # through the inbox and the update queue, as in production
    name, phone, said = "설희진", "821098765432", "우리 집은 잠실 근처 파란 대문이에요"
    person = Person(bot, name, phone=phone)
    await sign_up(person)
    await person.say(said)
    host = await Neighbour(bot, "지훈").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await person.press("참여하기", await meetup_card(bot, cast(Neighbour, person), meeting_id))
    bot.clock.advance(timedelta(minutes=50))
    await host.press(await meetup_card(bot, host, meeting_id), "📷 체크인 QR")
    payload = decode_qr(bot, bot.bot_messages(host.id)[-1]).split("start=", 1)[1]
    async with bot.sessions() as s:
        code = await s.scalar(select(Meeting.checkin_code).where(Meeting.id == meeting_id))
    assert code
    await person.say(f"/checkin {code}")
    await person.say(f"/start {payload}")
    logging.getLogger("bot.test").debug("our own debug line")

    log = written.getvalue()
    assert "our own debug line" in log  # DEBUG was on
    secrets = [name, said, payload, code, f"{SEOKCHON_LAKE[0]}", f"{SEOKCHON_LAKE[1]}"]
    # The raw records held them (PTB prints updates and API calls at DEBUG): the test looked
    # where they leak.
    assert all(any(secret in line for line in raw) for secret in (name, phone, payload))
    for secret in secrets:
        assert secret not in log
    # Each defence holds on its own: no library DEBUG line was written at all (the redaction
    # would have blanked their personal fields, but an update is not a log line).
    for library_debug in ("Processing update", "Calling Bot API", "finished with return"):
        assert any(library_debug in line for line in raw) and library_debug not in log
    for digits in ("1098765432", r"98765432", r"9876\D{0,3}5432"):  # the phone, any format
        assert not re.search(digits, log)
