"""The bot's rights in a group (issue 19, points 4 and 6), as Telegram plays them: an admin
promotes, demotes and restricts the bot, each a my_chat_member update with the old and new
ChatMember of the Bot API types (ChatMemberAdministrator with its rights, ChatMemberRestricted
with `is_member` and `can_send_messages`); a group can be read-only for the bot, and its sends
answer 400 "Bad Request: not enough rights to send text messages to the chat"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from telegram import (
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberRestricted,
    ChatMemberUpdated,
)

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app
from sandbox.spec import _check_object, load_spec

TOKEN = "123456:TEST-TOKEN"
NO_RIGHTS = "Bad Request: not enough rights to send text messages to the chat"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def group_with_bot(emu: Emulator) -> tuple[int, int, int]:
    """A supergroup with an admin, a member and the bot (a member); updates so far consumed."""
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat = emu.create_group("잠실 산책", [admin, member], [admin])
    await emu.add_bot_to_group(admin, chat["id"])
    emu.pending_updates()
    return admin, member, int(chat["id"])


def the_change(emu: Emulator) -> dict[str, Any]:
    [update] = emu.pending_updates()
    change = update["my_chat_member"]
    assert _check_object(load_spec(), change, "ChatMemberUpdated", "update") == []
    for side in ("old_chat_member", "new_chat_member"):
        assert change[side]["user"]["id"] == emu.bot_user["id"]
    return dict(change)


async def send(emu: Emulator, chat_id: int, **extra: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, "sendMessage", {"chat_id": chat_id, "text": "안녕", **extra})


async def test_promote_demote_restrict_are_my_chat_member_changes(emu: Emulator) -> None:
    admin, _, chat_id = await group_with_bot(emu)
    await emu.promote_bot(admin, chat_id)
    change = the_change(emu)
    parsed = ChatMemberUpdated.de_json(change, None)
    assert isinstance(parsed.old_chat_member, ChatMemberMember)
    assert isinstance(parsed.new_chat_member, ChatMemberAdministrator)
    assert parsed.new_chat_member.can_delete_messages and change["from"]["id"] == admin

    await emu.demote_bot(admin, chat_id)
    parsed = ChatMemberUpdated.de_json(the_change(emu), None)
    assert isinstance(parsed.old_chat_member, ChatMemberAdministrator)
    assert isinstance(parsed.new_chat_member, ChatMemberMember)

    await emu.restrict_bot(admin, chat_id, can_send_messages=False)
    parsed = ChatMemberUpdated.de_json(the_change(emu), None)
    restricted = parsed.new_chat_member
    assert isinstance(restricted, ChatMemberRestricted)
    assert restricted.is_member and not restricted.can_send_messages
    assert not restricted.can_send_photos

    # A restricted bot is still in the group: it is asked, counted and sees commands.
    _, body = await emu.bot_call(
        TOKEN, "getChatMember", {"chat_id": chat_id, "user_id": emu.bot_user["id"]}
    )
    assert body["result"]["status"] == "restricted"
    assert body["result"]["can_send_messages"] is False
    await emu.send_text(admin, "/resume", chat_id)
    assert emu.pending_updates()[0]["message"]["text"] == "/resume"

    await emu.restrict_bot(admin, chat_id, can_send_messages=True)
    parsed = ChatMemberUpdated.de_json(the_change(emu), None)
    assert isinstance(parsed.old_chat_member, ChatMemberRestricted)
    assert isinstance(parsed.new_chat_member, ChatMemberRestricted)
    assert parsed.new_chat_member.can_send_messages
    await emu.unrestrict_bot(admin, chat_id)
    parsed = ChatMemberUpdated.de_json(the_change(emu), None)
    assert isinstance(parsed.new_chat_member, ChatMemberMember)


async def test_a_restricted_bot_may_not_send(emu: Emulator) -> None:
    admin, _, chat_id = await group_with_bot(emu)
    assert (await send(emu, chat_id))[0] == 200
    await emu.restrict_bot(admin, chat_id)
    status, body = await send(emu, chat_id)
    assert (status, body["description"]) == (400, NO_RIGHTS)
    await emu.restrict_bot(admin, chat_id, can_send_messages=True)
    assert (await send(emu, chat_id))[0] == 200


async def test_a_read_only_group_refuses_a_member_bot_not_an_admin_bot(emu: Emulator) -> None:
    admin, _, chat_id = await group_with_bot(emu)
    emu.set_group_permissions(admin, chat_id, can_send_messages=False)
    assert emu.pending_updates() == [], "Telegram tells the bot nothing"
    status, body = await send(emu, chat_id)
    assert (status, body["description"]) == (400, NO_RIGHTS)
    status, chat = await emu.bot_call(TOKEN, "getChat", {"chat_id": chat_id})
    assert chat["result"]["permissions"]["can_send_messages"] is False
    await emu.promote_bot(admin, chat_id)
    assert (await send(emu, chat_id))[0] == 200
    emu.pending_updates()
    await emu.demote_bot(admin, chat_id)
    assert (await send(emu, chat_id))[0] == 400
    emu.set_group_permissions(admin, chat_id, can_send_messages=True)
    assert (await send(emu, chat_id))[0] == 200


async def test_only_admins_change_the_bot_s_rights(emu: Emulator) -> None:
    admin, member, chat_id = await group_with_bot(emu)
    for act in (
        emu.promote_bot(member, chat_id),
        emu.restrict_bot(member, chat_id),
    ):
        with pytest.raises(SandboxError):
            await act
    with pytest.raises(SandboxError):
        emu.set_group_permissions(member, chat_id, can_send_messages=False)
    with pytest.raises(SandboxError):
        await emu.demote_bot(admin, chat_id)  # not an admin yet
    await emu.promote_bot(admin, chat_id)
    with pytest.raises(SandboxError):
        await emu.restrict_bot(admin, chat_id)  # Telegram restricts members, not admins
    assert [u["my_chat_member"]["new_chat_member"]["status"] for u in emu.pending_updates()] == [
        "administrator"
    ]


async def test_the_bot_s_rights_over_the_user_api(emu: Emulator) -> None:
    admin, _, chat_id = await group_with_bot(emu)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        base = f"/sandbox/api/groups/{chat_id}"
        for path, body in (
            ("/bot/promote", {}),
            ("/bot/demote", {}),
            ("/bot/restrict", {"can_send_messages": False}),
            ("/bot/unrestrict", {}),
            ("/permissions", {"can_send_messages": False}),
        ):
            response = await http.post(base + path, json={"user_id": admin, **body})
            assert response.json() == {"ok": True, "result": True}, path
        refused = await http.post(base + "/bot/demote", json={"user_id": admin})
        assert refused.status_code == 400
    statuses = [u["my_chat_member"]["new_chat_member"]["status"] for u in emu.pending_updates()]
    assert statuses == ["administrator", "member", "restricted", "member"]
    assert (await send(emu, chat_id))[1]["description"] == NO_RIGHTS
