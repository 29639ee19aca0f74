"""Fuzz (issue 22): every button action of the codec and the deep links, with the numbers and
junk a forged client can put in them, pressed by a stranger, a signed-up person and an admin,
on both databases. Each press or link gets exactly one polite answer; nothing reaches the
error handler as a failure (no apology, no ERROR line, no error counted); no row changes.

The actions are read from `Action.ARITY` and the host tools from `handlers.meetups.HOST_TOOLS`,
so a new action or tool is fuzzed without editing this file. A number a database id cannot
hold (beyond a signed 64-bit integer) used to reach the query: an overflow, an apology and a
traceback (`1uv:9223372036854775808`, and 35 others per person).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import strategies as st
from sqlalchemy import select

from bot import metrics
from handlers.meetups import HOST_TOOLS
from storage import ledger, meetings
from storage.db import SessionFactory, transaction
from storage.models import Base
from tests.harness import BotHarness, RecordedCall
from tests.people import (
    RULES,
    Neighbour,
    Person,
    configure,
    new_admin,
    new_meetup,
    stock_codes,
)
from tests.test_security import samples
from ui import callbacks, links
from ui.callbacks import MAX_NUMBER, Action

pytestmark = pytest.mark.usefixtures("seeded")
APOLOGIES = ("죄송해요, 처리 중에 문제가 생겼어요", "Sorry, something went wrong")
# Rows a press may touch without changing anything a person owns: the update log and PTB's
# own conversation and user data (a host tool's "message them" starts a conversation).
NOT_STATE = {"inbox", "conversation_states", "persisted_data"}
# Numbers at and beyond what a database id can hold, and what is no number at all.
BOUNDARY = [
    "0", "-1", str(MAX_NUMBER), str(MAX_NUMBER + 1), str(2**64), "9" * 24, str(10**30),
    "abc", "", "0x10", "1e9",
]  # fmt: skip
SHOWN = {
    "sendMessage", "editMessageText", "editMessageCaption", "sendPhoto", "sendVenue",
    "sendLocation", "sendDocument",
}  # fmt: skip
# Arguments that name something real: a press carrying one is a real button, not a forgery.
MEANINGFUL = {"yes", "no", "back", "done", "skip", "mission", "all", "ko", "en", "over"}


def _random_args() -> list[str]:
    """Numbers far from any real id (so no press hits a real row), and plain words."""
    huge = st.integers(min_value=10**9, max_value=10**40).map(str)
    negative = st.integers(max_value=-1).map(str)
    words = st.from_regex(r"\A[A-Za-z_-]{1,24}\Z").filter(lambda w: w.lower() not in MEANINGFUL)
    return samples(st.one_of(huge, negative, words), 12)


def forged_presses(meeting_id: int) -> Iterator[str]:
    """Data for every action: boundary values in every argument, one argument too many or too
    few, random values; and every host tool on the real meetup and on boundary ids."""
    values = BOUNDARY + _random_args()
    for code, arity in Action.ARITY.items():
        head = callbacks.VERSION + code
        for value in values:
            yield ":".join([head, *[value] * arity])
            for position in range(1, arity):  # one odd argument among plain small numbers
                yield ":".join([head, *["7"] * position, value, *["7"] * (arity - position - 1)])
        yield ":".join([head, *["7"] * (arity + 1)])
        yield ":".join([head, *["7"] * (arity - 1)])
    for tool in [*HOST_TOOLS, "msg", "cancel", "cancelyes"]:
        for value in [*BOUNDARY, str(meeting_id)]:
            yield f"{callbacks.VERSION}{Action.MEETUP_HOST}:{value}:{tool}"


async def _rows(sessions: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a person's state lives in (balances, seats, codes, …)."""
    async with sessions() as s:
        return {
            table.name: sorted((tuple(r) for r in (await s.execute(select(table))).all()), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in NOT_STATE
        }


def _answers(calls: list[RecordedCall]) -> tuple[int, int, list[str]]:
    """How many times the press was answered, how many things it told (a toast or alert with
    text, a message, an edit; a keyboard changed without a word, when nothing else is said)
    and every text shown."""
    answered = [c for c in calls if c.method == "answerCallbackQuery"]
    told = len([c for c in answered if c.params.get("text")])
    told += len([c for c in calls if c.method in SHOWN])
    if not told:
        told = len([c for c in calls if c.method == "editMessageReplyMarkup"])
    texts = [str(c.params.get("text") or c.params.get("caption") or "") for c in calls]
    return len(answered), told, texts


async def _scene(bot: BotHarness) -> tuple[dict[str, dict[str, Any]], int]:
    """A meetup with a seated member who has points, a stocked market, an admin, and a
    stranger who never signed up. Returns the pressers and the meetup's id."""
    host = await Neighbour(bot, "지훈").register()
    member = await Neighbour(bot, "수아").register()
    admin = await new_admin(bot, "Alex")
    stranger = Person(bot, "낯선")
    await stranger.say("/help")
    meeting_id = await new_meetup(bot, host)
    await stock_codes(
        bot.sessions,
        "item,name_ko,name_en,cost,code\ncafe,카페 아메리카노,Cafe Americano,300,FUZZ-0001\n",
    )
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, member.id, RULES, bot.clock.now())
        await ledger.post(
            s, user_id=member.id, amount=500, kind=ledger.REWARD, reference="fuzz:points",
            now=bot.clock.now(),
        )  # fmt: skip
    # A forged client presses as fast as it likes; flood control (tested on its own) would
    # drop most of these presses, so its window is made too short to fill.
    await configure(bot, flood_window_seconds=0.001)
    pressers = {"stranger": stranger.user, "member": member.user, "admin": admin.user}
    return pressers, meeting_id


async def test_every_action_with_forged_numbers_gets_one_polite_answer(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    pressers, meeting_id = await _scene(bot)
    before = await _rows(bot.sessions)
    caplog.set_level(logging.ERROR)
    failures: list[str] = []
    presses = list(dict.fromkeys(forged_presses(meeting_id)))
    for who, user in pressers.items():
        target = bot.bot_messages(user["id"])[-1]
        for data in presses:
            errors, start = metrics.ERRORS._value.get(), len(bot.request.calls)
            caplog.clear()
            await bot.emulator.press_button(
                user["id"], user["id"], target["message_id"], data, force=True
            )
            await bot.deliver()
            answered, shown, texts = _answers(bot.request.calls[start:])
            wrong = [
                *(["failed"] if metrics.ERRORS._value.get() != errors else []),
                *(["apology"] if any(a in t for t in texts for a in APOLOGIES) else []),
                *([f"answered {answered}x"] if answered != 1 else []),
                *([f"showed {shown} things"] if shown != 1 else []),
                *[f"logged {r.getMessage()[:60]!r}" for r in caplog.records],
            ]
            if wrong:
                failures.append(f"{who} {data}: {', '.join(wrong)}")
    assert not failures, f"{len(failures)} of {3 * len(presses)} presses:\n" + "\n".join(failures)
    assert await _rows(bot.sessions) == before


async def test_the_deletion_confirm_forged_by_a_stranger_deletes_nothing(bot: BotHarness) -> None:
    pressers, _ = await _scene(bot)
    before = await _rows(bot.sessions)
    stranger = pressers["stranger"]
    target = bot.bot_messages(stranger["id"])[-1]
    start = len(bot.request.calls)
    data = callbacks.encode(Action.DELETE, "yes")
    await bot.emulator.press_button(stranger["id"], stranger["id"], target["message_id"], data,
                                    force=True)  # fmt: skip
    await bot.deliver()
    answered, shown, texts = _answers(bot.request.calls[start:])
    assert (answered, shown) == (1, 1)
    assert not [t for t in texts for a in APOLOGIES if a in t]
    assert await _rows(bot.sessions) == before


def _link_payloads() -> list[str]:
    numbers = [0, 1, MAX_NUMBER, MAX_NUMBER + 1, 10**19 - 1, 10**19, 2**64, 10**30, 10**62]
    payloads = [f"{links.MISSION}{n}" for n in numbers]
    payloads += [f"{links.CHECKIN}{n}" for n in numbers]
    payloads += [f"{links.MISSION}{'0' * 20}1", f"{links.MISSION}{'9' * 63}"]
    payloads += samples(st.from_regex(r"\A[cm][0-9]{17,63}\Z"), 30)
    payloads += samples(st.from_regex(r"\A[A-Za-z0-9_-]{0,10}[0-9]{19,40}\Z"), 20)
    return [p[: links.MAX_PAYLOAD] for p in dict.fromkeys(payloads)]


def _right_count(payload: str, replies: int) -> bool:
    """A link's payload gets exactly one answer; anything else is a plain /start for the
    signup, whose greeting is two messages for one who has not signed up yet."""
    command = f"/start {payload}"
    if re.match(links.MISSION_START, command) or re.match(links.CHECKIN_START, command):
        return replies == 1
    return replies in (1, 2)


async def test_deep_links_with_huge_numbers_get_one_polite_answer(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    pressers, _ = await _scene(bot)
    before = await _rows(bot.sessions)
    caplog.set_level(logging.ERROR)
    failures: list[str] = []
    for who, user in pressers.items():
        for payload in _link_payloads():
            errors = metrics.ERRORS._value.get()
            caplog.clear()
            replies = await bot.send(user, f"/start {payload}")
            texts = [r.get("text") or "" for r in replies]
            wrong = [
                *(["failed"] if metrics.ERRORS._value.get() != errors else []),
                *(["apology"] if any(a in t for t in texts for a in APOLOGIES) else []),
                *([f"{len(replies)} replies"] if not _right_count(payload, len(replies)) else []),
                *[f"logged {r.getMessage()[:60]!r}" for r in caplog.records],
            ]
            if wrong:
                failures.append(f"{who} /start {payload}: {', '.join(wrong)}")
    assert not failures, "\n".join(failures)
    assert await _rows(bot.sessions) == before
