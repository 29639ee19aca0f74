"""A basic group upgraded to a supergroup (issue 19, point 2), as Telegram plays it: a service
message with `migrate_to_chat_id` in the old chat, one with `migrate_from_chat_id` in the new
chat, and `my_chat_member` for the new chat, in either order (Bot API: Message.
migrate_to_chat_id / migrate_from_chat_id); afterwards the old id answers 400 "group chat was
upgraded to a supergroup chat" with `parameters.migrate_to_chat_id` (ResponseParameters)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.emulator import UPGRADE_ORDERS, Emulator, FloodLimits, SandboxError
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def basic_group_with_bot(emu: Emulator, *, as_admin: bool = False) -> tuple[int, int, int]:
    """A basic group with an admin, a member and the bot; the updates so far consumed."""
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat = emu.create_group("잠실 산책", [admin, member], [admin], supergroup=False)
    assert chat["type"] == "group" and not str(chat["id"]).startswith("-100")
    await emu.add_bot_to_group(admin, chat["id"], as_admin=as_admin)
    emu.pending_updates()
    return admin, member, int(chat["id"])


def kinds(updates: list[dict[str, Any]]) -> list[str]:
    out = []
    for update in updates:
        if "my_chat_member" in update:
            out.append("my_chat_member")
        else:
            message = update["message"]
            out.append(
                next(k for k in ("migrate_to_chat_id", "migrate_from_chat_id") if k in message)
            )
    return out


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("service_first", ["migrate_to_chat_id", "migrate_from_chat_id", "my_chat_member"]),
        ("member_first", ["my_chat_member", "migrate_to_chat_id", "migrate_from_chat_id"]),
    ],
)
async def test_the_upgrade_plays_three_updates_in_the_chosen_order(
    emu: Emulator, order: str, expected: list[str]
) -> None:
    admin, member, old_id = await basic_group_with_bot(emu, as_admin=True)
    new = await emu.upgrade_group(admin, old_id, order=order)  # type: ignore[arg-type]
    new_id = int(new["id"])
    assert new["type"] == "supergroup" and str(new_id).startswith("-100")
    assert new["title"] == "잠실 산책"
    updates = emu.pending_updates()
    assert kinds(updates) == expected
    by_kind = dict(zip(kinds(updates), updates, strict=True))
    moved_to = by_kind["migrate_to_chat_id"]["message"]
    assert moved_to["chat"]["id"] == old_id and moved_to["migrate_to_chat_id"] == new_id
    assert moved_to["from"]["id"] == admin
    moved_from = by_kind["migrate_from_chat_id"]["message"]
    assert moved_from["chat"]["id"] == new_id and moved_from["migrate_from_chat_id"] == old_id
    change = by_kind["my_chat_member"]["my_chat_member"]
    assert change["chat"]["id"] == new_id and change["chat"]["type"] == "supergroup"
    assert change["old_chat_member"]["status"] == "left"
    assert change["new_chat_member"]["status"] == "administrator"
    # The people and the admins come along.
    view = emu.chats[new_id]
    assert view.members == [admin, member] and view.admins == [admin]


async def test_the_old_id_answers_400_with_the_new_id(emu: Emulator) -> None:
    admin, member, old_id = await basic_group_with_bot(emu)
    new_id = int((await emu.upgrade_group(admin, old_id))["id"])
    for method, params in (
        ("sendMessage", {"chat_id": old_id, "text": "안녕"}),
        ("getChat", {"chat_id": old_id}),
        ("getChatMember", {"chat_id": old_id, "user_id": admin}),
    ):
        status, body = await emu.bot_call(TOKEN, method, params)
        assert (status, body["description"]) == (400, UPGRADED), method
        assert body["parameters"] == {"migrate_to_chat_id": new_id}
    status, body = await emu.bot_call(TOKEN, "sendMessage", {"chat_id": new_id, "text": "안녕"})
    assert status == 200 and body["result"]["chat"]["id"] == new_id
    status, body = await emu.bot_call(
        TOKEN, "getChatMember", {"chat_id": new_id, "user_id": member}
    )
    assert status == 200 and body["result"]["status"] == "member"
    # Nobody writes in the old group any more; the new one works for everyone.
    with pytest.raises(SandboxError):
        await emu.send_text(member, "/setregion", old_id)
    await emu.send_text(member, "/setregion", new_id)
    assert emu.pending_updates()[-1]["message"]["chat"]["id"] == new_id


async def test_only_an_admin_upgrades_only_a_basic_group(emu: Emulator) -> None:
    admin, member, old_id = await basic_group_with_bot(emu)
    with pytest.raises(SandboxError):
        await emu.upgrade_group(member, old_id)
    with pytest.raises(SandboxError):
        await emu.upgrade_group(admin, old_id, order="sideways")  # type: ignore[arg-type]
    new_id = int((await emu.upgrade_group(admin, old_id))["id"])
    for chat_id in (old_id, new_id):
        with pytest.raises(SandboxError):
            await emu.upgrade_group(admin, chat_id)


async def test_a_group_without_the_bot_sends_it_nothing(emu: Emulator) -> None:
    admin = int(emu.add_user("지훈")["id"])
    chat = emu.create_group("조용한 방", [admin], [admin], supergroup=False)
    new = await emu.upgrade_group(admin, chat["id"])
    assert emu.pending_updates() == []
    # The service messages are in both chats' transcripts all the same.
    assert emu.transcript(chat["id"])[-1]["migrate_to_chat_id"] == new["id"]
    assert emu.transcript(new["id"])[-1]["migrate_from_chat_id"] == chat["id"]


@pytest.mark.parametrize("order", UPGRADE_ORDERS)
async def test_upgrade_over_the_user_api(emu: Emulator, order: str) -> None:
    admin, _, old_id = await basic_group_with_bot(emu)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        path = f"/sandbox/api/groups/{old_id}/upgrade"
        response = await http.post(path, json={"user_id": admin, "order": order})
        new = response.json()["result"]
        assert new["type"] == "supergroup"
        again = await http.post(path, json={"user_id": admin})
        assert again.status_code == 400
    first = emu.pending_updates()[0]
    assert ("my_chat_member" in first) == (order == "member_first")
