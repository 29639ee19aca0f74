"""Every conversation that times out says so (issue 23): hosting, the host's message to the
participants, a report, a profile edit, an appeal and a meetup's change each end with a
message in the person's language and leave nothing behind, as signup does
(tests/test_signup.py); the question left open loses its buttons. PTB runs the TIMEOUT
handlers from a job; the tests run that job. Over HTTP, with the bot as its own process:
tests/e2e/test_timeouts_over_http.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import evidence, meetings
from storage.db import transaction
from storage.models import Appeal, Meeting, OutboxMessage, Report, User
from tests.harness import BotHarness, buttons
from tests.people import RULES, Neighbour, Person, Scene, meetup_card, new_meetup, sign_up
from tests.test_mutants_evidence import _decide, _photo
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


async def _time_out(bot: BotHarness) -> None:
    """The conversation's timeout comes: PTB's job runs now."""
    assert bot.app.job_queue is not None
    jobs = [j for j in bot.app.job_queue.jobs() if j.callback.__name__ == "_trigger_timeout"]
    assert len(jobs) == 1
    await jobs[0].run(bot.app)
    await bot.deliver()


def _now(bot: BotHarness, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the chat shows it now (edits applied)."""
    chat = bot.emulator.transcript(message["chat"]["id"])
    return next(m for m in chat if m["message_id"] == message["message_id"])


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_hosting_that_times_out_says_so_and_creates_nothing(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    await host.press(bot.bot_messages(host.id)[-1], "오늘 12:00")
    await _time_out(bot)
    told = bot.bot_messages(host.id)[-1]["text"]
    assert told.startswith("한동안 아무 입력이 없어서 모임 만들기를 멈췄어요")
    # The place buttons no longer lead anywhere, and nothing was created.
    assert await _count(bot, Meeting) == 0
    assert "host" not in bot.app.user_data[host.id]


async def test_a_host_message_that_times_out_sends_nothing_and_says_so(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    await host.press(await meetup_card(bot, host, meeting_id), "✉️ 메시지 보내기")
    await _time_out(bot)
    assert bot.bot_messages(host.id)[-1]["text"].startswith("한동안 메시지가 오지 않아서")
    before = await _count(bot, OutboxMessage)
    await host.say("늦을 것 같아요")  # after the timeout: not taken as the message
    assert await _count(bot, OutboxMessage) == before


async def test_a_report_that_times_out_files_nothing_and_says_so(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    await guest.press(await meetup_card(bot, guest, meeting_id), "참여하기")
    bot.clock.advance(timedelta(minutes=55))
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, guest.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(hours=2))
    await bot.run_meetup_clock()
    [pick] = await guest.say("/report")
    await guest.press(pick, "지훈")
    await guest.press(bot.bot_messages(guest.id)[-1], "불쾌하게 했어요")
    await _time_out(bot)
    assert bot.bot_messages(guest.id)[-1]["text"].startswith(
        "한동안 아무 입력이 없어서 신고를 멈췄어요"
    )
    await guest.say("약속 장소에서 계속 반말을 했어요")  # after the timeout: not details
    assert await _count(bot, Report) == 0


async def test_a_profile_edit_that_times_out_changes_nothing_and_says_so(bot: BotHarness) -> None:
    person = Person(bot)
    await sign_up(person)
    [card] = await person.say("/profile")
    await person.press("관심사", card)
    question = bot.bot_messages(person.id)[-1]
    await person.press("보드게임")
    await _time_out(bot)
    told = bot.bot_messages(person.id)[-1]["text"]
    assert told.startswith("한동안 아무 입력이 없어서 프로필 수정을 멈췄어요. 프로필은 그대로예요.")
    assert buttons(_now(bot, question)) == []  # the ticks no longer lead anywhere
    async with bot.sessions() as s:
        user = await s.get(User, person.id)
        assert user is not None and "board_games" not in user.interests


async def test_an_appeal_that_times_out_files_nothing_and_says_so(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    photo = await _photo(scene)
    await _decide(scene, photo, evidence.REJECT, "blurry")
    await bot.run_outbox()
    notice = [m for m in bot.bot_messages(guest.id) if "was not accepted" in m.get("text", "")][-1]
    question = (await guest.press_data(notice, callbacks.encode(Action.APPEAL, photo)))[-1]
    assert [label for label, _ in buttons(question)] == ["Cancel"]
    await _time_out(bot)
    told = bot.bot_messages(guest.id)[-1]["text"]
    assert told.startswith("I stopped the appeal because nothing happened for a while")
    assert buttons(_now(bot, question)) == []  # "Cancel" no longer applies
    await guest.say("It was us at the lake!")  # after the timeout: not the reason
    assert await _count(bot, Appeal) == 0


async def test_a_meetup_change_that_times_out_changes_nothing_and_says_so(bot: BotHarness) -> None:
    host = await Neighbour(bot, "지훈").register()
    meeting_id = await new_meetup(bot, host)
    [question] = await host.press(await meetup_card(bot, host, meeting_id), "🕒 시간 변경")
    await _time_out(bot)
    told = bot.bot_messages(host.id)[-1]["text"]
    assert told == "한동안 답이 없어서 아무것도 바꾸지 않았어요."
    assert buttons(_now(bot, question)) == []
    await host.say("17:00")  # after the timeout: not the new time
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, meeting_id)
        assert meeting is not None and meeting.postponements == 0
