"""The people side, groups: creating groups, joining them, adding and removing the bot, a
cleanup bot that deletes commands, upgrading a basic group to a supergroup."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

from sandbox.errors import SandboxError
from sandbox.people import People
from sandbox.records import ChatRecord, MessageRecord

# The order the bot gets an upgrade's updates in; Telegram does not promise one.
UpgradeOrder = Literal["service_first", "member_first"]
UPGRADE_ORDERS: tuple[UpgradeOrder, ...] = ("service_first", "member_first")


class Groups(People):
    """Groups and supergroups, and the bot's place in them."""

    def create_group(
        self,
        title: str,
        member_ids: Iterable[int],
        admin_ids: Iterable[int] = (),
        *,
        supergroup: bool = True,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Creates a group (the bot is not in it yet) and returns its Chat object."""
        members = list(dict.fromkeys(member_ids))
        admins = list(dict.fromkeys(admin_ids))
        for uid in [*members, *admins]:
            self._user(uid)
        members += [a for a in admins if a not in members]
        if not members:
            raise SandboxError("a group needs at least one member")
        n = self._next_group
        self._next_group += 1
        chat_id = -(1_000_000_000_000 + n) if supergroup else -(4_000_000_000 + n)
        raw: dict[str, Any] = {
            "id": chat_id,
            "type": "supergroup" if supergroup else "group",
            "title": title,
        }
        if username:
            raw["username"] = username
        owner = admins[0] if admins else members[0]
        self.chats[chat_id] = ChatRecord(
            raw, members=members, admins=admins, owner_id=owner, bot_status="left"
        )
        self._changed()
        return copy.deepcopy(raw)

    def add_member(self, chat_id: int, user_id: int, *, admin: bool = False) -> dict[str, Any]:
        """A person joins a group; returns the new_chat_members service message."""
        chat = self._group(chat_id)
        user = self._user(user_id).user
        if user_id not in chat.members:
            chat.members.append(user_id)
        if admin and user_id not in chat.admins:
            chat.admins.append(user_id)
        message = self._new_message(chat, user, {"new_chat_members": [copy.deepcopy(user)]})
        self._store(chat, MessageRecord(message))
        if self._bot_receives(chat, message):
            self._enqueue("message", message)
        return copy.deepcopy(message)

    async def add_bot_to_group(
        self, user_id: int, chat_id: int, *, as_admin: bool = False
    ) -> dict[str, Any]:
        """A member adds the bot: my_chat_member plus a new_chat_members message."""
        chat = self._group(chat_id)
        user = self._user(user_id).user
        if user_id not in chat.members:
            raise SandboxError("only a member can add the bot")
        if as_admin and user_id not in chat.admins:
            raise SandboxError("only an admin can add the bot as admin")
        if chat.bot_status in ("member", "administrator"):
            raise SandboxError("the bot is already in this group")
        self._set_bot_status(chat, user, "administrator" if as_admin else "member")
        content = {"new_chat_members": [copy.deepcopy(self.bot_user)]}
        message = self._new_message(chat, user, content)
        self._store(chat, MessageRecord(message))
        self._enqueue("message", message)
        return copy.deepcopy(message)

    async def remove_bot_from_group(self, user_id: int, chat_id: int) -> None:
        """An admin removes the bot from a group (my_chat_member: kicked)."""
        chat = self._group(chat_id)
        if user_id not in chat.admins and user_id != chat.owner_id:
            raise SandboxError("only an admin can remove the bot")
        self._set_bot_status(chat, self._user(user_id).user, "kicked")

    def set_cleanup_bot(self, chat_id: int, *, commands: bool = True) -> None:
        """Another bot in the group deletes every command as it arrives (groups run such
        bots to keep the chat clean); the bot still gets the update, but the command it would
        reply to is gone by the time it answers."""
        chat = self._group(chat_id)
        chat.cleanup_commands = commands
        self._changed()

    async def upgrade_group(
        self, user_id: int, chat_id: int, *, order: UpgradeOrder = "member_first"
    ) -> dict[str, Any]:
        """The group's owner or an admin turns a basic group into a supergroup (as Telegram
        clients do when a group gets a public link, more admin rights or many members); returns
        the new supergroup's Chat.

        The supergroup gets a new `-100…` id with the same title, people and the bot's status.
        The old group gets a service message with `migrate_to_chat_id`, the new one a service
        message with `migrate_from_chat_id`, and a bot that was in the group gets both plus
        `my_chat_member` for the new chat (left → its status there). `order` picks which comes
        first: "service_first" (the two service messages, then my_chat_member) or
        "member_first" (my_chat_member, then the service messages). From then on every call
        naming the old id answers 400 "group chat was upgraded to a supergroup chat" with
        `parameters.migrate_to_chat_id`, and nobody can write in the old group.
        """
        if order not in UPGRADE_ORDERS:
            raise SandboxError(f"order must be one of {', '.join(UPGRADE_ORDERS)}")
        old = self._group(chat_id)
        user = self._user(user_id).user
        if old.chat["type"] != "group" or old.migrated_to is not None:
            raise SandboxError("only a basic group can be upgraded")
        if user_id not in old.admins and user_id != old.owner_id:
            raise SandboxError("only an admin can upgrade the group")
        n = self._next_group
        self._next_group += 1
        new_id = -(1_000_000_000_000 + n)
        raw = {**copy.deepcopy(old.chat), "id": new_id, "type": "supergroup"}
        new = self.chats[new_id] = ChatRecord(
            raw,
            members=list(old.members),
            admins=list(old.admins),
            owner_id=old.owner_id,
            bot_status="left",
            cleanup_commands=old.cleanup_commands,
        )
        bot_status, bot_in = old.bot_status, self._bot_is_in(old)
        moved_to = self._new_message(old, user, {"migrate_to_chat_id": new_id})
        self._store(old, MessageRecord(moved_to))
        moved_from = self._new_message(new, user, {"migrate_from_chat_id": chat_id})
        self._store(new, MessageRecord(moved_from))
        old.migrated_to = new_id
        old.bot_status = "left"
        if not bot_in:
            new.bot_status = bot_status
            self._touch(new)
            return copy.deepcopy(raw)
        if order == "member_first":
            self._set_bot_status(new, user, bot_status)
        self._enqueue("message", moved_to)
        self._enqueue("message", moved_from)
        if order == "service_first":
            self._set_bot_status(new, user, bot_status)
        return copy.deepcopy(raw)

    def _group(self, chat_id: int) -> ChatRecord:
        chat = self.chats.get(chat_id)
        if chat is None or chat.is_private:
            raise SandboxError(f"no group {chat_id}")
        return chat
