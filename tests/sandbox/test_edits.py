"""Edits by people (issue 19, point 3): an edited text and every move of a live location reach
the bot as `edited_message` (Bot API, `Update.edited_message`, `Location.live_period`), and
`allowed_updates` decides which types are created at all, kept between calls as Telegram keeps
it (tdlib/telegram-bot-api, `Client::get_allowed_update_types`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"
LAKE = (37.5096, 127.1027)


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


async def ok(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await emu.bot_call(TOKEN, method, params)
    assert status == 200, body
    return body["result"]


def kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in u if k != "update_id") for u in updates]


# ---------------------------------------------------------------------- editing a text


async def test_an_edited_text_reaches_the_bot_as_edited_message(
    emu: Emulator, clock: FakeClock
) -> None:
    user_id = int(emu.add_user("민지")["id"])
    sent = await emu.send_text(user_id, "/meetup")
    emu.pending_updates()
    clock.now += 30
    edited = await emu.edit_message(user_id, user_id, sent["message_id"], "/meetups 잠실")
    [update] = emu.pending_updates()
    message = update["edited_message"]
    assert message["message_id"] == sent["message_id"] and message["date"] == sent["date"]
    assert message["text"] == "/meetups 잠실" and message["edit_date"] == sent["date"] + 30
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 8}]
    assert edited == message
    [shown] = emu.transcript(user_id)
    assert shown["edited"] and shown["edit_history"][0]["text"] == "/meetup"


async def test_what_a_person_cannot_edit(emu: Emulator) -> None:
    minji = int(emu.add_user("민지")["id"])
    jihun = int(emu.add_user("지훈")["id"])
    chat_id = int(emu.create_group("잠실 산책 모임", [minji, jihun], [jihun])["id"])
    await emu.add_bot_to_group(jihun, chat_id, as_admin=True)
    said = await emu.send_text(minji, "안녕하세요", chat_id)
    shared = await emu.share_contact(minji)
    emu.pending_updates()
    with pytest.raises(SandboxError, match="own messages"):
        await emu.edit_message(jihun, chat_id, said["message_id"], "안녕")  # an admin too
    with pytest.raises(SandboxError, match="unchanged"):
        await emu.edit_message(minji, chat_id, said["message_id"], "안녕하세요")
    with pytest.raises(SandboxError, match="only a text or a caption"):
        await emu.edit_message(minji, minji, shared["message_id"], "다른 번호")
    with pytest.raises(SandboxError, match="message not found"):
        await emu.edit_message(minji, minji, 999, "없음")
    assert emu.pending_updates() == []


async def test_group_privacy_decides_on_the_edited_message(emu: Emulator) -> None:
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat_id = int(emu.create_group("잠실 산책 모임", [admin, member], [admin])["id"])
    await emu.add_bot_to_group(admin, chat_id)  # not an admin: privacy mode
    chatter = await emu.send_text(member, "오늘 날씨 좋네요", chat_id)
    emu.pending_updates()
    await emu.edit_message(member, chat_id, chatter["message_id"], "오늘 날씨 좋아요")
    assert emu.pending_updates() == []  # the bot never saw it, nor its edit
    command = await emu.send_text(member, "/hepl", chat_id)
    emu.pending_updates()
    await emu.edit_message(member, chat_id, command["message_id"], "/help")
    assert kinds(emu.pending_updates()) == ["edited_message"]


# ---------------------------------------------------------------------- a live location


async def test_a_live_location_moves_by_edited_message_until_its_period_ends(
    emu: Emulator, clock: FakeClock
) -> None:
    user_id = int(emu.add_user("민지")["id"])
    shared = await emu.share_location(user_id, *LAKE, live_period=60)
    [first] = emu.pending_updates()
    assert first["message"]["location"]["live_period"] == 60  # the first one: a new message
    for step in range(1, 4):
        clock.now += 10
        await emu.move_live_location(
            user_id, user_id, shared["message_id"], LAKE[0] + step / 1000, LAKE[1], heading=90
        )
    moves = emu.pending_updates()
    assert kinds(moves) == ["edited_message"] * 3
    last = moves[-1]["edited_message"]
    assert last["message_id"] == shared["message_id"] and last["edit_date"] == shared["date"] + 30
    assert last["location"] == {
        "latitude": LAKE[0] + 0.003, "longitude": LAKE[1], "live_period": 60, "heading": 90,
    }  # fmt: skip
    assert not emu.transcript(user_id)[0]["edited"]  # clients show it where it is now
    clock.now += 30  # 60 s after it was sent: no longer live
    with pytest.raises(SandboxError, match="ended"):
        await emu.move_live_location(user_id, user_id, shared["message_id"], *LAKE)
    assert emu.pending_updates() == []


async def test_only_a_live_location_moves(emu: Emulator, clock: FakeClock) -> None:
    user_id = int(emu.add_user("민지")["id"])
    plain = await emu.share_location(user_id, *LAKE)
    venue = await emu.send_venue(user_id, *LAKE, "석촌호수", "서울 송파구")
    forever = await emu.share_location(user_id, *LAKE, live_period=0x7FFFFFFF)
    emu.pending_updates()
    for message in (plain, venue):
        with pytest.raises(SandboxError, match="not a live location"):
            await emu.move_live_location(user_id, user_id, message["message_id"], *LAKE)
    with pytest.raises(SandboxError, match="heading"):
        await emu.move_live_location(user_id, user_id, forever["message_id"], *LAKE, heading=0)
    clock.now += 90 * 86400
    await emu.move_live_location(user_id, user_id, forever["message_id"], 37.51, 127.1)
    assert kinds(emu.pending_updates()) == ["edited_message"]


# ---------------------------------------------------------------------- allowed_updates


async def test_allowed_updates_decides_which_updates_are_created(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    sent = await emu.send_text(user_id, "/start")
    shared = await emu.share_location(user_id, *LAKE, live_period=600)
    await ok(emu, "getUpdates", allowed_updates=["message", "callback_query", "my_chat_member"])
    # Queued before the call: kept ("doesn't affect updates created before the call").
    assert kinds(await ok(emu, "getUpdates")) == ["message", "message"]
    await ok(emu, "getUpdates", offset=3)
    await emu.edit_message(user_id, user_id, sent["message_id"], "/start again")
    await emu.move_live_location(user_id, user_id, shared["message_id"], 37.51, 127.1)
    await emu.send_text(user_id, "/help")
    # A call without the list keeps it: the edits were never created.
    assert kinds(await ok(emu, "getUpdates", offset=3)) == ["message"]
    info = await ok(emu, "getWebhookInfo")
    assert info["allowed_updates"] == ["message", "callback_query", "my_chat_member"]


@pytest.mark.parametrize("given", [[], ["no_such_update"]])
async def test_a_list_naming_no_known_type_means_the_default(
    emu: Emulator, given: list[str]
) -> None:
    user_id = int(emu.add_user("민지")["id"])
    sent = await emu.send_text(user_id, "/start")
    await ok(emu, "getUpdates", allowed_updates=["MESSAGE", "no_such_update"])
    assert (await ok(emu, "getWebhookInfo"))["allowed_updates"] == ["message"]
    await ok(emu, "getUpdates", offset=2, allowed_updates=given)
    await emu.edit_message(user_id, user_id, sent["message_id"], "/help")
    assert kinds(await ok(emu, "getUpdates")) == ["edited_message"]
    assert "allowed_updates" not in await ok(emu, "getWebhookInfo")  # the default is not shown


async def test_set_webhook_and_get_updates_share_the_setting(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    sent = await emu.send_text(user_id, "/start")
    await ok(emu, "getUpdates", offset=2)  # nothing queued for the webhook to push
    await ok(emu, "setWebhook", url="https://bot.example.org/hook", allowed_updates=["message"])
    await ok(emu, "deleteWebhook")
    await emu.edit_message(user_id, user_id, sent["message_id"], "/help")
    await emu.send_text(user_id, "/help")
    # Polling again without a list: the one setWebhook gave still applies.
    assert kinds(await ok(emu, "getUpdates")) == ["message"]
    await emu.stop()


# ---------------------------------------------------------------------- over HTTP


async def test_people_edit_and_move_over_the_user_api(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        chat = f"/sandbox/api/chats/{user_id}"
        said = await http.post(f"{chat}/messages", json={"user_id": user_id, "text": "안녕"})
        text_id = said.json()["result"]["message_id"]
        shared = await http.post(
            f"{chat}/location",
            json={"user_id": user_id, "latitude": LAKE[0], "longitude": LAKE[1],
                  "live_period": 900},
        )  # fmt: skip
        location_id = shared.json()["result"]["message_id"]
        emu.pending_updates()
        edited = await http.post(
            f"{chat}/messages/{text_id}/edit", json={"user_id": user_id, "text": "안녕하세요"}
        )
        assert edited.json()["result"]["text"] == "안녕하세요"
        moved = await http.post(
            f"{chat}/messages/{location_id}/location",
            json={"user_id": user_id, "latitude": 37.51, "longitude": 127.1, "heading": 45},
        )
        assert moved.json()["result"]["location"]["heading"] == 45
        wrong = await http.post(
            f"{chat}/messages/{text_id}/location",
            json={"user_id": user_id, "latitude": 37.51, "longitude": 127.1},
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "that message is not a live location"
        missing = await http.post(f"{chat}/messages/{text_id}/edit", json={"user_id": user_id})
        assert missing.status_code == 400
    assert kinds(emu.pending_updates()) == ["edited_message", "edited_message"]
