"""Anonymous group admins (issue 19, point 9): an admin with "Remain anonymous" posts as the
group. The message has `sender_chat` = the group and `from` = the stand-in @GroupAnonymousBot
(1087968824), the same in every group (Bot API, Message.sender_chat; Bot API 5.0);
getChatAdministrators shows the admin with `is_anonymous` true; their presses still name them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from telegram.constants import ChatID

from sandbox.emulator import Emulator, FloodLimits, SandboxError
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def call(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await emu.bot_call(TOKEN, method, params)
    assert status == 200, body
    return body["result"]


async def group_with_bot(emu: Emulator, title: str = "잠실 산책 모임") -> tuple[int, int, int]:
    admin = int(emu.add_user("지훈")["id"])
    member = int(emu.add_user("민지")["id"])
    chat_id = int(emu.create_group(title, [admin, member], [admin])["id"])
    await emu.add_bot_to_group(admin, chat_id)
    emu.pending_updates()
    return chat_id, admin, member


async def test_an_anonymous_admin_posts_as_the_group(emu: Emulator) -> None:
    chat_id, admin, _ = await group_with_bot(emu)
    sent = await emu.send_text(admin, "/setregion", chat_id, anonymous=True)
    [update] = emu.pending_updates()
    message = update["message"]
    assert message == sent
    assert message["from"] == {
        "id": int(ChatID.ANONYMOUS_ADMIN),
        "is_bot": True,
        "first_name": "Group",
        "username": "GroupAnonymousBot",
    }
    assert message["sender_chat"] == message["chat"]
    assert message["sender_chat"]["id"] == chat_id
    # The right stays on: the next message is anonymous too, until it is turned off.
    await emu.send_text(admin, "/settime 09:00", chat_id)
    [update] = emu.pending_updates()
    assert update["message"]["sender_chat"]["id"] == chat_id
    emu.remain_anonymous(admin, chat_id, anonymous=False)
    await emu.send_text(admin, "/pause", chat_id)
    [update] = emu.pending_updates()
    assert update["message"]["from"]["id"] == admin and "sender_chat" not in update["message"]


async def test_every_group_shares_one_stand_in(emu: Emulator) -> None:
    first, admin_a, _ = await group_with_bot(emu, "잠실")
    second, admin_b, _ = await group_with_bot(emu, "석촌")
    await emu.send_text(admin_a, "/help", first, anonymous=True)
    await emu.send_text(admin_b, "/help", second, anonymous=True)
    a, b = (u["message"] for u in emu.pending_updates())
    assert a["from"] == b["from"]  # one `from` for both people
    assert (a["sender_chat"]["id"], b["sender_chat"]["id"]) == (first, second)


async def test_administrators_show_who_is_anonymous(emu: Emulator) -> None:
    chat_id, admin, _ = await group_with_bot(emu)
    emu.remain_anonymous(admin, chat_id)
    admins = await call(emu, "getChatAdministrators", chat_id=chat_id)
    [shown] = [m for m in admins if m["user"]["id"] == admin]
    assert shown["status"] == "creator" and shown["is_anonymous"] is True
    one = await call(emu, "getChatMember", chat_id=chat_id, user_id=admin)
    assert one["is_anonymous"] is True
    emu.remain_anonymous(admin, chat_id, anonymous=False)
    one = await call(emu, "getChatMember", chat_id=chat_id, user_id=admin)
    assert one["is_anonymous"] is False
    # A second admin who is not the owner: ChatMemberAdministrator.
    helper = int(emu.add_user("수아")["id"])
    emu.add_member(chat_id, helper, admin=True)
    emu.remain_anonymous(helper, chat_id)
    one = await call(emu, "getChatMember", chat_id=chat_id, user_id=helper)
    assert one["status"] == "administrator" and one["is_anonymous"] is True


async def test_a_press_names_the_real_person(emu: Emulator) -> None:
    chat_id, admin, _ = await group_with_bot(emu)
    await emu.send_text(admin, "/setregion", chat_id, anonymous=True)
    emu.pending_updates()
    keyboard = {"inline_keyboard": [[{"text": "송파구", "callback_data": "g:d:11710"}]]}
    card = await call(emu, "sendMessage", chat_id=chat_id, text="구", reply_markup=keyboard)
    query = await emu.press_button(admin, chat_id, card["message_id"], "g:d:11710")
    assert query["from"]["id"] == admin


async def test_only_a_supergroups_admins_can_remain_anonymous(emu: Emulator) -> None:
    chat_id, admin, member = await group_with_bot(emu)
    with pytest.raises(SandboxError, match="only an admin"):
        await emu.send_text(member, "/help", chat_id, anonymous=True)
    with pytest.raises(SandboxError, match="group admin"):
        await emu.send_text(admin, "/help", anonymous=True)  # a private chat
    basic = int(emu.create_group("기본 그룹", [admin], [admin], supergroup=False)["id"])
    with pytest.raises(SandboxError, match="supergroup"):
        emu.remain_anonymous(admin, basic)


async def test_over_http(emu: Emulator) -> None:
    chat_id, admin, _ = await group_with_bot(emu)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        sent = await http.post(
            f"/sandbox/api/chats/{chat_id}/messages",
            json={"user_id": admin, "text": "/stats", "anonymous": True},
        )
        message = sent.json()["result"]
        assert message["sender_chat"]["id"] == chat_id
        assert message["from"]["username"] == "GroupAnonymousBot"
        off = await http.post(
            f"/sandbox/api/groups/{chat_id}/anonymous",
            json={"user_id": admin, "anonymous": False},
        )
        assert off.json() == {"ok": True, "result": True}
        sent = await http.post(
            f"/sandbox/api/chats/{chat_id}/messages", json={"user_id": admin, "text": "/stats"}
        )
        assert sent.json()["result"]["from"]["id"] == admin
