"""`/deleteme` deletes everything that identifies the person (issue 20, the first "Done when").

A person signs up in chat (phone, name, username), joins a meetup, checks in, sends a photo
that is approved, rates the host, reports him with a text of their own, exchanges points for a
voucher, holds a seat in a coming meetup and hosts another; then `/deleteme`. Afterwards every
table of `storage.models` (each column rendered as text), every file under the data directory
and every object in the S3 bucket are searched for their phone number (several spellings), name,
username, Telegram id, the text they sent and the photo's bytes (and its SHA-256, the store's
key): nothing is found. What stays is listed in `storage.erasure` and kept under a random
anonymous id: the ledger (balanced, the rest forfeited), ratings, reports, evidence hashes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram import CallbackQuery

from storage import erasure, ledger, meetings
from storage.db import SessionFactory, transaction
from storage.files import S3Config
from storage.models import (
    Base,
    Evidence,
    Feedback,
    InboxUpdate,
    LedgerEntry,
    Meeting,
    OutboxMessage,
    Participation,
    PersistedData,
    Report,
    User,
    VoucherCode,
)
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from tests.people import (
    RULES,
    SEOKCHON_LAKE,
    Neighbour,
    Person,
    action_data,
    admin_group,
    assert_money_is_sound,
    configure,
    find_mission,
    meetup_card,
    meetup_moment,
    new_meetup,
    review_card,
    run_checks,
    seat_counts,
    sign_up,
    stock_codes,
)
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")

TELEGRAM_ID = 7391046285
NAME = "Quillane"
USERNAME = "quillane_k42"
PHONE = "+82 10-7351-2468"
# The spellings a phone number can take anywhere (the mask keeps the last four digits only,
# and the mask goes too).
PHONES = (
    "+82 10-7351-2468", "+821073512468", "821073512468", "01073512468", "010-7351-2468",
    "1073512468", "7351-2468", "73512468", "****-2468",
)  # fmt: skip
SAID = "the host shouted at me near the pier 4471"
NOTE = "I'll wear a yellow scarf 8823"
CSV = "item,name_ko,name_en,cost,code\n" + "".join(
    f"coffee,아메리카노,Americano,50,CAFE-000{n}-AMER\n" for n in (1, 2)
)


class Quillane(Person):
    """The person who will delete their account: a username and an id of their own."""

    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot
        self.user = bot.user(
            NAME, language_code="ko", phone_number=PHONE, username=USERNAME, user_id=TELEGRAM_ID
        )
        self.id = TELEGRAM_ID
        self.last: list[dict[str, Any]] = []


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _found_in_tables(sessions: SessionFactory, needles: list[str]) -> list[str]:
    """Every (table, column, needle) where a column's value, as text, holds a needle."""
    found: list[str] = []
    async with sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(table.select())).mappings():
                for column, value in row.items():
                    text = _text(value)
                    found += [f"{table.name}.{column}: {n!r}" for n in needles if n in text]
    return found


def _found_in_files(root: Path, needles: list[bytes]) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]


def _found_in_bucket(config: S3Config, needles: list[bytes]) -> list[str]:
    client = boto3.client(
        "s3", endpoint_url=config.endpoint_url, region_name=config.region,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    found = []
    for item in client.list_objects_v2(Bucket=config.bucket).get("Contents", []):
        body = client.get_object(Bucket=config.bucket, Key=item["Key"])["Body"].read()
        if any(n in body or n in item["Key"].encode() for n in needles):
            found.append(item["Key"])
    return found


async def _journey(bot: BotHarness, tmp_path: Path, s3: S3Config | None) -> dict[str, Any]:
    """Everything the person does before deleting; returns the people and meetups involved."""
    bot.deliveries = 2  # through the durable inbox, as in production (a redelivery dropped)
    person = Quillane(bot)
    await sign_up(person)
    await bot.app.update_persistence()  # user_data stored, as the periodic flush does
    admin, group_id = await admin_group(bot, tmp_path)
    if s3 is not None:
        await configure(
            bot, s3_bucket=s3.bucket, s3_endpoint_url=s3.endpoint_url, s3_region=s3.region,
            s3_access_key_id="test", s3_secret_access_key=SecretStr("test"),
        )  # fmt: skip
    host = await Neighbour(bot, "지훈").register()
    past = await new_meetup(bot, host, hours=1)
    await person.press("참여하기", await meetup_card(bot, person, past))  # type: ignore[arg-type]
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, past, host.id, RULES, bot.clock.now())
        await meetings.check_in(s, past, person.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=10))
    photo = corpus.camera_jpeg(71, taken=meetup_moment(bot), gps=SEOKCHON_LAKE)
    await bot.act(
        person.id, bot.emulator.send_document(person.id, photo, "IMG_0071.JPG", "image/jpeg")
    )
    assert await run_checks(bot) == 1
    card = review_card(bot, group_id)
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()
    await bot.run_outbox()

    request = next(m for m in bot.bot_messages(person.id) if "함께한 사람" in m.get("text", ""))
    await person.press("평가하기", request)
    await person.press("★★★★★")
    [pick] = await person.say("/report")
    await person.press("지훈", pick)
    await person.press("불쾌하게 했어요")
    await person.say(SAID)
    await stock_codes(bot.sessions, CSV)
    [listing] = await person.say("/market")
    confirm = (await person.press("아메리카노 · 50P", listing))[-1]
    code = (await person.press("교환하기 ✅", confirm))[-1]
    assert "CAFE-0001-AMER" in code["text"]

    # A seat in a coming meetup that is full, with someone waiting; a meetup they host.
    other_host = await Neighbour(bot, "도윤").register()
    coming = await new_meetup(bot, other_host, hours=5, capacity=2, key="ogeum-park-badminton")
    await person.press("참여하기", await meetup_card(bot, person, coming))  # type: ignore[arg-type]
    waiting = await Neighbour(bot, "서연").register()
    async with transaction(bot.sessions) as s:
        seat = await meetings.join(s, coming, waiting.id, RULES, bot.clock.now())
        assert seat.status == meetings.WAITLISTED
    mission = await find_mission(bot.sessions)
    async with transaction(bot.sessions) as s:
        hosted = await meetings.create(
            s, host_id=person.id, mission_id=mission.id,
            starts_at=bot.clock.now() + timedelta(hours=9),
            place=meetings.Place("석촌호수", mission.place_lat, mission.place_lon),
            capacity=4, note=NOTE, rules=RULES, now=bot.clock.now(),
        )  # fmt: skip
        hosted_id = hosted.id
    guest = await Neighbour(bot, "민준").register()
    async with transaction(bot.sessions) as s:
        await meetings.join(s, hosted_id, guest.id, RULES, bot.clock.now())
    await bot.run_outbox()
    await bot.app.update_persistence()
    return {
        "person": person, "photo": photo, "host": host, "past": past, "coming": coming,
        "other_host": other_host, "waiting": waiting, "hosted": hosted_id, "guest": guest,
        "confirm": confirm,
    }  # fmt: skip


async def _what_is_held(sessions: SessionFactory, user_id: int) -> dict[str, int]:
    """Counts of the rows the journey made about the person, before deletion."""
    async with sessions() as s:
        counts = {}
        for name, column in (
            ("inbox", InboxUpdate.user_id), ("outbox", OutboxMessage.chat_id),
            ("evidence", Evidence.user_id), ("feedback", Feedback.from_user_id),
            ("reports", Report.reporter_id), ("ledger", LedgerEntry.user_id),
            ("vouchers", VoucherCode.issued_to), ("seats", Participation.user_id),
        ):  # fmt: skip
            counts[name] = int(await s.scalar(select(func.count()).where(column == user_id)) or 0)
        counts["user_data"] = int(
            await s.scalar(select(func.count()).where(PersistedData.key == str(user_id))) or 0
        )
    return counts


@pytest.mark.parametrize("store", ["local", "s3"])
async def test_deleteme_leaves_nothing_that_identifies_the_person(
    bot: BotHarness, tmp_path: Path, moto_s3: S3Config, store: str
) -> None:
    s3 = moto_s3 if store == "s3" else None
    scene = await _journey(bot, tmp_path, s3)
    person, photo = scene["person"], scene["photo"]
    held = await _what_is_held(bot.sessions, person.id)
    # The journey really left data everywhere the search will look.
    assert all(held.values()), held
    balance = await ledger_balance(bot.sessions, person.id)
    assert balance > 0
    needles = [*PHONES, NAME, USERNAME, str(TELEGRAM_ID), SAID, NOTE,
               hashlib.sha256(photo).hexdigest()]  # fmt: skip
    assert await _found_in_tables(bot.sessions, needles)  # before: found
    photos_root = tmp_path / "photos"
    stored_in = (
        _found_in_bucket(moto_s3, [photo]) if s3 is not None else _found_in_files(tmp_path, [photo])
    )
    assert stored_in  # the photo is in the store before

    [question] = await person.say("/deleteme")
    text = question["text"]
    assert f"{balance}포인트는 사라져요" in text
    assert "다가오는 모임의 자리: 1" in text and "아직 시작하지 않은 주최 모임: 1" in text
    assert "익명" in text  # what is kept anonymously, and why
    await person.press("네, 삭제할게요", question)
    done = bot.emulator.transcript(person.id)[-1]["text"]
    assert "삭제했어요" in done and f"{balance}포인트" in done
    # Their stored user_data is gone at once, and PTB's copy in memory with it (else the next
    # flush would write it back).
    async with bot.sessions() as s:
        assert (
            await s.scalar(select(PersistedData).where(PersistedData.key == str(person.id))) is None
        )
    assert person.id not in bot.app.user_data
    await bot.app.update_persistence()
    await bot.run_outbox()

    # Nothing that identifies them, in any table, file or object.
    assert await _found_in_tables(bot.sessions, needles) == []
    assert _found_in_files(tmp_path, [photo]) == []
    if s3 is not None:
        assert _found_in_bucket(moto_s3, [photo, hashlib.sha256(photo).hexdigest().encode()]) == []
    else:
        assert not any(p.is_file() for p in photos_root.rglob("*"))

    # What is kept, anonymously, under one random negative id.
    async with bot.sessions() as s:
        assert await s.get(User, person.id) is None
        [anonymous] = (await s.scalars(select(User).where(User.deleted_at.is_not(None)))).all()
        assert anonymous.id < 0 and anonymous.display_name == "" and anonymous.phone_hash is None
        entries = (
            await s.scalars(select(LedgerEntry).where(LedgerEntry.user_id == anonymous.id))
        ).all()
        kinds = sorted(e.kind for e in entries)
        assert kinds == ["adjustment", "exchange", "reward"]
        forfeit = next(e for e in entries if e.kind == "adjustment")
        assert forfeit.amount == -balance and forfeit.balance_after == 0
        assert await ledger.balance(s, anonymous.id) == 0
        [voucher] = (
            await s.scalars(select(VoucherCode).where(VoucherCode.issued_to.is_not(None)))
        ).all()
        assert voucher.issued_to == anonymous.id and voucher.ledger_entry_id is not None
        [evidence] = (await s.scalars(select(Evidence))).all()
        assert (evidence.user_id, evidence.status) == (anonymous.id, "approved")
        assert evidence.phash and evidence.storage_key is None and evidence.exif_lat is None
        [rating] = (await s.scalars(select(Feedback))).all()
        assert (rating.from_user_id, rating.to_user_id) == (anonymous.id, scene["host"].id)
        [report] = (await s.scalars(select(Report))).all()
        assert (report.reporter_id, report.details) == (anonymous.id, None)
        assert report.reported_id == scene["host"].id and report.reason
        hosted = await s.get(Meeting, scene["hosted"])
        assert hosted is not None and hosted.status == "cancelled" and hosted.note is None
    await assert_money_is_sound(bot.sessions)

    # Their seat went to the person waiting, the host was told; their meetup's guest was told.
    assert await seat_counts(bot.sessions, scene["coming"]) == {"joined": 2, "left": 1}
    assert any("참여자님이" in t and "나갔어요" in t for t in scene["other_host"].inbox())
    assert any("자리가 났어요" in t for t in scene["waiting"].inbox())
    assert any("모임을 취소했어요" in t for t in scene["guest"].inbox())

    # The old exchange card pressed again (a forged or late press) buys nothing.
    confirm = scene["confirm"]
    data = next(d for label, d in buttons(confirm) if label == "교환하기 ✅")
    await bot.emulator.press_button(
        person.id, confirm["chat"]["id"], confirm["message_id"], data, force=True
    )
    await bot.deliver()
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 3
        assert await s.scalar(select(func.count()).where(VoucherCode.issued_to.is_not(None))) == 1

    # The number can sign up again, as a new person.
    again = await person.say("/start")
    assert "이용약관" in again[-1]["text"]


async def ledger_balance(sessions: SessionFactory, user_id: int) -> int:
    async with sessions() as s:
        return await ledger.balance(s, user_id)


async def test_the_confirmation_is_in_english_too(bot: BotHarness) -> None:
    person = await Neighbour(bot, "Mina", lang="en").register()
    async with transaction(bot.sessions) as s:
        await ledger.post(s, user_id=person.id, amount=120, kind=ledger.REWARD,
                          reference="test:120", now=bot.clock.now())  # fmt: skip
    [question] = await person.say("/deleteme")
    assert "Your 120 points will be forfeited" in question["text"]
    assert "Kept with nothing that links them to you" in question["text"]
    await person.press(question, "No, keep it")
    assert bot.emulator.transcript(person.id)[-1]["text"] == "Good, nothing was deleted."
    async with bot.sessions() as s:
        assert await s.get(User, person.id) is not None
        preview = await erasure.preview(s, person.id, bot.clock.now())
    assert preview.balance == 120


async def test_a_flush_while_the_bot_answers_does_not_bring_their_data_back(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PTB's periodic persistence flush can run while the confirm handler awaits Telegram; the
    person's user_data must not come back in memory nor in the table afterwards."""
    person = await Neighbour(bot, "Mina", lang="en").register()
    await person.say("/language")  # something in their user_data, written by a flush
    await bot.app.update_persistence()
    [question] = await person.say("/deleteme")
    edit = CallbackQuery.edit_message_text

    async def flush_then_edit(self: CallbackQuery, *args: Any, **kwargs: Any) -> Any:
        await bot.app.update_persistence()  # the periodic flush, during the handler's await
        return await edit(self, *args, **kwargs)

    monkeypatch.setattr(CallbackQuery, "edit_message_text", flush_then_edit)
    await person.press(question, "Yes, delete my account")
    await bot.app.update_persistence()
    assert person.id not in bot.app.user_data
    async with bot.sessions() as s:
        stored = await s.scalar(select(PersistedData).where(PersistedData.key == str(person.id)))
    assert stored is None
