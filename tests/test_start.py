"""Foundation, the bot's first words: /start and /help in Korean and English, the command menu,
and the api.json check that fails a bad call."""

from __future__ import annotations

import pytest
from telegram.error import BadRequest, NetworkError

from tests.harness import ApiSpecViolation, BotHarness, buttons
from ui import callbacks
from ui.callbacks import Action


async def test_start_greets_in_korean(bot: BotHarness) -> None:
    minji = bot.user("민지", language_code="ko")
    reply, terms = await bot.send(minji, "/start")
    assert "이용약관" in terms["text"]  # someone new is offered signup right after
    assert "안녕하세요, 민지님!" in reply["text"]
    assert "공개된 장소" in reply["text"]
    assert [label for label, _ in buttons(reply)] == ["어떻게 하나요?", "명령어"]


async def test_start_greets_in_english(bot: BotHarness) -> None:
    james = bot.user("James", language_code="en-GB")
    reply = (await bot.send(james, "/start"))[0]
    assert reply["text"].startswith("Hi James! I'm Halsaram")
    assert [label for label, _ in buttons(reply)] == ["How does it work?", "Commands"]


async def test_unknown_language_falls_back_to_korean(bot: BotHarness) -> None:
    reply = (await bot.send(bot.user("Yuki", language_code="ja"), "/start"))[0]
    assert reply["text"].startswith("안녕하세요, Yuki님!")


async def test_help_lists_commands_in_each_language(bot: BotHarness) -> None:
    [ko] = await bot.send(bot.user("민지", language_code="ko"), "/help")
    [en] = await bot.send(bot.user("James", language_code="en"), "/help")
    assert ko["text"].splitlines()[0] == "이런 걸 할 수 있어요:"
    assert "/start — 시작하기, 봇 소개 보기" in ko["text"]
    assert "/help — What I can do" in en["text"]


async def test_greeting_button_explains_how_it_works(bot: BotHarness) -> None:
    minji = bot.user("민지")
    greeting = (await bot.send(minji, "/start"))[0]
    _, how = buttons(greeting)[0]
    [answer] = await bot.press(minji, greeting, how)
    assert answer["text"].startswith("이용 방법:")
    assert bot.calls("answerCallbackQuery")[-1].status == 200


async def test_a_forged_button_gets_a_polite_answer(bot: BotHarness) -> None:
    minji = bot.user("민지")
    greeting = (await bot.send(minji, "/start"))[0]
    chat_id = greeting["chat"]["id"]
    before = bot.bot_messages(chat_id)
    await bot.emulator.press_button(
        minji["id"], chat_id, greeting["message_id"], callbacks.encode(Action.HELP, "evil"),
        force=True,
    )  # fmt: skip
    await bot.deliver()
    answer = bot.calls("answerCallbackQuery")[-1]
    assert answer.params["text"] == "더 이상 쓸 수 없는 버튼이에요. /start 로 다시 시작해 주세요."
    assert bot.bot_messages(chat_id) == before


async def test_unknown_command_is_not_met_with_silence(bot: BotHarness) -> None:
    [reply] = await bot.send(bot.user("James", language_code="en"), "/teleport")
    assert reply["text"] == "I don't know that command. /help lists what I can do."


async def test_command_menu_is_published_in_korean_and_english(bot: BotHarness) -> None:
    calls = bot.calls("setMyCommands")
    languages = {c.params.get("language_code") for c in calls}
    assert languages == {None, "en"}  # Korean is the default (no language_code)
    korean = [c for c in calls if c.params.get("language_code") is None]
    korean_private = next(c for c in korean if c.params["scope"]["type"] == "all_private_chats")
    assert {"command": "help", "description": "할 수 있는 일 보기"} in korean_private.params[
        "commands"
    ]


async def test_api_check_fails_a_bad_call(bot: BotHarness) -> None:
    """The harness catches calls Telegram would refuse: a deliberate one must fail."""
    minji = bot.user("민지")
    with bot.request.expect_violation() as found:
        with pytest.raises(NetworkError):
            await bot.app.bot.send_message(minji["id"], "x" * 4097)
        long_data = {"inline_keyboard": [[{"text": "b", "callback_data": "y" * 65}]]}
        with pytest.raises(BadRequest):  # and Telegram (the emulator) refuses it too
            await bot.app.bot.send_message(minji["id"], "ok", reply_markup=long_data)
    assert any("text must be 1-4096" in p for p in found)
    assert any("callback_data must be 1-64 bytes" in p for p in found)


async def test_a_violation_outside_expectation_fails_loudly(bot: BotHarness) -> None:
    with pytest.raises(NetworkError) as caught:
        await bot.app.bot._post("sendMessage", {"chat_id": 1, "txt": "hi"})
    assert isinstance(caught.value.__cause__, ApiSpecViolation)
    bot.request.violations.clear()  # this test made the violation on purpose
