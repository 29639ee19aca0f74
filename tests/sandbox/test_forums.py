"""Forum supergroups (issue 19, point 6), as Telegram plays them: a supergroup with topics is
`is_forum`; a topic starts with a `forum_topic_created` service message whose id is the
topic's `message_thread_id`; messages in a topic carry `message_thread_id` and
`is_topic_message`; a send with `message_thread_id` goes to that topic, one without it to the
General topic; a closed topic (the General one included) refuses the bot's sends with 400
"Bad Request: TOPIC_CLOSED" unless the bot is an admin who may manage topics, and an unknown
topic answers 400 "Bad Request: message thread not found"."""

from __future__ import annotations

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def forum(emu: Emulator) -> tuple[int, int, int, int]:
    """A forum with an admin, a member, the bot (a member) and one topic; updates consumed.
    Returns (admin, member, chat id, the topic's thread id)."""
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat = emu.create_group("잠실 주민", [admin, member], [admin])
    assert "is_forum" not in chat
    assert emu.enable_topics(admin, chat["id"])["is_forum"] is True
    await emu.add_bot_to_group(admin, chat["id"])
    created = await emu.create_topic(admin, chat["id"], "산책")
    assert created["forum_topic_created"]["name"] == "산책"
    assert created["message_thread_id"] == created["message_id"]
    assert created["is_topic_message"] is True
    emu.pending_updates()
    return admin, member, int(chat["id"]), int(created["message_thread_id"])


async def send(emu: Emulator, chat_id: int, **extra: object) -> tuple[int, dict[str, object]]:
    return await emu.bot_call(TOKEN, "sendMessage", {"chat_id": chat_id, "text": "안녕", **extra})


async def test_a_command_in_a_topic_carries_its_thread_and_replies_land_there(
    emu: Emulator,
) -> None:
    admin, _, chat_id, topic = await forum(emu)
    await emu.send_topic_text(admin, chat_id, topic, "/setregion")
    [update] = emu.pending_updates()
    message = update["message"]
    assert message["message_thread_id"] == topic and message["is_topic_message"] is True
    assert message["chat"]["is_forum"] is True
    status, body = await send(emu, chat_id, message_thread_id=topic)
    assert status == 200 and body["result"]["message_thread_id"] == topic  # type: ignore[index]
    # A reply to a topic message without message_thread_id goes to that topic too.
    status, body = await send(emu, chat_id, reply_parameters={"message_id": message["message_id"]})
    assert body["result"]["message_thread_id"] == topic  # type: ignore[index]
    # Without either: the General topic (no thread id).
    status, body = await send(emu, chat_id)
    assert status == 200 and "message_thread_id" not in body["result"]  # type: ignore[operator]


async def test_a_closed_general_topic_refuses_sends_without_a_thread(emu: Emulator) -> None:
    admin, _, chat_id, topic = await forum(emu)
    await emu.close_topic(admin, chat_id, None)
    status, body = await send(emu, chat_id)
    assert (status, body["description"]) == (400, "Bad Request: TOPIC_CLOSED")
    assert (await send(emu, chat_id, message_thread_id=topic))[0] == 200
    # An admin who may manage topics writes in closed ones; a plain admin does not.
    await emu.promote_bot(admin, chat_id)
    assert (await send(emu, chat_id))[0] == 400
    await emu.demote_bot(admin, chat_id)
    await emu.promote_bot(admin, chat_id, can_manage_topics=True)
    assert (await send(emu, chat_id))[0] == 200
    await emu.demote_bot(admin, chat_id)
    await emu.reopen_topic(admin, chat_id, None)
    assert (await send(emu, chat_id))[0] == 200


async def test_a_closed_topic_refuses_and_an_unknown_one_is_not_found(emu: Emulator) -> None:
    admin, member, chat_id, topic = await forum(emu)
    await emu.close_topic(admin, chat_id, topic)
    status, body = await send(emu, chat_id, message_thread_id=topic)
    assert (status, body["description"]) == (400, "Bad Request: TOPIC_CLOSED")
    with pytest.raises(SandboxError):
        await emu.send_topic_text(member, chat_id, topic, "hello?")
    await emu.send_topic_text(admin, chat_id, topic, "admins still write here")
    status, body = await send(emu, chat_id, message_thread_id=topic + 100)
    assert (status, body["description"]) == (400, "Bad Request: message thread not found")
    await emu.reopen_topic(admin, chat_id, topic)
    assert (await send(emu, chat_id, message_thread_id=topic))[0] == 200
    kinds = [m.get("forum_topic_closed") is not None for m in emu.transcript(chat_id)]
    assert any(kinds), "closing is a service message in the topic"


async def test_only_admins_manage_topics_and_only_in_supergroups(emu: Emulator) -> None:
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    basic = emu.create_group("작은 방", [admin, member], [admin], supergroup=False)
    with pytest.raises(SandboxError):
        emu.enable_topics(admin, basic["id"])
    chat = emu.create_group("큰 방", [admin, member], [admin])
    with pytest.raises(SandboxError):
        emu.enable_topics(member, chat["id"])
    with pytest.raises(SandboxError):
        await emu.create_topic(admin, chat["id"], "no topics yet")
    emu.enable_topics(admin, chat["id"])
    with pytest.raises(SandboxError):
        await emu.create_topic(member, chat["id"], "산책")


async def test_topics_over_the_user_api(emu: Emulator) -> None:
    admin = int(emu.add_user("지훈")["id"])
    chat_id = int(emu.create_group("잠실 주민", [admin], [admin])["id"])
    await emu.add_bot_to_group(admin, chat_id)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        base = f"/sandbox/api/groups/{chat_id}/topics"
        enabled = await http.post(f"{base}/enable", json={"user_id": admin})
        assert enabled.json()["result"]["is_forum"] is True
        created = await http.post(base, json={"user_id": admin, "name": "산책"})
        thread = created.json()["result"]["message_thread_id"]
        said = await http.post(
            f"/sandbox/api/chats/{chat_id}/topics/{thread}/messages",
            json={"user_id": admin, "text": "/settime 07:30"},
        )
        assert said.json()["result"]["message_thread_id"] == thread
        for path in ("general/close", f"{thread}/close", f"{thread}/reopen", "general/reopen"):
            response = await http.post(f"{base}/{path}", json={"user_id": admin})
            assert response.json() == {"ok": True, "result": True}, path
        wrong = await http.post(f"{base}/sideways/close", json={"user_id": admin})
        assert wrong.status_code == 400
