"""Every message has an answer (issue 23), through the bot on SQLite and PostgreSQL: free text
outside a conversation (a greeting, a link, anything), a sticker, a voice message, a contact,
`/cancel` with nothing running, a check-in code typed on its own and a check-in link pasted as
text. A running conversation keeps its messages; the bot stays quiet on chatter in groups."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services import SERVICES_KEY
from storage import meetings
from storage.db import transaction
from storage.models import Participation
from tests import video_corpus
from tests.harness import BotHarness, buttons
from tests.people import RULES, Neighbour, Person, new_meetup, walk_to_location
from ui import callbacks
from ui import fallback as ui
from ui.callbacks import Action
from ui.i18n import t

pytestmark = pytest.mark.usefixtures("seeded")

ASKED = "한 단계 남았어요"  # /checkin's answer: share your location next
MENU = [("🔍 미션 보기", callbacks.encode(Action.MISSION_LIST, "all", 0)),
        ("어떻게 하나요?", callbacks.encode(Action.HELP, "how"))]  # fmt: skip


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


def _first_line(message: dict[str, Any]) -> str:
    return str(message.get("text", "")).split("\n")[0]


async def _sent(bot: BotHarness, person: Neighbour | Person, content: dict[str, Any]) -> list[Any]:
    """`person` sends a message of a kind the sandbox's user API has no call for (a sticker,
    a voice message, a contact not their own), as Telegram delivers it."""
    return await bot.act(person.id, _post(bot, person.id, content))


async def _post(bot: BotHarness, user_id: int, content: dict[str, Any]) -> None:
    bot.emulator._post_user_message(user_id, None, content)


# --------------------------------------------------------------------------- free text


async def test_a_greeting_is_greeted_back_with_the_main_commands(bot: BotHarness) -> None:
    person = await Neighbour(bot, "민지").register()
    [reply] = await person.say("안녕하세요")
    assert reply["text"].startswith("안녕하세요, 민지님! 👋\n\n이런 걸 할 수 있어요:")
    for command in ("/missions", "/meetups", "/mymeetups", "/help"):
        assert f"\n{command} — " in reply["text"]
    assert buttons(reply) == MENU
    # "See missions" shows the mission list in the same message, as /missions' pages do.
    await person.press(reply, "🔍 미션 보기")
    shown = bot.emulator.transcript(person.id)
    edited = next(m for m in shown if m["message_id"] == reply["message_id"])
    assert "석촌호수 한 바퀴 걷기" in edited["text"]


async def test_free_text_a_link_and_a_stranger_each_get_a_short_answer(bot: BotHarness) -> None:
    mina = await Neighbour(bot, "Mina", lang="en").register()
    [what] = await mina.say("where do I go tomorrow?")
    assert _first_line(what) == "I didn't understand that: I answer commands and buttons."
    assert "\n/meetups — Open meetups in your neighbourhood" in what["text"]
    assert [label for label, _ in buttons(what)] == ["🔍 See missions", "How does it work?"]
    [link] = await mina.say("https://www.example.com/some-meetup")
    assert _first_line(link).startswith("I can't open links sent to me.")
    stranger = Person(bot, "준호")
    [told] = await stranger.say("안녕하세요")
    assert told["text"] == t("ko", ui.NOT_SIGNED_UP)
    assert "/start" in told["text"] and not buttons(told)


async def test_cancel_with_nothing_running_says_there_is_nothing_to_cancel(
    bot: BotHarness,
) -> None:
    mina = await Neighbour(bot, "Mina", lang="en").register()
    assert _texts(await mina.say("/cancel")) == [
        "There is nothing to cancel: we are not in the middle of anything."
    ]
    stranger = Person(bot, "준호")
    assert _texts(await stranger.say("/cancel")) == [
        "취소할 것이 없어요. 지금 진행 중인 일이 없어요."
    ]


# --------------------------------------------------------------------------- conversations


async def test_typing_during_signup_still_goes_to_signup(bot: BotHarness) -> None:
    person = Person(bot, "민지")
    await walk_to_location(person)
    typed = await person.say("안녕하세요")
    # Signup's own answer (use the buttons of its step), never the command list.
    assert typed and all("/missions —" not in m.get("text", "") for m in typed)
    assert _texts(typed) != [t("ko", ui.NOT_SIGNED_UP)]
    # /cancel still ends signup (its own /cancel comes first).
    [cancelled] = await person.say("/cancel")
    assert cancelled["text"] != t("ko", ui.NOTHING_TO_CANCEL)
    assert _texts(await person.say("/cancel")) == [t("ko", ui.NOTHING_TO_CANCEL)]


async def test_text_while_hosting_waits_for_a_button_is_told_to_use_the_buttons(
    bot: BotHarness,
) -> None:
    host = await Neighbour(bot, "지훈").register()
    [offer] = await host.say("/host")
    await host.press(offer, "석촌호수 한 바퀴 걷기")
    await host.press(bot.bot_messages(host.id)[-1], "오늘 12:00")  # now: which place?
    assert _texts(await host.say("석촌호수 앞에서 봬요")) == [t("ko", ui.USE_THE_BUTTONS)]
    sticker = await _sent(bot, host, {"sticker": _STICKER})
    assert _texts(sticker) == [t("ko", ui.USE_THE_BUTTONS)]
    # The conversation still runs: its next button works.
    await host.press(bot.bot_messages(host.id)[-3], "📍 석촌호수")
    assert "몇 명" in bot.bot_messages(host.id)[-1]["text"]


# --------------------------------------------------------------------------- check-in code


async def _seated_with_checkin_open(bot: BotHarness) -> tuple[Neighbour, Neighbour, str, int]:
    """A guest seated in a meetup starting in 10 minutes (check-in open), a neighbour with no
    meetup, and the code the host's screen shows now."""
    host = await Neighbour(bot, "지훈").register()
    guest = await Neighbour(bot, "민지").register()
    other = await Neighbour(bot, "Mina", lang="en").register()
    meeting_id = await new_meetup(bot, host, hours=1)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, guest.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=50))
    code = bot.app.bot_data[SERVICES_KEY].signer.code(meeting_id, bot.clock.now())
    return guest, other, code, meeting_id


async def _pending(bot: BotHarness, meeting_id: int, user_id: int) -> bool:
    async with bot.sessions() as s:
        seat = await s.scalar(
            select(Participation).where(
                Participation.meeting_id == meeting_id, Participation.user_id == user_id
            )
        )
        return seat is not None and seat.checkin_pending_until is not None


async def test_a_bare_code_is_the_checkin_command(bot: BotHarness) -> None:
    guest, _, code, meeting_id = await _seated_with_checkin_open(bot)
    typed = f"  {code[:3].lower()} {code[3:].lower()} "  # as read aloud and typed
    [asked] = await guest.say(typed)
    assert ASKED in asked["text"], asked["text"]
    assert await _pending(bot, meeting_id, guest.id)
    # The same answer /checkin CODE gives (the same handler).
    [again] = await guest.say(f"/checkin {code}")
    assert again["text"] == asked["text"]


async def test_a_wrong_code_at_a_meetup_gets_the_checkin_refusal(bot: BotHarness) -> None:
    guest, _, code, meeting_id = await _seated_with_checkin_open(bot)
    wrong = next(w for w in ("THANKS", "MEETUP") if w != code)
    assert _texts(await guest.say(wrong)) == [
        "그 코드의 모임이 없어요. 확인하고 다시 입력해 주세요."
    ]
    assert not await _pending(bot, meeting_id, guest.id)


async def test_six_letters_from_someone_without_an_open_checkin_are_just_text(
    bot: BotHarness,
) -> None:
    _, other, code, _ = await _seated_with_checkin_open(bot)
    for typed in ("THANKS", code):
        [reply] = await other.say(typed)
        assert _first_line(reply) == t("en", ui.FIRST_LINES[ui.Kind.CODE]).split("\n")[0]
        assert "/mymeetups" in reply["text"] and buttons(reply)
    assert not re.fullmatch(ui.CODE_TEXT, "HELLO1")  # I, L, O, 0 and 1 are not in codes


async def test_a_pasted_checkin_link_is_the_tap(bot: BotHarness) -> None:
    guest, _, _, meeting_id = await _seated_with_checkin_open(bot)
    svc = bot.app.bot_data[SERVICES_KEY]
    token = svc.signer.issue(meeting_id, bot.clock.now())
    link = f"https://t.me/{bot.app.bot.username}?start=c{token}"
    [asked] = await guest.say(f"이거 맞나요? {link}")
    assert ASKED in asked["text"], asked["text"]
    # A link of another bot is a link like any other.
    [other] = await guest.say(f"https://t.me/other_bot?start=c{token}")
    assert _first_line(other).startswith("보내 주신 링크는 열 수 없어요.")


# --------------------------------------------------------------------------- other messages

_STICKER = {
    "file_id": "CAACAgIAAxkBAAEBsticker", "file_unique_id": "AgADsticker", "type": "regular",
    "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍",
}  # fmt: skip


async def test_stickers_voice_and_contacts_get_a_line_and_the_commands(bot: BotHarness) -> None:
    mina = await Neighbour(bot, "Mina", lang="en").register()
    voice = {"file_id": "AwACAgIAAxkBvoice", "file_unique_id": "AgADvoice", "duration": 3}
    cases: list[tuple[dict[str, Any], ui.Kind]] = [
        ({"sticker": _STICKER}, ui.Kind.STICKER),
        ({"voice": voice}, ui.Kind.VOICE),
        ({"contact": {"phone_number": "+82100000000", "first_name": "X"}}, ui.Kind.CONTACT),
        ({"dice": {"emoji": "🎲", "value": 3}}, ui.Kind.OTHER),
    ]
    for content, kind in cases:
        [reply] = await _sent(bot, mina, content)
        assert _first_line(reply) == t("en", ui.FIRST_LINES[kind]).split("\n")[0]
        assert "\n/missions — " in reply["text"] and buttons(reply)
    stranger = Person(bot, "준호")
    [told] = await _sent(bot, stranger, {"sticker": _STICKER})
    assert told["text"] == t("ko", ui.NOT_SIGNED_UP)


async def test_a_video_with_no_meetup_gets_an_answer(bot: BotHarness) -> None:
    mina = await Neighbour(bot, "Mina", lang="en").register()
    clip = video_corpus.clip(404, size=(320, 180), seconds=2)
    for send in (bot.emulator.send_video, bot.emulator.send_video_note):
        data = clip if send == bot.emulator.send_video else video_corpus.video_note(403)
        [reply] = await bot.act(mina.id, send(mina.id, data))
        assert "/meetups" in reply["text"]


async def test_the_bot_stays_quiet_on_chatter_in_groups(bot: BotHarness) -> None:
    mina = await Neighbour(bot, "Mina", lang="en").register()
    group = bot.emulator.create_group("잠실동 산책", [mina.id], admin_ids=[mina.id])
    # As an admin the bot receives every message of the group (no privacy mode).
    await bot.emulator.add_bot_to_group(mina.id, group["id"], as_admin=True)
    await bot.deliver()
    before = len(bot.bot_messages(group["id"]))
    await bot.emulator.send_text(mina.id, "안녕하세요 여러분", chat_id=group["id"])
    await bot.emulator.send_text(mina.id, "/cancel", chat_id=group["id"])
    await bot.deliver()
    assert bot.bot_messages(group["id"])[before:] == []
