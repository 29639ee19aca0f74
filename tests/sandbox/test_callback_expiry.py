"""Button presses expire (issue 19, point 1): answerCallbackQuery is accepted once, within
`callback_answer_ttl` seconds (Telegram's clients wait about 15 s) of the press; a late or a
second answer gets Telegram's 400 "query is too old and response timeout expired or query ID
is invalid". A press made while the bot was down (`age`) is delivered, but its window counts
from the press. Stale keyboards stay pressable (`force=True`), as real clients deliver them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import _parser, create_app

TOKEN = "123456:TEST-TOKEN"
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False), clock=clock)


async def answer(emu: Emulator, query_id: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(
        TOKEN, "answerCallbackQuery", {"callback_query_id": query_id, **params}
    )


async def card(emu: Emulator) -> tuple[int, int]:
    """A person with a message from the bot showing one button; (user id, message id)."""
    user_id = int(emu.add_user("민지")["id"])
    await emu.send_text(user_id, "/start")
    markup = {"inline_keyboard": [[{"text": "참여", "callback_data": "j:1"}]]}
    status, body = await emu.bot_call(
        TOKEN, "sendMessage", {"chat_id": user_id, "text": "모임", "reply_markup": markup}
    )
    assert status == 200, body
    emu.pending_updates()
    return user_id, int(body["result"]["message_id"])


def test_telegram_waits_about_fifteen_seconds_by_default() -> None:
    assert Emulator(TOKEN).callback_answer_ttl == 15.0
    with pytest.raises(ValueError):
        Emulator(TOKEN, callback_answer_ttl=0)


async def test_an_answer_within_the_window_is_taken_once(emu: Emulator, clock: FakeClock) -> None:
    user_id, message_id = await card(emu)
    query = await emu.press_button(user_id, user_id, message_id, "j:1")
    clock.now += 14.5
    status, _ = await answer(emu, query["id"], text="참여 완료")
    assert status == 200
    assert emu.callback_answer(query["id"])["text"] == "참여 완료"  # type: ignore[index]
    status, body = await answer(emu, query["id"])
    assert status == 400 and body["description"] == TOO_OLD


async def test_an_answer_after_the_window_is_too_old(emu: Emulator, clock: FakeClock) -> None:
    user_id, message_id = await card(emu)
    query = await emu.press_button(user_id, user_id, message_id, "j:1")
    clock.now += 15.5
    status, body = await answer(emu, query["id"], text="늦었어요")
    assert (status, body["error_code"], body["description"]) == (400, 400, TOO_OLD)
    assert emu.callback_answer(query["id"]) is None  # the person saw nothing
    # Refused, and still refused: a late answer does not count as the one answer.
    status, _ = await answer(emu, query["id"])
    assert status == 400


async def test_the_window_is_configurable(clock: FakeClock) -> None:
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False), clock=clock, callback_answer_ttl=0.5)
    user_id, message_id = await card(emu)
    query = await emu.press_button(user_id, user_id, message_id, "j:1")
    clock.now += 0.6
    status, body = await answer(emu, query["id"])
    assert status == 400 and body["description"] == TOO_OLD


async def test_a_press_made_while_the_bot_was_down_is_delivered_but_too_old(
    emu: Emulator,
) -> None:
    user_id, message_id = await card(emu)
    query = await emu.press_button(user_id, user_id, message_id, "j:1", age=3600)
    [update] = emu.pending_updates()
    assert update["callback_query"]["id"] == query["id"]  # Telegram kept it for the bot
    status, body = await answer(emu, query["id"])
    assert status == 400 and body["description"] == TOO_OLD
    with pytest.raises(SandboxError):
        await emu.press_button(user_id, user_id, message_id, "j:1", age=-1)


async def test_an_unknown_query_id_is_the_same_400(emu: Emulator) -> None:
    status, body = await answer(emu, "4000000000000999")
    assert status == 400 and body["description"] == TOO_OLD


async def test_stale_keyboards_stay_pressable(emu: Emulator) -> None:
    """A double tap, or a press on a message whose buttons the bot already removed: real
    clients deliver both; each is its own query with its own window."""
    user_id, message_id = await card(emu)
    first = await emu.press_button(user_id, user_id, message_id, "j:1")
    await emu.bot_call(
        TOKEN, "editMessageReplyMarkup", {"chat_id": user_id, "message_id": message_id}
    )
    second = await emu.press_button(user_id, user_id, message_id, "j:1", force=True)
    assert [u["callback_query"]["id"] for u in emu.pending_updates()] == [first["id"], second["id"]]
    assert (await answer(emu, first["id"]))[0] == 200
    assert (await answer(emu, second["id"]))[0] == 200


async def test_expiry_survives_a_restart_from_the_state_file(
    clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "sandbox.json"
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False), clock=clock, state_file=state)
    user_id, message_id = await card(emu)
    query = await emu.press_button(user_id, user_id, message_id, "j:1")
    emu.save()
    clock.now += 20
    again = Emulator(TOKEN, limits=FloodLimits(enabled=False), clock=clock, state_file=state)
    status, body = await answer(again, query["id"])
    assert status == 400 and body["description"] == TOO_OLD


async def test_press_age_over_the_user_side_api(emu: Emulator) -> None:
    user_id, message_id = await card(emu)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        path = f"/sandbox/api/chats/{user_id}/callback"
        press = {"user_id": user_id, "message_id": message_id, "callback_data": "j:1"}
        late = (await http.post(path, json={**press, "age": 60})).json()["result"]
        fresh = (await http.post(path, json=press)).json()["result"]
        refused = await http.post(path, json={**press, "age": "yesterday"})
        assert refused.status_code == 400 and "age" in refused.json()["error"]
        for query_id, expected in ((late["id"], 400), (fresh["id"], 200)):
            reply = await http.post(
                f"/bot{TOKEN}/answerCallbackQuery", json={"callback_query_id": query_id}
            )
            assert reply.status_code == expected


def test_command_line_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _parser().parse_args([]).callback_ttl == 15.0
    assert _parser().parse_args(["--callback-ttl", "0.5"]).callback_ttl == 0.5
    monkeypatch.setenv("HALSARAM_SANDBOX_CALLBACK_TTL", "2")
    assert _parser().parse_args([]).callback_ttl == 2.0
