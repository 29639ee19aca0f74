"""Step 1, onboarding: signup (terms, own phone, neighbourhood verified by location, interests),
profile edits, language, account deletion, and every way a person can go off the path."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from storage.db import SessionFactory, transaction
from storage.models import ConversationState, LedgerEntry, Region, User
from tests.harness import BotHarness, buttons
from tests.people import SEOKCHON_LAKE, Person, data_of, sign_up, walk_to_location
from ui import callbacks
from ui.callbacks import Action
from verification import geo

GANGNAM_STATION = (37.4979, 127.0276)  # Gangnam-gu
LAKE_EAST = (37.5096, 127.1054)  # by Seokchon Lake's east lake, in 송파동

pytestmark = pytest.mark.usefixtures("seeded")


async def user_row(sessions: SessionFactory, user_id: int) -> User | None:
    async with sessions() as s:
        return await s.get(User, user_id)


async def test_signup_creates_a_verified_account(bot: BotHarness, sessions: SessionFactory) -> None:
    p = Person(bot)
    first = await p.say("/start")
    assert first[0]["text"].startswith("안녕하세요, 민지님!")
    assert "이용약관" in first[-1]["text"]
    phone_prompt = await p.press("동의합니다")
    keyboard = phone_prompt[-1]["reply_keyboard"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    after_contact = await p.contact()
    assert "010-****-6789" in after_contact[0]["text"]
    districts = [label for label, _ in buttons(after_contact[-1])]
    assert districts[0] == "송파구" and "강남구 (준비 중)" in districts
    dongs = await p.press("송파구")
    assert {"잠실동", "방이동", "석촌동"} <= {label for label, _ in buttons(dongs[-1])}
    await p.press("잠실동")
    verified = await p.location(*SEOKCHON_LAKE)
    assert verified[0]["text"] == "확인됐어요: 잠실동에 계시네요. ✅"
    await p.press("걷기")
    toggled = bot.emulator.transcript(p.id)[-1]
    assert "✅ 걷기" in [label for label, _ in buttons(toggled)]
    await p.press("완료")
    await p.press("저녁")
    summary = (await p.press("완료"))[-1]
    assert "잠실동 (인증됨 ✅)" in summary["text"] and "걷기" in summary["text"]
    welcome = await p.press("확인 ✅")
    assert welcome[-1]["text"].startswith("할사람?에 오신 걸 환영해요, 민지님!")

    user = await user_row(sessions, p.id)
    assert user is not None and user.registered_at is not None
    assert user.phone_masked == "010-****-6789"
    assert user.phone_hash and "6789" not in user.phone_hash
    assert user.region_verified_at is not None
    assert user.interests == ["walking"] and user.preferred_times == ["evening"]
    async with sessions() as s:
        region = await s.get(Region, user.region_id)
        assert region is not None and region.name_ko == "잠실동"
        # Nothing anywhere in the database holds the number itself.
        for table in ("users", "persisted_data", "conversation_states"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
            assert "2345" not in json.dumps([list(map(str, r)) for r in rows])


async def test_start_after_signup_greets_without_asking_again(bot: BotHarness) -> None:
    p = Person(bot)
    await sign_up(p)
    again = await p.say("/start")
    assert len(again) == 1 and again[0]["text"].startswith("안녕하세요, 민지님!")


async def test_declining_the_terms_stores_nothing(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await p.say("/start")
    bye = await p.press("아니요")
    assert "아무것도 저장하지 않았어요" in bye[-1]["text"]
    await bot.app.update_persistence()
    assert await user_row(sessions, p.id) is None
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ConversationState)) == 0


async def test_only_your_own_number_is_accepted(bot: BotHarness) -> None:
    p = Person(bot)
    await p.say("/start")
    await p.press("동의합니다")
    refused = await p.contact(own=False)
    assert "본인 번호가 아니에요" in refused[-1]["text"]
    typed = await p.say("010-1111-2222")
    assert "버튼" in typed[-1]["text"] and typed[-1]["reply_keyboard"]["keyboard"]
    accepted = await p.contact()
    assert "010-****-6789" in accepted[0]["text"]


async def test_one_account_per_number(bot: BotHarness) -> None:
    await sign_up(Person(bot, "민지"))
    twin = Person(bot, "지수")
    await twin.say("/start")
    await twin.press("동의합니다")
    refused = await twin.contact()
    assert "이미 다른 계정" in refused[-1]["text"]


async def test_bad_input_keeps_the_step(bot: BotHarness) -> None:
    p = Person(bot)
    await p.say("/start")
    await p.press("동의합니다")
    await p.contact()
    district_list = p.last[-1]
    photo = await bot.act(p.id, bot.emulator.send_photo(p.id, _tiny_jpeg()))
    assert photo[-1]["text"] == "위의 버튼으로 골라 주세요."
    await p.press("강남구 (준비 중)", district_list)
    assert p.answers()[-1] == "할사람?은 아직 이 구에서 열리지 않았어요. 곧 찾아갈게요!"
    forged = callbacks.encode(Action.DONG, 999999)
    await bot.emulator.press_button(p.id, p.id, district_list["message_id"], forged, force=True)
    await bot.deliver()
    assert p.answers()[-1] == "이전 단계의 버튼이에요. 가장 최근 메시지를 이용해 주세요."
    await bot.emulator.press_button(p.id, p.id, district_list["message_id"], "garbage", force=True)
    await bot.deliver()
    assert p.answers()[-1] == "더 이상 쓸 수 없는 버튼이에요. /start 로 다시 시작해 주세요."
    dongs = await p.press("송파구", district_list)  # still at the district step
    assert "잠실동" in [label for label, _ in buttons(dongs[-1])]


async def test_a_location_elsewhere_says_how_far_and_offers_a_new_pick(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await walk_to_location(p)
    far = await p.location(*GANGNAM_STATION)
    assert far[-1]["text"].startswith("잠실동에서 ") and "km 떨어진 곳이에요" in far[-1]["text"]
    again = await p.press("다른 동네 고르기")
    assert "송파구" in [label for label, _ in buttons(again[-1])]
    await p.press("송파구")
    await p.press("잠실동")
    await p.press("나중에 할게요")
    await p.press("걷기")
    await p.press("완료")
    await p.press("아침")
    summary = (await p.press("완료"))[-1]
    assert "(아직 인증 전)" in summary["text"]
    await p.press("확인 ✅")
    user = await user_row(sessions, p.id)
    assert user is not None and user.registered_at is not None
    assert user.region_verified_at is None


async def test_by_seokchon_lake_the_dong_it_lies_in_is_offered(bot: BotHarness) -> None:
    """By the east lake (37.5096, 127.1054) 잠실동 said "156 m outside" and offered nothing:
    the point lies in 송파동, which is offered (issue 23)."""
    p = Person(bot)
    await walk_to_location(p)  # 잠실동
    offered = (await p.location(*LAKE_EAST))[-1]
    assert offered["text"].startswith("잠실동에서 ") and "송파동이에요" in offered["text"]
    taken = await p.press("송파동으로 하기")
    assert taken[0]["text"] == "확인됐어요: 송파동에 계시네요. ✅"


async def test_inside_a_district_not_open_verifies_nothing(bot: BotHarness) -> None:
    p = Person(bot)
    await walk_to_location(p)
    far = (await p.location(*GANGNAM_STATION))[-1]
    assert "으로 하기" not in str(buttons(far)) and "km 떨어진 곳이에요" in far["text"]


async def test_a_location_in_another_dong_offers_it_and_a_forged_offer_is_stale(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    async with sessions() as s:
        songpa = await s.scalar(select(Region).where(Region.name_ko == "송파동"))
        assert songpa is not None
    inside = (songpa.center_lat, songpa.center_lon)
    assert geo.contains(songpa.boundary, *inside)
    p = Person(bot)
    await walk_to_location(p)  # 잠실동
    forged = callbacks.encode(Action.LOCATION, "use")  # no offer made yet
    asked = p.last[-1]
    await bot.emulator.press_button(p.id, p.id, asked["message_id"], forged, force=True)
    await bot.deliver()
    assert p.answers()[-1].startswith("더 이상 쓸 수 없는 버튼이에요")
    offered = (await p.location(*inside))[-1]
    assert "송파동이에요" in offered["text"]
    assert next(label for label, _ in buttons(offered)) == "송파동으로 하기"
    taken = await p.press("송파동으로 하기")
    assert taken[0]["text"] == "확인됐어요: 송파동에 계시네요. ✅"
    await p.press("걷기")
    await p.press("완료")
    await p.press("아침")
    summary = (await p.press("완료"))[-1]
    assert "송파동" in summary["text"] and "(아직 인증 전)" not in summary["text"]
    await p.press("확인 ✅")
    user = await user_row(sessions, p.id)
    assert user is not None and user.region_id == songpa.id
    assert user.region_verified_at is not None


@pytest.mark.parametrize("kind", ["live", "venue"])
async def test_live_location_and_venue_verify_too(bot: BotHarness, kind: str) -> None:
    p = Person(bot)
    await walk_to_location(p)
    lat, lon = SEOKCHON_LAKE
    if kind == "live":
        reply = await p.location(lat, lon, live_period=900)
    else:
        venue = bot.emulator.send_venue(p.id, lat, lon, "석촌호수", "서울 송파구 잠실동")
        reply = await bot.act(p.id, venue)
    assert reply[0]["text"] == "확인됐어요: 잠실동에 계시네요. ✅"


async def test_a_double_tap_on_confirm_creates_one_account(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await walk_to_location(p)
    await p.location(*SEOKCHON_LAKE)
    await p.press("걷기")
    await p.press("완료")
    await p.press("저녁")
    summary = (await p.press("완료"))[-1]
    confirm = data_of(summary, "확인 ✅")
    await bot.emulator.press_button(p.id, p.id, summary["message_id"], confirm, force=True)
    await bot.emulator.press_button(p.id, p.id, summary["message_id"], confirm, force=True)
    await bot.deliver()
    welcomes = [m for m in bot.bot_messages(p.id) if "환영해요" in m.get("text", "")]
    assert len(welcomes) == 1
    assert p.answers()[-1] == "이미 가입되어 있어요. ✅"
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 1


async def test_a_restart_mid_signup_continues_at_the_same_step(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await p.say("/start")
    await p.press("동의합니다")
    await p.contact()
    await p.press("송파구")
    dong_list = p.last[-1]
    await bot.restart()
    await p.press("잠실동", dong_list)
    assert "위치" in p.last[0]["text"]
    await p.location(*SEOKCHON_LAKE)
    await p.press("걷기")
    await p.press("완료")
    await p.press("저녁")
    await p.press("완료")
    await p.press("확인 ✅")
    user = await user_row(sessions, p.id)
    assert user is not None and user.phone_masked == "010-****-6789"


async def test_cancel_and_timeout_end_politely(bot: BotHarness, sessions: SessionFactory) -> None:
    p = Person(bot)
    await p.say("/start")
    await p.press("동의합니다")
    cancelled = await p.say("/cancel")
    assert "가입을 취소했어요" in cancelled[-1]["text"]
    await p.say("/start")
    await p.press("동의합니다")
    [job] = [j for j in bot.app.job_queue.jobs() if j.callback.__name__ == "_trigger_timeout"]  # type: ignore[union-attr]
    await job.run(bot.app)
    await bot.deliver()
    assert "한동안 아무 입력이 없어서" in bot.bot_messages(p.id)[-1]["text"]
    after = await p.contact()
    assert after == [] or "010-****" not in after[0]["text"]  # the phone step is over
    assert await user_row(sessions, p.id) is None


async def test_commands_that_need_an_account_say_so(bot: BotHarness) -> None:
    p = Person(bot, "James", "en")
    [reply] = await p.say("/profile")
    assert (
        reply["text"] == "You need an account for this. Send /start to sign up; it takes a minute."
    )
    # Nothing to delete: said plainly, not an invitation to sign up first.
    [reply] = await p.say("/deleteme")
    assert reply["text"] == "There is no account to delete."


async def test_profile_card_edits_a_part(bot: BotHarness, sessions: SessionFactory) -> None:
    p = Person(bot)
    await sign_up(p)
    [card] = await p.say("/profile")
    assert "잠실동 (인증됨 ✅)" in card["text"] and "010-****-6789" in card["text"]
    await p.press("관심사", card)
    await p.press("보드게임")
    await p.press("걷기")  # off
    saved = await p.press("완료")
    assert saved[0]["text"] == "저장했어요. ✅" and "보드게임" in saved[-1]["text"]
    user = await user_row(sessions, p.id)
    assert user is not None and user.interests == ["badminton", "board_games"]


async def test_language_switch_is_kept_on_the_account(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    [menu] = await p.say("/language")
    done = await p.press("English", menu)
    assert bot.emulator.transcript(p.id)[-1]["text"] == "Language set to English."
    assert done == [] or done[-1]["text"] == "Language set to English."
    [helped] = await p.say("/help")
    assert helped["text"].startswith("Here is what I can do:")
    user = await user_row(sessions, p.id)
    assert user is not None and user.language == "en"


async def test_deleteme_wipes_personal_data_and_keeps_the_ledger(
    bot: BotHarness, sessions: SessionFactory
) -> None:
    p = Person(bot)
    await sign_up(p)
    async with transaction(sessions) as s:
        s.add(LedgerEntry(user_id=p.id, amount=100, balance_after=100, kind="reward",
                          reference="evidence:1", created_at=bot.clock.now()))  # fmt: skip
    [question] = await p.say("/deleteme")
    await p.press("네, 삭제할게요", question)
    assert "삭제했어요" in bot.emulator.transcript(p.id)[-1]["text"]
    # Nothing keeps the Telegram id: the ledger moved to an anonymous id (storage/erasure.py).
    assert await user_row(sessions, p.id) is None
    async with sessions() as s:
        [entry] = (await s.scalars(select(LedgerEntry))).all()
        user = await s.get(User, entry.user_id)
    assert user is not None and user.deleted_at is not None and user.id < 0
    assert (user.phone_hash, user.phone_masked, user.region_id, user.display_name) == (
        None,
        None,
        None,
        "",
    )
    again = await p.say("/start")
    assert "이용약관" in again[-1]["text"]  # signing up again is possible


def test_point_in_polygon_on_real_coordinates() -> None:
    from storage.seed import _load_json

    features = _load_json("storage", "data/geo/seoul_neighborhoods_geo_simple.json")["features"]

    songpa = [f for f in features if f["properties"]["EMD_CD"].startswith("11710")]

    def where(lat: float, lon: float) -> set[str]:
        inside = (f for f in songpa if geo.contains(f["geometry"], lat, lon))
        return {f["properties"]["EMD_KOR_NM"] for f in inside}

    assert where(*SEOKCHON_LAKE) & {"잠실동", "송파동"}
    assert where(37.5112, 127.0981) & {"잠실동", "송파동"}  # Seokchon lake west lake
    assert where(*GANGNAM_STATION) == set()
    jamsil = next(f for f in features if f["properties"]["EMD_KOR_NM"] == "잠실동")["geometry"]
    assert 3000 < geo.distance_to_area_m(jamsil, *GANGNAM_STATION) < 6000


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_an_answered_question_shows_the_answer_even_when_an_edit_fails(
    bot: BotHarness,
) -> None:
    """Issue 23: the question shows the answer and loses its buttons; an edit that does not get
    through (Telegram unreachable once) still takes the buttons away, and signup goes on."""
    p = Person(bot)
    await p.say("/start")
    await p.press("동의합니다")
    terms = next(m for m in bot.bot_messages(p.id) if "이용약관" in m.get("text", ""))
    assert terms["text"].endswith("\n→ 동의합니다 ✓") and not buttons(terms)
    await p.contact()
    bot.emulator.faults.refuse["editMessageText"] = 1  # the district's edit never arrives
    dongs = await p.press("송파구")
    district = next(m for m in bot.bot_messages(p.id) if m.get("text") == "어느 구에 사세요?")
    assert not buttons(district)  # not edited, but its buttons went
    assert dongs[-1]["text"] == "어느 동에 사세요?" and buttons(dongs[-1])
