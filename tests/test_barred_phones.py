"""Deleting the account is no way around a suspension or a ban (issue 20).

`/deleteme` frees the phone number so it can sign up again, except while a moderator's
suspension or ban still runs: then only the keyed phone hash (the HMAC signup uses, never the
number) stays in `barred_phones` until the suspension ends, and signup refuses the number
politely until then (a ban: while it stands). Someone not suspended leaves no row and can sign
up again at once. The retention job deletes the rows whose suspension has ended. On SQLite and
PostgreSQL, with the test clock moved by hand.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from bot.services import SERVICES_KEY
from scheduler import retention as job
from storage import accounts, errors, moderation
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.files import LocalFileStore
from storage.models import BarredPhone, Region, User
from storage.users import grant_admin
from tests.harness import BotHarness
from tests.people import PHONE, SEOKCHON_LAKE, Neighbour, Person
from ui.i18n import t
from ui.refusals import TABLE
from verification import phone

pytestmark = pytest.mark.usefixtures("seeded")

OPERATOR = 7_000_002  # an admin without an account, who bans
BARRED = "phone_barred"


def keyed(bot: BotHarness) -> str:
    """The hash signup keeps of the person's number (`PHONE`)."""
    return phone.protected_hash(bot.settings.secret(), PHONE)


async def sign_up(p: Person) -> None:
    """The whole signup through the chat, from `/start`."""
    await p.say("/start")
    await p.press("동의합니다")
    shared = await share_again(p)
    assert "010-****-6789" in shared, shared
    await finish_signup(p)


async def finish_signup(p: Person) -> None:
    """From the district step (the number accepted) to the welcome."""
    await p.press("송파구")
    await p.press("잠실동")
    await p.location(*SEOKCHON_LAKE)
    for label in ("걷기", "완료", "저녁", "완료"):
        await p.press(label)
    welcome = await p.press("확인 ✅")
    assert "환영" in welcome[-1]["text"], welcome[-1]["text"]


async def put_in(bot: BotHarness, user_id: int, state: str) -> datetime | None:
    """Suspends the person for a week (as an upheld report does), bans them
    (`moderation.ban`), lets a past suspension end, or leaves them be; returns
    `suspended_until`."""
    now = bot.clock.now()
    async with transaction(bot.sessions) as s:
        user = await s.get(User, user_id)
        assert user is not None
        if state == "suspended":
            user.suspended_until = now + moderation.SUSPENSION
        elif state == "banned":
            await grant_admin(s, OPERATOR, bot.clock)
            await moderation.ban(s, user_id, OPERATOR)
        elif state == "ended":
            user.suspended_until = now - timedelta(minutes=1)
        await s.flush()
        return user.suspended_until


async def delete_account(p: Person) -> str:
    """Deletes the account; the confirmation question's text (what the person was told)."""
    [question] = await p.say("/deleteme")
    await p.press("네, 삭제할게요", question)
    assert "삭제했어요" in p.bot.emulator.transcript(p.id)[-1]["text"]
    return str(question["text"])


async def bars(sessions: SessionFactory) -> list[tuple[str, datetime]]:
    async with sessions() as s:
        rows = await s.execute(
            select(BarredPhone.phone_hash, BarredPhone.until).order_by(BarredPhone.until)
        )
        return [(str(hashed), until) for hashed, until in rows]


async def share_again(p: Person) -> str:
    """Shares the own number at the phone step (after a refusal the step stays); what the bot
    answered, its messages' texts joined."""
    return "\n".join(str(m.get("text", "")) for m in await p.contact())


async def register_directly(
    sessions: SessionFactory, user_id: int, hashed: str, now: datetime
) -> None:
    """Signup's last step called in storage, as a confirm pressed at `now` would."""
    async with transaction(sessions) as s:
        region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
        assert region is not None
        await accounts.register(
            s,
            accounts.Registration(
                user_id=user_id, language="ko", display_name="again", phone_hash=hashed,
                phone_masked="010-****-6789", region_id=region.id, region_verified=True,
                interests=["walking"], preferred_times=["evening"],
            ),
            now,
        )  # fmt: skip


async def check_free(sessions: SessionFactory, user_id: int, hashed: str, now: datetime) -> None:
    async with sessions() as s:
        await accounts.check_phone_free(s, hashed, user_id, now)


# --------------------------------------------------------------------------- suspended


async def test_a_suspended_person_who_deletes_cannot_sign_up_again_until_it_ends(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    until = await put_in(bot, p.id, "suspended")
    assert until is not None
    asked = await delete_account(p)
    # Told before confirming, in local time, that the number stays barred until then.
    local = until.astimezone(bot.app.bot_data[SERVICES_KEY].settings.zone)
    assert f"{local:%Y-%m-%d %H:%M}까지 이용 정지" in asked and "다시 가입할 수 없고" in asked
    # Only the keyed hash stays, until the suspension's end: not the number, not its plain
    # SHA-256, nothing else of the person (the table has three columns).
    hashed = keyed(bot)
    assert await bars(sessions) == [(hashed, until)]
    digits = phone.normalize(PHONE)
    assert hashed != hashlib.sha256(digits.encode()).hexdigest()
    assert hashed != phone.protected_hash(b"another secret", PHONE)
    columns = {c.name for c in inspect(BarredPhone).columns}
    assert columns == {"phone_hash", "until", "created_at"}
    async with sessions() as s:
        assert await s.get(User, p.id) is None  # the account itself is gone

    refused_ko = t("ko", TABLE[BARRED])
    await p.say("/start")
    await p.press("동의합니다")
    assert await share_again(p) == refused_ko
    assert "관리자" in refused_ko and "정지" not in refused_ko  # whom to ask, not why
    # The storage operations refuse it too, not only the step: the number check and the
    # account's creation (a confirm) alike.
    with pytest.raises(errors.PhoneBarred):
        await check_free(sessions, p.id, hashed, bot.clock.now())
    with pytest.raises(errors.PhoneBarred) as confirm:
        await register_directly(sessions, p.id, hashed, bot.clock.now())
    assert confirm.value.reason == "confirm"

    bot.clock.set(until - timedelta(minutes=1))
    assert await share_again(p) == refused_ko
    bot.clock.set(until)  # the suspension has ended: the number signs up again
    assert "010-****-6789" in await share_again(p)
    await finish_signup(p)
    async with sessions() as s:
        user = await s.get(User, p.id)
    assert user is not None and user.phone_hash == hashed and user.suspended_until is None


async def test_a_barred_number_cannot_be_moved_to_another_account(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    """A profile edit to the barred number is refused as well ("edit"); nothing changes."""
    p = Person(bot)
    await sign_up(p)
    await put_in(bot, p.id, "suspended")
    await delete_account(p)
    other = await Neighbour(bot, "지수").register()
    change = accounts.ProfileChange(phone_hash=keyed(bot), phone_masked="010-****-6789")
    with pytest.raises(errors.PhoneBarred) as edit:
        async with transaction(sessions) as s:
            await accounts.change_profile(s, other.id, change, bot.clock.now())
    assert edit.value.reason == "edit"
    async with sessions() as s:
        user = await s.get(User, other.id)
    assert user is not None and user.phone_hash == f"hash-{other.id}"


# --------------------------------------------------------------------------- banned


async def test_a_banned_person_who_deletes_cannot_sign_up_again(
    bot: BotHarness, sessions: SessionFactory, tmp_path: Path
) -> None:
    p = Person(bot)
    await sign_up(p)
    assert await put_in(bot, p.id, "banned") == accounts.BANNED_UNTIL
    assert "영구 정지" in await delete_account(p)
    assert await bars(sessions) == [(keyed(bot), accounts.BANNED_UNTIL)]
    await p.say("/start")
    await p.press("동의합니다")
    assert await share_again(p) == t("ko", TABLE[BARRED])
    bot.clock.advance(timedelta(days=3650))  # a ban has no end
    assert await share_again(p) == t("ko", TABLE[BARRED])
    swept = await job.sweep(sessions, LocalFileStore(tmp_path), bot.clock, job.Windows())
    assert swept.barred == 0
    assert await bars(sessions) == [(keyed(bot), accounts.BANNED_UNTIL)]
    with pytest.raises(errors.PhoneBarred):
        await register_directly(sessions, p.id, keyed(bot), bot.clock.now())


# --------------------------------------------------------------------------- not suspended


@pytest.mark.parametrize("state", ["never", "ended"])
async def test_someone_not_suspended_leaves_no_row_and_signs_up_again_at_once(
    bot: BotHarness, sessions: SessionFactory, state: str
) -> None:
    """Never suspended, or suspended once and the suspension over: the number is free."""
    p = Person(bot)
    await sign_up(p)
    await put_in(bot, p.id, state)
    assert "정지" not in await delete_account(p)
    assert await bars(sessions) == []
    await sign_up(p)
    async with sessions() as s:
        user = await s.get(User, p.id)
        count = await s.scalar(select(func.count()).select_from(BarredPhone))
    assert user is not None and user.phone_hash == keyed(bot) and count == 0


# --------------------------------------------------------------------------- retention


async def test_the_retention_job_deletes_bars_whose_suspension_ended(
    sessions: SessionFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    now = clock.now()
    rows = {
        "ended-long-ago": now - timedelta(days=30),
        "ended-a-minute-ago": now - timedelta(minutes=1),
        "ends-now": now,
        "ends-in-a-minute": now + timedelta(minutes=1),
        "ends-next-week": now + moderation.SUSPENSION,
        "banned": accounts.BANNED_UNTIL,
    }
    async with transaction(sessions) as s:
        for hashed, until in rows.items():
            s.add(BarredPhone(phone_hash=hashed, until=until, created_at=now - timedelta(days=40)))
    store = LocalFileStore(tmp_path)
    swept = await job.sweep(sessions, store, clock, job.Windows(), batch=2)
    assert swept.barred == 3
    kept = ["ends-in-a-minute", "ends-next-week", "banned"]
    assert [h for h, _ in await bars(sessions)] == kept
    assert (await job.sweep(sessions, store, clock, job.Windows())).barred == 0  # idempotent
    # The numbers whose bar is gone sign up again; the others are still refused.
    for hashed in rows:
        if hashed in kept:
            with pytest.raises(errors.PhoneBarred):
                await check_free(sessions, 1, hashed, now)
        else:
            await check_free(sessions, 1, hashed, now)
    clock.advance(moderation.SUSPENSION)
    assert (await job.sweep(sessions, store, clock, job.Windows())).barred == 2
    assert [h for h, _ in await bars(sessions)] == ["banned"]
