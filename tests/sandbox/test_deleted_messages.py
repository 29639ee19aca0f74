"""Deleted messages (issue 19, point 5): people and cleanup bots delete messages, and Telegram
refuses a reply to a message that is gone — 400 "Bad Request: message to be replied not
found" — unless the send says `allow_sending_without_reply`, in `reply_parameters` (Bot API,
ReplyParameters) or as the pre-7.0 top-level parameter that Telegram still reads
(tdlib/telegram-bot-api, Client.cpp `get_reply_parameters`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app
from sandbox.spec import validate_call

TOKEN = "123456:TEST-TOKEN"
NOT_FOUND = (400, "Bad Request: message to be replied not found")


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def call(emu: Emulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, method, params)


async def refused(emu: Emulator, **params: Any) -> tuple[int, str]:
    status, body = await call(emu, "sendMessage", text="도움말", **params)
    return status, str(body.get("description"))


async def sent(emu: Emulator, **params: Any) -> dict[str, Any]:
    status, body = await call(emu, "sendMessage", text="도움말", **params)
    assert status == 200, body
    return dict(body["result"])


async def group_with_bot(emu: Emulator) -> tuple[int, int, int]:
    """A supergroup with an admin, a member and the bot; the updates so far consumed."""
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat_id = int(emu.create_group("잠실 산책 모임", [admin, member], [admin])["id"])
    await emu.add_bot_to_group(admin, chat_id)
    emu.pending_updates()
    return chat_id, admin, member


def _ids(emu: Emulator, chat_id: int) -> list[int]:
    return [m["message_id"] for m in emu.transcript(chat_id)]


# ---------------------------------------------------------------------- replies


@pytest.mark.parametrize("form", ["reply_parameters", "legacy"])
async def test_a_reply_to_a_deleted_message_is_refused_unless_allowed(
    emu: Emulator, form: str
) -> None:
    chat_id, _, member = await group_with_bot(emu)
    command = await emu.send_text(member, "/help", chat_id)
    await emu.delete_message(member, chat_id, command["message_id"])
    assert command["message_id"] not in _ids(emu, chat_id)

    def reply(allow: bool | None) -> dict[str, Any]:
        if form == "legacy":
            legacy: dict[str, Any] = {"reply_to_message_id": command["message_id"]}
            if allow is not None:
                legacy["allow_sending_without_reply"] = allow
            return legacy
        parameters: dict[str, Any] = {"message_id": command["message_id"]}
        if allow is not None:
            parameters["allow_sending_without_reply"] = allow
        return {"reply_parameters": parameters}

    assert await refused(emu, chat_id=chat_id, **reply(None)) == NOT_FOUND
    assert await refused(emu, chat_id=chat_id, **reply(False)) == NOT_FOUND
    message = await sent(emu, chat_id=chat_id, **reply(True))
    assert "reply_to_message" not in message  # sent, as a plain message
    assert emu.transcript(chat_id)[-1]["text"] == "도움말"
    assert emu.answered["sendMessage", 400] == 2


@pytest.mark.parametrize("form", ["reply_parameters", "legacy"])
async def test_a_reply_to_a_message_that_never_existed(emu: Emulator, form: str) -> None:
    chat_id, _, _ = await group_with_bot(emu)

    def reply(allow: bool) -> dict[str, Any]:
        if form == "legacy":
            return {"reply_to_message_id": 999, "allow_sending_without_reply": allow}
        return {"reply_parameters": {"message_id": 999, "allow_sending_without_reply": allow}}

    assert await refused(emu, chat_id=chat_id, **reply(False)) == NOT_FOUND
    assert "reply_to_message" not in await sent(emu, chat_id=chat_id, **reply(True))


async def test_the_legacy_form_quotes_a_message_that_is_there(emu: Emulator) -> None:
    chat_id, _, member = await group_with_bot(emu)
    command = await emu.send_text(member, "/help", chat_id)
    message = await sent(emu, chat_id=chat_id, reply_to_message_id=command["message_id"])
    assert message["reply_to_message"]["text"] == "/help"
    # `reply_parameters` wins: Telegram reads the top-level pair only without it.
    both = await sent(
        emu, chat_id=chat_id, reply_parameters={"message_id": command["message_id"]},
        reply_to_message_id=999,
    )  # fmt: skip
    assert both["reply_to_message"]["message_id"] == command["message_id"]


async def test_allowing_counts_only_in_the_same_chat(emu: Emulator) -> None:
    chat_id, admin, member = await group_with_bot(emu)
    other = int(emu.create_group("다른 모임", [admin], [admin])["id"])
    await emu.add_bot_to_group(admin, other)
    command = await emu.send_text(member, "/help", chat_id)
    await emu.delete_message(admin, chat_id, command["message_id"])
    # ReplyParameters: "Always False for replies in another chat or forum topic."
    elsewhere = {"message_id": command["message_id"], "chat_id": chat_id,
                 "allow_sending_without_reply": True}  # fmt: skip
    assert await refused(emu, chat_id=other, reply_parameters=elsewhere) == NOT_FOUND


def test_the_spec_check_takes_the_legacy_pair_where_replies_are_possible() -> None:
    params = {"chat_id": 1, "text": "x", "reply_to_message_id": 3,
              "allow_sending_without_reply": True}  # fmt: skip
    assert validate_call("sendMessage", params) == []
    photo = {"chat_id": 1, "photo": "file-id", "reply_to_message_id": 3}
    assert validate_call("sendPhoto", photo) == []
    edit = {"chat_id": 1, "message_id": 3, "text": "x", "reply_to_message_id": 3}
    assert validate_call("editMessageText", edit) == [
        "editMessageText: unknown parameter 'reply_to_message_id'"
    ]


# ---------------------------------------------------------------------- who may delete


async def test_who_may_delete_what(emu: Emulator) -> None:
    chat_id, admin, member = await group_with_bot(emu)
    by_admin = await emu.send_text(admin, "안녕하세요", chat_id)
    by_member = await emu.send_text(member, "/help", chat_id)
    with pytest.raises(SandboxError, match="only an admin"):
        await emu.delete_message(member, chat_id, by_admin["message_id"])
    await emu.delete_message(member, chat_id, by_member["message_id"])  # one's own
    with pytest.raises(SandboxError, match="message to delete not found"):
        await emu.delete_message(admin, chat_id, by_member["message_id"])
    await emu.delete_message(admin, chat_id, by_admin["message_id"])
    reply = await sent(emu, chat_id=chat_id)
    await emu.delete_message(admin, chat_id, reply["message_id"])  # an admin: anyone's
    deleted = [m for m in emu.transcript(chat_id, include_deleted=True) if m.get("deleted")]
    assert len(deleted) == 3
    # In their private chat a person may delete the bot's messages too.
    await emu.send_text(member, "/start")
    answer = await sent(emu, chat_id=member)
    await emu.delete_message(member, member, answer["message_id"])
    assert answer["message_id"] not in _ids(emu, member)


async def test_deleting_sends_the_bot_nothing(emu: Emulator) -> None:
    chat_id, _, member = await group_with_bot(emu)
    command = await emu.send_text(member, "/help", chat_id)
    emu.pending_updates()
    await emu.delete_message(member, chat_id, command["message_id"])
    assert emu.pending_updates() == []


# ---------------------------------------------------------------------- a cleanup bot


async def test_a_cleanup_bot_deletes_commands_as_they_arrive(emu: Emulator) -> None:
    chat_id, _, member = await group_with_bot(emu)
    emu.set_cleanup_bot(chat_id)
    command = await emu.send_text(member, "/help", chat_id)
    chatter = await emu.send_text(member, "좋은 아침", chat_id)
    [update] = emu.pending_updates()  # the bot still gets the command (privacy mode: only it)
    assert update["message"]["message_id"] == command["message_id"]
    assert _ids(emu, chat_id)[-1] == chatter["message_id"]
    assert command["message_id"] not in _ids(emu, chat_id)
    reply = {"message_id": command["message_id"]}
    assert await refused(emu, chat_id=chat_id, reply_parameters=reply) == NOT_FOUND
    allowed = {**reply, "allow_sending_without_reply": True}
    assert "reply_to_message" not in await sent(emu, chat_id=chat_id, reply_parameters=allowed)
    emu.set_cleanup_bot(chat_id, commands=False)
    kept = await emu.send_text(member, "/help", chat_id)
    assert _ids(emu, chat_id)[-1] == kept["message_id"]


# ---------------------------------------------------------------------- over the user API


async def test_the_user_api_deletes_and_runs_a_cleanup_bot(emu: Emulator) -> None:
    chat_id, admin, member = await group_with_bot(emu)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        api = "/sandbox/api"
        said = await http.post(
            f"{api}/chats/{chat_id}/messages", json={"user_id": member, "text": "안녕"}
        )
        message_id = said.json()["result"]["message_id"]
        path = f"{api}/chats/{chat_id}/messages/{message_id}/delete"
        response = await http.post(path, json={"user_id": member})
        assert response.json() == {"ok": True, "result": True}
        again = await http.post(path, json={"user_id": member})
        assert (again.status_code, again.json()["error"]) == (400, "message to delete not found")
        response = await http.post(f"{api}/groups/{chat_id}/cleanup", json={"commands": True})
        assert response.json() == {"ok": True, "result": True}
        await http.post(f"{api}/chats/{chat_id}/messages", json={"user_id": admin, "text": "/help"})
        view = (await http.get(f"{api}/chats/{chat_id}/transcript")).json()["result"]
        assert all(m.get("text") not in ("안녕", "/help") for m in view["messages"])
