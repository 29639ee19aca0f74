"""setMyCommands / getMyCommands per scope and language, as the Bot API describes them
("Determining list of commands"): every scope type, checked parameters, exact lookups for
getMyCommands, and each person's menu resolved from the most specific scope down."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.emulator import Emulator

TOKEN = "123456:TEST"


@pytest.fixture
async def emu() -> Emulator:
    return Emulator(TOKEN)


async def call(emu: Emulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, method, params)


async def put(emu: Emulator, name: str, scope: dict[str, Any], code: str = "") -> None:
    params: dict[str, Any] = {"commands": [{"command": name, "description": name}]}
    params["scope"] = scope
    if code:
        params["language_code"] = code
    status, body = await call(emu, "setMyCommands", **params)
    assert status == 200, body


def menu(emu: Emulator, user_id: int, chat_id: int | None = None) -> list[str]:
    return [c["command"] for c in emu.menu_commands(user_id, chat_id)]


async def test_every_scope_type_is_kept_apart_and_read_back_exactly(emu: Emulator) -> None:
    admin, member = emu.add_user("민지")["id"], emu.add_user("James", language_code="en")["id"]
    chat = emu.create_group("잠실동", [admin, member], [admin])["id"]
    scopes = [
        {"type": "default"},
        {"type": "all_private_chats"},
        {"type": "all_group_chats"},
        {"type": "all_chat_administrators"},
        {"type": "chat", "chat_id": chat},
        {"type": "chat_administrators", "chat_id": chat},
        {"type": "chat_member", "chat_id": chat, "user_id": member},
    ]
    for number, scope in enumerate(scopes):
        await put(emu, f"s{number}", scope)
        await put(emu, f"s{number}en", scope, "en")
    for number, scope in enumerate(scopes):
        status, body = await call(emu, "getMyCommands", scope=scope)
        assert [c["command"] for c in body["result"]] == [f"s{number}"]
        status, body = await call(emu, "getMyCommands", scope=scope, language_code="en")
        assert [c["command"] for c in body["result"]] == [f"s{number}en"]
    # No fallback in getMyCommands: a language never set answers an empty list.
    status, body = await call(emu, "getMyCommands", scope=scopes[2], language_code="ja")
    assert (status, body["result"]) == (200, [])
    # A chat named by a numeric string is the same chat.
    status, body = await call(emu, "getMyCommands", scope={"type": "chat", "chat_id": str(chat)})
    assert [c["command"] for c in body["result"]] == ["s4"]


async def test_scopes_and_language_codes_are_checked(emu: Emulator) -> None:
    user = emu.add_user("민지")["id"]
    chat = emu.create_group("잠실동", [user])["id"]
    commands = [{"command": "help", "description": "도움말"}]
    await emu.send_text(user, "/start")
    administrators = {"type": "chat_administrators", "chat_id": user}
    member = {"type": "chat_member", "chat_id": chat, "user_id": 1}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"language_code": "en-US"}, "invalid language code specified"),
        ({"scope": {"type": "everyone"}}, "needs type='default'"),  # the api.json check
        ({"scope": {"type": "chat", "chat_id": -100999}}, "chat not found"),
        ({"scope": {"type": "chat", "chat_id": ""}}, "chat_id is empty"),
        ({"scope": administrators}, "chat not found"),  # no administrators in a private chat
        ({"scope": member}, "user not found"),
    ]
    for params, description in cases:
        status, body = await call(emu, "setMyCommands", commands=commands, **params)
        assert status == 400 and body["description"].endswith(description), (params, body)
        status, body = await call(emu, "getMyCommands", **params)
        assert status == 400 and body["description"].endswith(description), (params, body)


async def test_a_group_menu_comes_from_the_most_specific_scope_set(emu: Emulator) -> None:
    admin, member = emu.add_user("민지")["id"], emu.add_user("James", language_code="en-GB")["id"]
    other = emu.add_user("지훈")["id"]
    chat = emu.create_group("잠실동", [admin, member, other], [admin])["id"]
    assert menu(emu, member, chat) == []
    await put(emu, "default", {"type": "default"})
    assert menu(emu, member, chat) == menu(emu, member) == ["default"]
    await put(emu, "groups", {"type": "all_group_chats"})
    await put(emu, "groups_en", {"type": "all_group_chats"}, "en")
    assert menu(emu, admin, chat) == ["groups"]
    assert menu(emu, member, chat) == ["groups_en"]  # en-GB: the list for "en"
    assert menu(emu, member) == ["default"]  # private chats fall through to default
    await put(emu, "admins", {"type": "all_chat_administrators"})
    assert (menu(emu, admin, chat), menu(emu, member, chat)) == (["admins"], ["groups_en"])
    await put(emu, "here", {"type": "chat", "chat_id": chat})
    assert menu(emu, admin, chat) == menu(emu, member, chat) == ["here"]  # before all admins
    await put(emu, "here_admins", {"type": "chat_administrators", "chat_id": chat})
    assert (menu(emu, admin, chat), menu(emu, member, chat)) == (["here_admins"], ["here"])
    await put(emu, "just_you", {"type": "chat_member", "chat_id": chat, "user_id": other})
    assert (menu(emu, other, chat), menu(emu, member, chat)) == (["just_you"], ["here"])
    # An empty list unsets a scope, as deleteMyCommands does: the next scope down shows again.
    here = {"type": "chat", "chat_id": chat}
    status, _ = await call(emu, "setMyCommands", commands=[], scope=here)
    assert status == 200 and menu(emu, member, chat) == ["groups_en"]
    await call(emu, "deleteMyCommands", scope={"type": "all_group_chats"}, language_code="en")
    assert menu(emu, member, chat) == ["groups"]


async def test_a_private_menu_prefers_the_persons_own_chat_then_all_private(emu: Emulator) -> None:
    minji = emu.add_user("민지")["id"]
    await put(emu, "private", {"type": "all_private_chats"})
    await put(emu, "private_ko", {"type": "all_private_chats"}, "ko")
    await put(emu, "groups", {"type": "all_group_chats"})
    assert menu(emu, minji) == ["private_ko"]
    await emu.send_text(minji, "/start")
    await put(emu, "yours", {"type": "chat", "chat_id": minji})
    assert menu(emu, minji) == menu(emu, minji, minji) == ["yours"]
