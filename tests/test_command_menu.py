"""The command menu per scope and language (issue 19, point 11): what getMyCommands answers
after start-up for private chats, group members, group admins and the admin group, in Korean
(the default, no language_code) and English; and what each person's menu then shows."""

from __future__ import annotations

from typing import Any

import pytest

from storage.db import transaction
from storage.users import grant_admin
from tests.harness import BotHarness, make_settings
from tests.people import Neighbour

PRIVATE = [
    "start", "help", "missions", "meetups", "mymeetups", "map", "host", "checkin", "points",
    "market", "vouchers", "report", "block", "profile", "language", "cancel", "privacy", "mydata",
    "deleteme",
]  # fmt: skip
GROUP = ["help"]
GROUP_ADMIN = ["help", "setregion", "settime", "setgather", "pause", "resume"]
ADMIN_GROUP = ["help", "drafts", "stats", "reports"]
# An operator's private menu (issue 23): the private commands, then theirs.
OPERATOR = [*PRIVATE, "drafts", "review", "stats", "refund", "reports", "ban", "unban"]


def names(commands: list[dict[str, Any]]) -> list[str]:
    return [c["command"] for c in commands]


async def menus(bot: BotHarness, scope: dict[str, Any]) -> dict[str | None, list[dict[str, Any]]]:
    """getMyCommands for one scope, Korean (no language_code) and English."""
    out: dict[str | None, list[dict[str, Any]]] = {}
    for code in (None, "en"):
        params: dict[str, Any] = {"scope": scope}
        if code:
            params["language_code"] = code
        status, body = await bot.emulator.bot_call(bot.emulator.token, "getMyCommands", params)
        assert status == 200, body
        out[code] = body["result"]
    return out


async def test_each_scope_gets_its_commands_in_korean_and_english(bot: BotHarness) -> None:
    private = await menus(bot, {"type": "all_private_chats"})
    groups = await menus(bot, {"type": "all_group_chats"})
    admins = await menus(bot, {"type": "all_chat_administrators"})
    for code in (None, "en"):
        assert names(private[code]) == PRIVATE
        assert names(groups[code]) == GROUP
        assert names(admins[code]) == GROUP_ADMIN
    ko = {c["command"]: c["description"] for c in admins[None]}
    en = {c["command"]: c["description"] for c in admins["en"]}
    assert ko["help"] == "할 수 있는 일 보기" and en["help"] == "What I can do"
    assert en["setregion"] == "Choose this group's neighbourhood"
    assert ko["setregion"] == "이 그룹의 동네 정하기"
    # Without an admin group nothing is set for any single chat.
    assert not [c for c in bot.request.calls if c.params.get("scope", {}).get("type") == "chat"]


async def test_the_admin_group_gets_the_review_commands(bot: BotHarness) -> None:
    admin = bot.user("관리자")
    member = bot.user("James", language_code="en")
    chat = bot.emulator.create_group("할사람 관리자", [admin["id"], member["id"]], [admin["id"]])
    await bot.emulator.add_bot_to_group(admin["id"], chat["id"])
    bot.settings = make_settings(database_url=bot.settings.database_url, admin_chat_id=chat["id"])
    await bot.restart()

    here = await menus(bot, {"type": "chat", "chat_id": chat["id"]})
    assert names(here[None]) == names(here["en"]) == ADMIN_GROUP
    assert {c["command"]: c["description"] for c in here["en"]}["drafts"] == (
        "Missions waiting for review"
    )
    # What people see: the admin group's list wins over the group-wide ones, for everyone there.
    assert names(bot.emulator.menu_commands(admin["id"], chat["id"])) == ADMIN_GROUP
    assert bot.emulator.menu_commands(member["id"], chat["id"]) == here["en"]


async def test_people_see_the_menu_of_their_chat_and_language(bot: BotHarness) -> None:
    admin, member = bot.user("민지"), bot.user("James", language_code="en")
    chat = bot.emulator.create_group("잠실동 이웃", [admin["id"], member["id"]], [admin["id"]])
    await bot.emulator.add_bot_to_group(admin["id"], chat["id"])
    assert names(bot.emulator.menu_commands(admin["id"], chat["id"])) == GROUP_ADMIN
    assert names(bot.emulator.menu_commands(member["id"], chat["id"])) == GROUP
    assert bot.emulator.menu_commands(member["id"])[1] == {
        "command": "help",
        "description": "What I can do",
    }
    assert bot.emulator.menu_commands(admin["id"])[1]["description"] == "할 수 있는 일 보기"


async def test_help_in_a_group_lists_its_commands_addressed_to_this_bot(bot: BotHarness) -> None:
    admin, member = bot.user("민지"), bot.user("James", language_code="en")
    chat = bot.emulator.create_group("잠실동 이웃", [admin["id"], member["id"]], [admin["id"]])
    [intro] = await bot.act(chat["id"], bot.emulator.add_bot_to_group(admin["id"], chat["id"]))
    assert "/setregion@halsaram_bot — 동네 선택" in intro["text"]
    assert "/pause@halsaram_bot, /resume@halsaram_bot" in intro["text"]

    [to_member] = await bot.act(
        chat["id"], bot.emulator.send_text(member["id"], "/help", chat["id"])
    )
    assert to_member["text"].splitlines() == [
        "Here is what I can do:",
        "",
        "/help@halsaram_bot — What I can do",
    ]
    [to_admin] = await bot.act(
        chat["id"], bot.emulator.send_text(admin["id"], "/help@halsaram_bot", chat["id"])
    )
    assert to_admin["text"].startswith("이런 걸 할 수 있어요:\n\n/help@halsaram_bot — ")
    assert "그룹 관리자:\n/setregion@halsaram_bot — 이 그룹의 동네 정하기\n" in to_admin["text"]
    assert to_admin["text"].endswith("/resume@halsaram_bot — 매일 올리는 미션 다시 시작하기")


async def test_help_in_the_admin_group_lists_the_review_commands(bot: BotHarness) -> None:
    admin = bot.user("James", language_code="en")
    chat = bot.emulator.create_group("Halsaram admins", [admin["id"]], [admin["id"]])
    await bot.emulator.add_bot_to_group(admin["id"], chat["id"])
    bot.settings = make_settings(database_url=bot.settings.database_url, admin_chat_id=chat["id"])
    await bot.restart()
    await bot.deliver()  # the introduction
    [reply] = await bot.act(chat["id"], bot.emulator.send_text(admin["id"], "/help", chat["id"]))
    assert reply["text"].splitlines()[2:] == [
        "/help@halsaram_bot — What I can do",
        "/drafts@halsaram_bot — Missions waiting for review",
        "/stats@halsaram_bot — The last weeks' figures and the weekly chart",
        "/reports@halsaram_bot — Open reports, with buttons to decide them",
    ]


@pytest.mark.usefixtures("seeded")
async def test_help_in_private_lists_an_operators_commands_to_operators_only(
    bot: BotHarness,
) -> None:
    """`/review`, `/refund`, `/drafts` and `/stats` appeared in no /help (issue 23): an
    operator sees them under their own heading; anyone else does not."""
    operator = await Neighbour(bot, "James", lang="en").register()
    other = await Neighbour(bot, "Mina", lang="en").register()
    async with transaction(bot.sessions) as s:
        await grant_admin(s, operator.id, bot.clock)
    [mine] = await operator.say("/help")
    heading = "Operators (you are one):"
    assert mine["text"].split(heading)[1].splitlines()[1:] == [
        "/drafts — Missions waiting for review",
        "/review — Photos waiting for review",
        "/stats — The last weeks' figures and the weekly chart",
        "/refund — Give back the points of a bad voucher code",
        "/reports — Open reports, with buttons to decide them",
        "/ban — Close an account for good, with a reason",
        "/unban — Lift a ban",
    ]
    [theirs] = await other.say("/help")
    assert heading not in theirs["text"] and "/review" not in theirs["text"]


@pytest.mark.usefixtures("seeded")
async def test_an_operators_private_menu_lists_their_commands(bot: BotHarness) -> None:
    """Telegram's menu per role (issue 23): an operator's private chat gets its own list
    (setMyCommands, BotCommandScopeChat of their id) at start, and again on /help for one made
    while the bot runs; everyone else keeps the private list."""
    early = await Neighbour(bot, "James", lang="en").register()
    other = await Neighbour(bot, "Mina", lang="en").register()
    async with transaction(bot.sessions) as s:
        await grant_admin(s, early.id, bot.clock)
    await bot.restart()
    assert names(bot.emulator.menu_commands(early.id)) == OPERATOR
    here = await menus(bot, {"type": "chat", "chat_id": early.id})
    assert names(here[None]) == names(here["en"]) == OPERATOR
    assert names(bot.emulator.menu_commands(other.id)) == PRIVATE
    # Made an admin while the bot runs: their /help brings the menu, no restart needed.
    async with transaction(bot.sessions) as s:
        await grant_admin(s, other.id, bot.clock)
    await other.say("/help")
    assert names(bot.emulator.menu_commands(other.id)) == OPERATOR
