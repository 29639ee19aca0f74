"""Beyond: a one-time proof word per participant, asked for in the photo, shown to the
reviewer, put to the AI judge, and an older photo (another meetup's word, EXIF before
check-in) flagged for the reviewer."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from storage import meetings
from storage.db import transaction
from storage.models import Evidence, Participation
from tests import photo_corpus as corpus
from tests.harness import BotHarness
from tests.people import (
    RULES,
    Neighbour,
    Scene,
    configure,
    evidence_rows,
    meetup_moment,
    new_meetup,
    review_card,
    run_checks,
    send_photo,
)
from tests.servers import FakeJudge
from verification import proof_words

pytestmark = pytest.mark.usefixtures("seeded")


async def _word(bot: BotHarness, meeting_id: int, user_id: int) -> str:
    async with bot.sessions() as s:
        mine = await meetings.participation(s, meeting_id, user_id)
        assert mine is not None and mine.proof_word
        return mine.proof_word


def _checks(row: Evidence) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in (row.signals or {})["checks"]}


# --------------------------------------------------------------------------- the words


def test_words_are_picked_unique_per_meetup_and_fresh_per_person() -> None:
    taken: set[str] = set()
    for _ in range(10):
        taken.add(proof_words.pick("ko", taken))
    assert len(taken) == 10 and taken <= set(proof_words.words("ko"))
    earlier = set(proof_words.words("en")[:-1])
    assert proof_words.pick("en", set(), earlier) == proof_words.words("en")[-1]
    with pytest.raises(LookupError):
        proof_words.pick("en", set(proof_words.words("en")))


def test_what_the_judge_read_is_compared_with_the_word() -> None:
    assert proof_words.assess("사과", "unsure", "종이에 사과라고 씀", {}).reason == "word_seen"  # type: ignore[union-attr]
    assert proof_words.assess("apple", "unsure", "pineapple", {}).reason == "word_unclear"  # type: ignore[union-attr]
    other = proof_words.assess("apple", "no", "RIVER", {"river": 7})
    assert (
        other is not None
        and other.result == "warn"
        and other.values
        == {
            "word": "river",
            "meeting": 7,
        }
    )
    assert proof_words.assess("apple", "no", "", {}).reason == "word_missing"  # type: ignore[union-attr]
    assert proof_words.assess(None, "yes", "apple", {}) is None
    assert "바다" in proof_words.candidates("바다입니다!")


# --------------------------------------------------------------------------- in the bot


async def test_check_in_gives_a_word_the_reply_and_the_admin_card_show(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, guest.id, RULES, bot.clock.now())
        meeting = (await meetings.view(s, meeting_id)).meeting
    bot.clock.advance(timedelta(minutes=50))
    code = bot.app.bot_data["services"].signer.code(meeting_id, bot.clock.now())
    await guest.say(f"/checkin {code}")
    where = bot.emulator.share_location(guest.id, meeting.place_lat, meeting.place_lon)
    [reply] = await bot.act(guest.id, where)  # the location step (issue 21)
    word = await _word(bot, meeting_id, guest.id)
    assert word in proof_words.words("en")
    assert f"🔤 Your proof word: {word}" in reply["text"]
    assert "Write it on paper or show it on a phone screen" in reply["text"]


async def test_the_admin_card_and_the_ai_judge_get_the_word(
    scene: Scene,
    fake_judge: tuple[FakeJudge, str],
) -> None:
    bot, guest = scene.bot, scene.guest
    fake, url = fake_judge
    word = await _word(bot, scene.meeting_id, guest.id)
    fake.extra = {"word_visible": "yes", "visible_text": word.upper()}
    await configure(
        bot, openai_api_key=SecretStr("test-key"), openai_base_url=url, openai_model="fake-model"
    )
    await send_photo(bot, guest, corpus.plain_jpeg(111))
    assert await run_checks(bot) == 1

    [request] = fake.requests
    asked = json.loads(request["input"][0]["content"][0]["text"])
    assert asked["proof_word"] == word
    assert '"proof_word"' in request["instructions"]
    schema = request["text"]["format"]["schema"]
    assert set(schema["required"]) >= {"word_visible", "visible_text"}
    [row] = await evidence_rows(bot)
    assert _checks(row)["proof_word"]["reason"] == "word_seen" and "proof_word" not in row.flags
    caption = review_card(bot, scene.group_id)["caption"]
    assert f"🔤 Expected proof word: {word}" in caption
    assert f"✅ Proof word {word} is visible" in caption


async def test_a_photo_showing_another_meetups_word_is_flagged(
    scene: Scene,
    fake_judge: tuple[FakeJudge, str],
) -> None:
    bot, guest = scene.bot, scene.guest
    fake, url = fake_judge
    # Another meetup, checked in now: its host holds a Korean word, the guest an English one.
    other_host = await Neighbour(bot, "서연").register()
    other = await new_meetup(bot, other_host, hours=0.25, key="olympic-park-lone-tree")
    async with transaction(bot.sessions) as s:
        await meetings.open_checkin(s, other, other_host.id, RULES, bot.clock.now())
    elsewhere = await _word(bot, other, other_host.id)
    fake.mode = "yes"
    fake.extra = {"word_visible": "no", "visible_text": f"{elsewhere}입니다"}
    await configure(
        bot, openai_api_key=SecretStr("test-key"), openai_base_url=url, openai_model="fake-model"
    )
    await send_photo(bot, guest, corpus.plain_jpeg(112))
    await run_checks(bot)

    [row] = await evidence_rows(bot)
    check = _checks(row)["proof_word"]
    assert (check["result"], check["reason"]) == ("warn", "other_meetup")
    assert (check["word"], check["meeting"]) == (elsewhere, other)
    assert "proof_word" in row.flags and row.status == "in_review"  # flagged, not rejected
    caption = review_card(bot, scene.group_id)["caption"]
    assert f"⚠️ Shows {elsewhere}, the proof word of meetup #{other}" in caption
    assert "look closely" in caption


async def test_a_photo_taken_before_check_in_is_flagged(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    async with bot.sessions() as s:
        checked_in = await s.scalar(
            select(Participation.checked_in_at).where(Participation.user_id == guest.id)
        )
    assert checked_in is not None
    earlier = meetup_moment(bot) - timedelta(hours=3)
    original = corpus.camera_jpeg(113, taken=earlier, gps=corpus.SEOKCHON_LAKE)
    await bot.act(
        guest.id, bot.emulator.send_document(guest.id, original, "IMG_1.JPG", "image/jpeg")
    )
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    assert _checks(row)["checkin"]["reason"] == "before_checkin" and "checkin" in row.flags
    assert (
        f"Taken {earlier:%Y-%m-%d %H:%M}, before check-in"
        in review_card(bot, scene.group_id)["caption"]
    )
