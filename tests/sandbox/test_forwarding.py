"""Forwarded copies keep only URL buttons, as Telegram does (issue 19).

When a person forwards a bot's message, Telegram drops the callback buttons of its inline
keyboard from the copy and keeps the URL buttons: "When you forward a message by hand, the
buttons of type 1 [callback data] are never forwarded ... buttons of type 2 [URL] are
forwarded" (aahnik/tgcf issue #209), "you can only have the url button forwarded with the
message" (tucnak/telebot issue #451, StackOverflow 46756643).
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def _bot_sends(emu: Emulator, chat_id: int, rows: list[list[dict[str, Any]]]) -> int:
    status, body = await emu.bot_call(
        TOKEN, "sendMessage",
        {"chat_id": chat_id, "text": "카드", "reply_markup": {"inline_keyboard": rows}},
    )  # fmt: skip
    assert status == 200, body
    return int(body["result"]["message_id"])


async def _person(emu: Emulator, name: str) -> int:
    user_id = int(emu.add_user(name)["id"])
    await emu.send_text(user_id, "/start")
    emu.pending_updates()
    return user_id


async def test_a_forwarded_copy_keeps_url_buttons_and_loses_callback_buttons(
    emu: Emulator,
) -> None:
    minji = await _person(emu, "민지")
    card = await _bot_sends(emu, minji, [
        [{"text": "승인", "callback_data": "a:1"}, {"text": "지도", "url": "https://map.example/1"}],
        [{"text": "거절", "callback_data": "r:1"}],
        [{"text": "안내", "url": "https://halsaram.example/help"}],
    ])  # fmt: skip
    copy = await emu.forward_message(minji, minji, card)
    assert copy["reply_markup"] == {"inline_keyboard": [
        [{"text": "지도", "url": "https://map.example/1"}],
        [{"text": "안내", "url": "https://halsaram.example/help"}],
    ]}  # fmt: skip
    assert copy["forward_origin"]["sender_user"]["is_bot"] is True
    # The bot gets the copy as a message, with only what survived.
    [update] = emu.pending_updates()
    assert update["message"]["reply_markup"] == copy["reply_markup"]
    # The original keeps all its buttons.
    original = next(m for m in emu.transcript(minji) if m["message_id"] == card)
    assert len(original["reply_markup"]["inline_keyboard"]) == 3


async def test_a_copy_of_a_card_with_only_callback_buttons_has_no_keyboard(
    emu: Emulator,
) -> None:
    admin = await _person(emu, "관리자")
    member = await _person(emu, "회원")
    group = emu.create_group("운영", [member], [admin])
    await emu.add_bot_to_group(admin, group["id"], as_admin=True)
    card = await _bot_sends(emu, group["id"], [
        [{"text": "승인", "callback_data": "a:1"}, {"text": "거절", "callback_data": "r:1"}],
    ])  # fmt: skip
    emu.pending_updates()
    copy = await emu.forward_message(member, group["id"], card)
    assert "reply_markup" not in copy
    # Nothing on the copy can be pressed; the card in the group still can.
    with pytest.raises(SandboxError, match="no button"):
        await emu.press_button(member, member, copy["message_id"], "a:1")
    query = await emu.press_button(admin, group["id"], card, "a:1")
    assert query["message"]["message_id"] == card
