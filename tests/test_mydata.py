"""`/mydata` (issue 20, PIPA's right of access): after a whole journey — signup in the chat,
joining a meetup, checking in, a photo approved, a rating, a report, a voucher, a meetup of her
own — the person receives one JSON document that parses and holds every item she created; on
both databases. Someone without an account gets the invitation to sign up, and no file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage import feedback, meetings
from storage.db import transaction
from storage.models import (
    Evidence,
    Feedback,
    LedgerEntry,
    Meeting,
    Participation,
    Report,
    VoucherCode,
)
from tests import photo_corpus as corpus
from tests.harness import BotHarness
from tests.people import (
    PHONE,
    RULES,
    Neighbour,
    Person,
    action_data,
    admin_group,
    find_mission,
    meetup_card,
    new_meetup,
    review_card,
    run_checks,
    sign_up,
    stock_codes,
)
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


async def _journey(bot: BotHarness, tmp_path: Path) -> tuple[Person, Neighbour, dict[str, Any]]:
    """민지 signs up, joins 지훈's meetup, checks in, sends a photo an admin approves, rates
    지훈 and is rated, reports him, exchanges her points and hosts a meetup of her own."""
    minji = Person(bot)
    await sign_up(minji)
    host = await Neighbour(bot, "지훈").register()
    admin, group_id = await admin_group(bot, tmp_path)
    mission = await find_mission(bot.sessions)
    meeting_id = await new_meetup(bot, host, hours=1)
    await minji.press("참여하기", await _card(bot, minji, meeting_id))
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, meeting_id, host.id, RULES, bot.clock.now())
        await meetings.check_in(s, meeting_id, minji.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=10))
    await bot.act(minji.id, bot.emulator.send_photo(minji.id, corpus.plain_jpeg(7)))
    await run_checks(bot)
    photo_card = review_card(bot, group_id)
    await bot.press(admin.user, photo_card, action_data(photo_card, Action.REVIEW_APPROVE))

    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()
    await bot.run_outbox()
    request = next(m for m in bot.bot_messages(minji.id) if "함께한 사람" in m.get("text", ""))
    [ask] = await minji.press("평가하기", request)
    await minji.press("★★★★★", ask)
    await minji.press("시간 약속을 잘 지켜요")
    async with transaction(bot.sessions) as s:
        await feedback.rate(s, meeting_id, host.id, minji.id, 4, bot.clock.now())

    [pick] = await minji.say("/report")
    await minji.press("지훈", pick)
    await minji.press("불쾌하게 했어요")
    await minji.say("약속 장소에서 계속 반말을 했어요")

    await stock_codes(
        bot.sessions, f"item,name_ko,name_en,cost,code\ncoffee,아메리카노,Americano,"
        f"{mission.points},CAFE-0000-AMER\n"
    )  # fmt: skip
    [listing] = await minji.say("/market")
    await minji.press(f"아메리카노 · {mission.points}P", listing)
    [code] = await minji.press("교환하기 ✅")
    assert "CAFE-0000-AMER" in code["text"]

    async with transaction(bot.sessions) as s:
        own = await meetings.create(
            s, host_id=minji.id, mission_id=mission.id,
            starts_at=bot.clock.now() + timedelta(days=1),
            place=meetings.Place("석촌호수 동호", mission.place_lat, mission.place_lon),
            capacity=4, note="돗자리 가져올게요", rules=RULES, now=bot.clock.now(),
        )  # fmt: skip
    return minji, host, {"meeting_id": meeting_id, "own": own.id, "mission": mission}


async def _card(bot: BotHarness, person: Person, meeting_id: int) -> dict[str, Any]:
    """A meetup's card as /meetups' buttons open it (`tests.people.meetup_card`)."""
    return await meetup_card(bot, person, meeting_id)  # type: ignore[arg-type]


async def _my_data(bot: BotHarness, person: Person) -> tuple[str, dict[str, Any], str]:
    """Sends /mydata; returns the file's name, its parsed JSON and the caption."""
    before = len(bot.calls("sendDocument"))
    await person.say("/mydata")
    [sent] = bot.calls("sendDocument")[before:]
    name, body = sent.files["document"]
    return name, json.loads(body.decode("utf-8")), str(sent.params.get("caption", ""))


async def test_mydata_holds_everything_the_person_created(bot: BotHarness, tmp_path: Path) -> None:
    minji, host, made = await _journey(bot, tmp_path)
    name, data, caption = await _my_data(bot, minji)
    assert name == "halsaram-mydata-20261125.json"  # her local date
    assert "photo_kept_until" in caption and "/deleteme" in caption

    profile = data["profile"]
    assert (profile["telegram_id"], profile["first_name"]) == (minji.id, "민지")
    assert profile["phone"] == "010-****-6789" and profile["language"] == "ko"
    assert profile["terms_accepted_at"] and profile["registered_at"]
    assert data["neighbourhood"]["name_ko"] == "잠실동" and data["neighbourhood"]["verified_at"]
    assert data["interests"] == ["walking", "badminton"]
    assert data["preferred_times"] == ["evening"]

    # Her seats: the meetup she joined, and her own (a host has a seat in it).
    seats = {j["meeting_id"]: j for j in data["meetups_joined"]}
    assert set(seats) == {made["meeting_id"], made["own"]}
    joined = seats[made["meeting_id"]]
    assert joined["seat"] == "joined"
    assert joined["checked_in_at"] and joined["proof_word"]
    assert joined["meetup_status"] == "finished"
    [check_in] = data["check_ins"]
    assert check_in["meeting_id"] == made["meeting_id"]
    [hosted] = data["meetups_hosted"]
    assert hosted["meeting_id"] == made["own"] and hosted["note"] == "돗자리 가져올게요"
    assert hosted["place"] == "석촌호수 동호" and hosted["meetup_status"] == "open"

    [photo] = data["photos"]
    assert photo["status"] == "approved" and photo["decision"]["decision"] == "approved"
    assert photo["photo_file"] == "kept"
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, made["meeting_id"])
        assert meeting is not None
        ends = meeting.ends_at
    assert photo["photo_kept_until"] == (ends + timedelta(days=180)).date().isoformat()

    points = made["mission"].points
    assert data["points"]["balance"] == 0
    assert [(e["kind"], e["amount"]) for e in data["points"]["ledger"]] == [
        ("reward", points), ("exchange", -points)
    ]  # fmt: skip
    [voucher] = data["vouchers"]
    assert voucher["code"] == "CAFE-0000-AMER" and voucher["item_ko"] == "아메리카노"

    [given] = data["ratings_given"]
    assert (given["person"], given["rating"], given["tags"]) == ("지훈", 5, ["on_time"])
    # Received ratings are anonymous: stars and tags, no rater, meetup or time.
    assert data["ratings_received"] == [{"rating": 4, "tags": []}]
    [report] = data["reports_filed"]
    assert report["about"] == "지훈" and report["details"] == "약속 장소에서 계속 반말을 했어요"

    # Every row in the tables that name her as their author or owner is in the file.
    text = json.dumps(data, ensure_ascii=False)
    async with bot.sessions() as s:
        mine = {
            "participations": select(Participation.meeting_id).where(
                Participation.user_id == minji.id
            ),
            "evidence": select(Evidence.id).where(Evidence.user_id == minji.id),
            "ledger": select(LedgerEntry.id).where(LedgerEntry.user_id == minji.id),
            "vouchers": select(VoucherCode.code).where(VoucherCode.issued_to == minji.id),
            "ratings": select(Feedback.meeting_id).where(Feedback.from_user_id == minji.id),
            "reports": select(Report.id).where(Report.reporter_id == minji.id),
            "hosted": select(Meeting.id).where(Meeting.host_id == minji.id),
        }
        found = {what: list(await s.scalars(query)) for what, query in mine.items()}
    assert all(found.values()), found  # the journey made one of each
    exported = {
        "participations": [j["meeting_id"] for j in data["meetups_joined"]],
        "evidence": [p["evidence_id"] for p in data["photos"]],
        "ledger": [e["entry_id"] for e in data["points"]["ledger"]],
        "vouchers": [v["code"] for v in data["vouchers"]],
        "ratings": [r["meeting_id"] for r in data["ratings_given"]],
        "reports": [r["report_id"] for r in data["reports_filed"]],
        "hosted": [m["meeting_id"] for m in data["meetups_hosted"]],
    }
    assert exported == found
    # Never the number itself, and nothing of the one who rated her.
    assert "2345-6789" not in text and PHONE not in text and "01023456789" not in text
    assert str(host.id) not in text


async def test_mydata_without_an_account_invites_to_sign_up(bot: BotHarness) -> None:
    james = bot.user("James", language_code="en")
    [reply] = await bot.send(james, "/mydata")
    assert reply["text"] == (
        "You need an account for this. Send /start to sign up; it takes a minute."
    )
    assert not bot.calls("sendDocument")
