"""People who may not act cannot act (issue 20): a deleted, a suspended and a banned person are
refused, politely, by the storage operation itself, for join, host, check-in, photo, rating,
report and exchange. Each operation is tried twice: through the bot (a forged button, the
command or the photo a person would send) and by calling storage directly, which proves the
refusal lives in storage and not in a handler. Nothing changes: no seat, meetup, check-in,
evidence row, rating, report, ledger entry or voucher. A suspension that has ended lets the
person act again.

"Deleted" here is the flag alone (`deleted_at`, no registration), without whatever else
`/deleteme` clears: the check must hold even for a seat or a balance left behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import accounts, errors, evidence, feedback, ledger, market, meetings, moderation
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.models import (
    Balance,
    Evidence,
    Feedback,
    LedgerEntry,
    Meeting,
    OutboxMessage,
    Participation,
    Region,
    Report,
    User,
    VoucherCode,
)
from storage.users import grant_admin
from tests import photo_corpus as corpus
from tests.harness import BotHarness
from tests.people import (
    RULES,
    SEOUL,
    Neighbour,
    assert_money_is_sound,
    find_mission,
    send_photo,
    stock_codes,
)
from ui import callbacks, fallback
from ui.callbacks import Action
from ui.i18n import t
from ui.refusals import refusal

STATES = ("deleted", "suspended", "banned")
LANGS = {"deleted": "ko", "suspended": "en", "banned": "ko"}
OPERATOR = 7_000_001  # an admin without an account, who bans
CSV = "item,name_ko,name_en,cost,code\n" + "".join(
    f"coffee,아메리카노,Americano,500,CAFE-{n:04d}-AMER\n" for n in range(6)
)
PAID = 1200  # what each person holds before trying to exchange


# --------------------------------------------------------------------------- people and states


async def mark(sessions: SessionFactory, clock: FrozenClock, user_id: int, state: str) -> None:
    """Puts a registered person in `state`: deleted (as `/deleteme` flags an account),
    suspended for a week (as a moderator's decision does) or banned (`moderation.ban`)."""
    now = clock.now()
    async with transaction(sessions) as s:
        user = await s.get(User, user_id)
        assert user is not None
        if state == "deleted":
            user.deleted_at, user.registered_at, user.display_name = now, None, ""
        elif state == "suspended":
            user.suspended_until = now + moderation.SUSPENSION
        else:
            await grant_admin(s, OPERATOR, clock)
            await moderation.ban(s, user_id, OPERATOR)


def expected(state: str, until: datetime, reason: str) -> errors.DomainError:
    """The refusal a person in `state` gets for the action `reason`."""
    if state == "deleted":
        return errors.AccountDeleted(reason)
    if state == "suspended":
        return errors.Suspended(until, reason)
    return errors.Banned(reason)


async def register(sessions: SessionFactory, clock: FrozenClock, user_id: int) -> int:
    """A verified person of 잠실동, signed up directly in storage."""
    async with transaction(sessions) as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        await accounts.register(
            s,
            accounts.Registration(
                user_id=user_id, language="ko", display_name=f"person {user_id}",
                phone_hash=f"hash-{user_id}", phone_masked="010-****-0000", region_id=region.id,
                region_verified=True, interests=["walking"], preferred_times=["evening"],
            ),
            clock.now(),
        )  # fmt: skip
    return user_id


async def snapshot(sessions: SessionFactory) -> dict[str, Any]:
    """Everything one of these refused actions could change."""
    async with sessions() as s:

        async def count(model: Any) -> int:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "meetings": sorted((await s.execute(select(Meeting.id, Meeting.status))).all()),
            "seats": sorted(
                (
                    await s.execute(
                        select(
                            Participation.meeting_id,
                            Participation.user_id,
                            Participation.status,
                            Participation.checked_in_at,
                        )
                    )
                ).all()
            ),
            "evidence": await count(Evidence),
            "feedback": await count(Feedback),
            "reports": await count(Report),
            "ledger": await count(LedgerEntry),
            "outbox": await count(OutboxMessage),
            "balances": sorted((await s.execute(select(Balance.user_id, Balance.points))).all()),
            "vouchers": sorted(
                (await s.execute(select(VoucherCode.code, VoucherCode.issued_to))).all()
            ),
            "trust": sorted((await s.execute(select(User.id, User.trust_score))).all()),
        }


# --------------------------------------------------------------------------- scenes


async def new_meetup(sessions: SessionFactory, clock: FrozenClock, host: int, hours: float) -> int:
    mission = await find_mission(sessions)
    async with transaction(sessions) as s:
        meeting = await meetings.create(
            s, host_id=host, mission_id=mission.id,
            starts_at=clock.now() + timedelta(hours=hours),
            place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
            capacity=6, note=None, rules=RULES, now=clock.now(),
        )  # fmt: skip
        return meeting.id


async def join_all(
    sessions: SessionFactory, clock: FrozenClock, meeting_id: int, *people: int
) -> None:
    for person in people:
        async with transaction(sessions) as s:
            await meetings.join(s, meeting_id, person, RULES, clock.now())


async def under_way(sessions: SessionFactory, clock: FrozenClock, host: int, *people: int) -> int:
    """A meetup that started 10 minutes ago, with the host and `people` checked in."""
    meeting_id = await new_meetup(sessions, clock, host, 1)
    await join_all(sessions, clock, meeting_id, *people)
    clock.advance(timedelta(minutes=55))  # check-in opens 15 minutes before the start
    async with transaction(sessions) as s:
        await meetings.open_checkin(s, meeting_id, host, RULES, clock.now())
        for person in people:
            await meetings.check_in(s, meeting_id, person, RULES, clock.now())
    clock.advance(timedelta(minutes=10))
    return meeting_id


async def finished(sessions: SessionFactory, clock: FrozenClock, host: int, *people: int) -> int:
    """A meetup the host and `people` attended, now over."""
    meeting_id = await under_way(sessions, clock, host, *people)
    clock.advance(timedelta(hours=2))
    async with transaction(sessions) as s:
        assert meeting_id in await meetings.finish_due(s, RULES, clock.now())
    return meeting_id


async def paid(sessions: SessionFactory, clock: FrozenClock, *people: int) -> int:
    """Codes in stock and `PAID` points for each of `people`; returns the item's id."""
    await stock_codes(sessions, CSV)
    async with transaction(sessions) as s:
        for person in people:
            await ledger.post(s, user_id=person, amount=PAID, kind=ledger.REWARD,
                              reference=f"test:{person}", now=clock.now())  # fmt: skip
        [shelf] = await market.shelves(s)
        return shelf.item.id


# --------------------------------------------------------------------------- storage, directly

# Each operation: prepares what it needs for the host and three people (so that, allowed, the
# call would succeed), and returns the call for one person.
Call = Callable[[Any, int], Awaitable[object]]
Setup = Callable[[SessionFactory, FrozenClock, int, list[int]], Awaitable[Call]]


async def _join(sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]) -> Call:
    meeting_id = await new_meetup(sessions, clock, host, 3)
    return lambda s, person: meetings.join(s, meeting_id, person, RULES, clock.now())


async def _host(sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]) -> Call:
    mission = await find_mission(sessions)
    place = meetings.Place("석촌호수", mission.place_lat, mission.place_lon)
    return lambda s, person: meetings.create(
        s, host_id=person, mission_id=mission.id, starts_at=clock.now() + timedelta(hours=3),
        place=place, capacity=4, note=None, rules=RULES, now=clock.now(),
    )  # fmt: skip


async def _checkin(
    sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]
) -> Call:
    meeting_id = await new_meetup(sessions, clock, host, 1)
    await join_all(sessions, clock, meeting_id, *people)
    clock.advance(timedelta(minutes=55))
    return lambda s, person: meetings.check_in(s, meeting_id, person, RULES, clock.now())


async def _photo(
    sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]
) -> Call:
    meeting_id = await under_way(sessions, clock, host, *people)
    return lambda s, person: evidence.submit(
        s, user_id=person, meeting_id=meeting_id,
        upload=evidence.Upload(f"file-{person}", f"unique-{person}", False),
        now=clock.now(), rules=evidence.EvidenceRules(),
    )  # fmt: skip


async def _rate(sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]) -> Call:
    meeting_id = await finished(sessions, clock, host, *people)
    return lambda s, person: feedback.rate(s, meeting_id, person, host, 5, clock.now())


async def _report(
    sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]
) -> Call:
    meeting_id = await finished(sessions, clock, host, *people)
    return lambda s, person: moderation.file_report(
        s, reporter_id=person, reported_id=host, meeting_id=meeting_id, reason="harassment",
        details="rude", admin_chat_id=None, now=clock.now(),
    )  # fmt: skip


async def _exchange(
    sessions: SessionFactory, clock: FrozenClock, host: int, people: list[int]
) -> Call:
    item_id = await paid(sessions, clock, *people)
    return lambda s, person: market.exchange(
        s, user_id=person, item_id=item_id, request="direct", now=clock.now()
    )


OPERATIONS: dict[str, Setup] = {
    "join": _join,
    "host": _host,
    "checkin": _checkin,
    "photo": _photo,
    "rate": _rate,
    "report": _report,
    "exchange": _exchange,
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.usefixtures("seeded")
async def test_storage_refuses_people_who_may_not_act(
    sessions: SessionFactory, clock: FrozenClock, operation: str
) -> None:
    host = await register(sessions, clock, 100)
    people = {state: await register(sessions, clock, 200 + n) for n, state in enumerate(STATES)}
    call = await OPERATIONS[operation](sessions, clock, host, list(people.values()))
    for state, person in people.items():
        await mark(sessions, clock, person, state)
    before = await snapshot(sessions)
    for state, person in people.items():
        want = expected(state, clock.now() + moderation.SUSPENSION, operation)
        with pytest.raises(errors.DomainError) as refused:
            async with transaction(sessions) as s:
                await call(s, person)
        assert type(refused.value) is type(want), state
        assert refused.value.reason == operation
        if isinstance(want, errors.Suspended):
            assert isinstance(refused.value, errors.Suspended)
            assert refused.value.until == want.until
    assert await snapshot(sessions) == before
    await assert_money_is_sound(sessions)


# --------------------------------------------------------------------------- through the bot


# Through the bot, a banned person never reaches the features: the ban gate in front of them
# (handlers/banned.py) answers everything with the final message, read with each update
# (tests/test_bans_and_reports.py). Storage's own refusal of the banned is the direct calls'.
BOT_STATES = ("deleted", "suspended")


async def cast(bot: BotHarness) -> tuple[Neighbour, dict[str, Neighbour]]:
    """A host and a neighbour for each state the features see (registered, allowed for now)."""
    host = await Neighbour(bot, "지훈").register()
    people = {
        state: await Neighbour(bot, name, lang=LANGS[state]).register()
        for state, name in zip(BOT_STATES, ("민지", "Mina"), strict=True)
    }
    return host, people


async def refuse_all(
    bot: BotHarness,
    people: dict[str, Neighbour],
    operation: str,
    act: Callable[[Neighbour], Awaitable[str]],
) -> None:
    """Marks each person, then has them `act` (which returns what the bot told them): each
    hears their polite refusal, and nothing changes."""
    for state, person in people.items():
        await mark(bot.sessions, bot.clock, person.id, state)
    until = bot.clock.now() + moderation.SUSPENSION
    before = await snapshot(bot.sessions)
    for state, person in people.items():
        told = await act(person)
        assert told == refusal(person.lang, expected(state, until, operation), SEOUL), state
    await bot.run_outbox()
    assert await snapshot(bot.sessions) == before
    await assert_money_is_sound(bot.sessions)


def last_message(person: Neighbour) -> dict[str, Any]:
    return person.bot.bot_messages(person.id)[-1]


async def press(person: Neighbour, action: str, *args: str | int) -> str:
    """A forged press of `action` under the person's newest message; what it told them."""
    await person.press_data(last_message(person), callbacks.encode(action, *args))
    return person.alert()


@pytest.mark.usefixtures("seeded")
async def test_a_forged_join_is_refused(bot: BotHarness) -> None:
    host, people = await cast(bot)
    meeting_id = await new_meetup(bot.sessions, bot.clock, host.id, 3)
    await refuse_all(bot, people, "join", lambda p: press(p, Action.MEETUP_JOIN, meeting_id))


@pytest.mark.usefixtures("seeded")
async def test_a_forged_host_button_is_refused(bot: BotHarness) -> None:
    _host, people = await cast(bot)
    mission = await find_mission(bot.sessions)
    await refuse_all(bot, people, "host", lambda p: press(p, Action.MEETUP_NEW, mission.id))
    # The hosting conversation did not start: the next text is not read as a time.
    person = people["suspended"]
    replies = await person.say("19:30")
    assert not any("석촌호수" in (m.get("text") or "") for m in replies)


@pytest.mark.usefixtures("seeded")
async def test_a_check_in_is_refused(bot: BotHarness) -> None:
    host, people = await cast(bot)
    meeting_id = await new_meetup(bot.sessions, bot.clock, host.id, 1)
    await join_all(bot.sessions, bot.clock, meeting_id, *(p.id for p in people.values()))
    bot.clock.advance(timedelta(minutes=55))
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.checkin_code
        code = meeting.checkin_code

    async def check_in(person: Neighbour) -> str:
        return str((await person.say(f"/checkin {code}"))[-1]["text"])

    await refuse_all(bot, people, "checkin", check_in)


@pytest.mark.usefixtures("seeded")
async def test_a_photo_is_refused(bot: BotHarness) -> None:
    host, people = await cast(bot)
    await under_way(bot.sessions, bot.clock, host.id, *(p.id for p in people.values()))

    async def photo(person: Neighbour) -> str:
        replies = await send_photo(bot, person, corpus.plain_jpeg(person.id % 50))
        return str(replies[-1]["text"])

    await refuse_all(bot, people, "photo", photo)


@pytest.mark.usefixtures("seeded")
async def test_a_forged_rating_is_refused(bot: BotHarness) -> None:
    host, people = await cast(bot)
    meeting_id = await finished(bot.sessions, bot.clock, host.id, *(p.id for p in people.values()))
    await refuse_all(
        bot, people, "rate", lambda p: press(p, Action.FEEDBACK_STARS, meeting_id, host.id, 1)
    )


@pytest.mark.usefixtures("seeded")
async def test_a_report_is_refused(bot: BotHarness) -> None:
    host, people = await cast(bot)
    meeting_id = await finished(bot.sessions, bot.clock, host.id, *(p.id for p in people.values()))

    async def report(person: Neighbour) -> str:
        await press(person, Action.REPORT_PICK, meeting_id, host.id)
        await press(person, Action.REPORT_REASON, "harassment")
        told = str((await person.say("약속 장소에서 계속 반말을 했어요"))[-1]["text"])
        # The conversation ended with the refusal: the next text is not taken as details, it
        # gets the answer to any text outside a conversation (issue 23).
        again = [m["text"].split("\n")[0] for m in await person.say("한 번 더")]
        outside = (fallback.FIRST_LINES[fallback.Kind.TEXT], fallback.NOT_SIGNED_UP)
        assert again in ([t(person.lang, text)] for text in outside), again
        return told

    await refuse_all(bot, people, "report", report)


@pytest.mark.usefixtures("seeded")
async def test_a_forged_exchange_is_refused(bot: BotHarness) -> None:
    _host, people = await cast(bot)
    item_id = await paid(bot.sessions, bot.clock, *(p.id for p in people.values()))
    await refuse_all(
        bot, people, "exchange", lambda p: press(p, Action.MARKET_BUY, item_id, "forged1")
    )
    for person in people.values():
        assert await _balance(bot, person.id) == PAID


async def _balance(bot: BotHarness, user_id: int) -> int:
    async with bot.sessions() as s:
        return await ledger.balance(s, user_id)


@pytest.mark.usefixtures("seeded")
async def test_a_suspension_that_has_ended_lets_the_person_act_again(bot: BotHarness) -> None:
    host, people = await cast(bot)
    person = people["suspended"]
    meeting_id = await new_meetup(bot.sessions, bot.clock, host.id, 8 * 24)
    item_id = await paid(bot.sessions, bot.clock, person.id)
    await mark(bot.sessions, bot.clock, person.id, "suspended")
    until = bot.clock.now() + moderation.SUSPENSION
    refused = refusal("en", errors.Suspended(until), SEOUL)
    assert await press(person, Action.MEETUP_JOIN, meeting_id) == refused
    bot.clock.advance(moderation.SUSPENSION - timedelta(minutes=1))
    assert await press(person, Action.MARKET_BUY, item_id, "early") == refused
    bot.clock.advance(timedelta(minutes=1))  # the suspension ends now
    await press(person, Action.MEETUP_JOIN, meeting_id)
    await person.press_data(
        last_message(person), callbacks.encode(Action.MARKET_BUY, item_id, "n1")
    )
    assert any("CAFE-0000-AMER" in text for text in person.inbox())
    async with bot.sessions() as s:
        seat = await meetings.participation(s, meeting_id, person.id)
        assert seat is not None and seat.status == meetings.JOINED
    assert await _balance(bot, person.id) == PAID - 500
    await assert_money_is_sound(bot.sessions)


@pytest.mark.usefixtures("seeded")
async def test_a_suspension_never_shortens_a_ban(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    """A moderator's 7-day suspension of someone banned leaves the ban (the same column)."""
    host = await register(sessions, clock, 100)
    person = await register(sessions, clock, 201)
    meeting_id = await finished(sessions, clock, host, person)
    await mark(sessions, clock, person, "banned")
    async with transaction(sessions) as s:
        report = await moderation.file_report(
            s, reporter_id=host, reported_id=person, meeting_id=meeting_id, reason="spam",
            details=None, admin_chat_id=None, now=clock.now(),
        )  # fmt: skip
        await moderation.decide(s, report.id, "suspend", OPERATOR, clock.now())
    clock.advance(moderation.SUSPENSION * 2)
    with pytest.raises(errors.Banned):
        async with transaction(sessions) as s:
            await feedback.rate(s, meeting_id, person, host, 5, clock.now())


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_each_refusal_fits_a_press_alert(state: str, lang: str) -> None:
    """A refusal before a press is answered is its alert: Telegram takes 200 characters."""
    text = refusal(lang, expected(state, datetime(2026, 12, 2, 3, 0, tzinfo=SEOUL), "join"), SEOUL)
    assert len(text) <= 200
    assert ("2026-12-02 03:00" in text) == (state == "suspended")
