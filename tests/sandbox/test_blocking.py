"""A person blocks and unblocks the bot, as Telegram shows it: `my_chat_member` in the private
chat (the bot "kicked", then "member" again), 403 while blocked, and writing again ("Restart"
in the client) unblocking first."""

from __future__ import annotations

import httpx
from telegram import ChatMember, Update

from sandbox.emulator import Emulator
from tests.sandbox.test_emulator import (
    call,
    emu,  # noqa: F401 (a fixture)
    ok,
    started_user,
)
from tests.sandbox.test_server import sandbox  # noqa: F401 (a fixture)


async def test_block_then_unblock_sends_both_changes_in_the_private_chat(
    emu: Emulator,  # noqa: F811
) -> None:
    user_id = await started_user(emu)
    emu.block_bot(user_id)
    emu.block_bot(user_id)  # already blocked: no second update
    emu.unblock_bot(user_id)
    emu.unblock_bot(user_id)
    kicked, member = (Update.de_json(u, None) for u in emu.pending_updates())
    for update in (kicked, member):
        change = update.my_chat_member
        assert change is not None and change.chat.id == user_id == change.from_user.id
        assert change.chat.type == "private" and change.new_chat_member.user.is_bot
    assert kicked.my_chat_member is not None and member.my_chat_member is not None
    assert kicked.my_chat_member.old_chat_member.status == ChatMember.MEMBER
    assert kicked.my_chat_member.new_chat_member.status == ChatMember.BANNED  # "kicked"
    assert member.my_chat_member.old_chat_member.status == ChatMember.BANNED
    assert member.my_chat_member.new_chat_member.status == ChatMember.MEMBER
    await ok(emu, "sendMessage", chat_id=user_id, text="welcome back")


async def test_writing_to_a_blocked_bot_unblocks_it_first(emu: Emulator) -> None:  # noqa: F811
    user_id = await started_user(emu)
    emu.block_bot(user_id)
    emu.pending_updates()
    status, body = await call(emu, "sendMessage", chat_id=user_id, text="hi")
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    await emu.send_text(user_id, "/start")
    unblocked, message = emu.pending_updates()
    assert unblocked["my_chat_member"]["new_chat_member"]["status"] == "member"
    assert message["message"]["text"] == "/start"
    assert emu.users[user_id].blocked is False
    await ok(emu, "sendMessage", chat_id=user_id, text="welcome back")
    assert emu.answered["sendMessage", 403] == 1


async def test_block_and_unblock_over_the_user_api(
    sandbox: tuple[str, Emulator],  # noqa: F811
) -> None:
    url, emu = sandbox  # noqa: F811
    user_id = await started_user(emu)
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api") as http:
        assert (await http.post(f"/users/{user_id}/block")).json() == {"ok": True, "result": True}
        users = (await http.get("/users")).json()["result"]
        assert [u["blocked"] for u in users if u["id"] == user_id] == [True]
        (update,) = emu.pending_updates()
        assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
        await http.post(f"/users/{user_id}/unblock")
        (update,) = emu.pending_updates()
        assert update["my_chat_member"]["new_chat_member"]["status"] == "member"
