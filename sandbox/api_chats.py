"""Bot API, the bot and its chats: getMe, commands, menu button, name and descriptions,
getChat, getChatMember, getChatAdministrators, getChatMemberCount, leaveChat.

Also finding the chat a call names (and refusing with 403 where Telegram does) and the
my_chat_member update sent whenever the bot's own membership changes.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from sandbox.errors import ApiError, bad
from sandbox.records import ChatRecord, MessageRecord
from sandbox.spec import load_spec
from sandbox.world import Handler, World

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class ChatsApi(World):
    """The bot's identity and settings, and what it may ask about chats and members."""

    async def _get_me(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.group_privacy,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ bot side: settings

    async def _set_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise bad("too many commands")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(command["command"]):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise bad("command description must be 1-256 characters")
        self.commands[_scope_key(p)] = copy.deepcopy(commands)
        return True

    async def _get_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> list[Any]:
        return copy.deepcopy(self.commands.get(_scope_key(p), []))

    async def _delete_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        self.commands.pop(_scope_key(p), None)
        return True

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands the bot set for a scope and language (what a person's menu shows)."""
        key = _scope_key({"scope": scope, "language_code": language_code})
        return copy.deepcopy(self.commands.get(key, []))

    async def _set_chat_menu_button(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        key = str(p.get("chat_id", "default"))
        self.menu_buttons[key] = copy.deepcopy(p.get("menu_button", {"type": "default"}))
        return True

    async def _get_chat_menu_button(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        key = str(p.get("chat_id", "default"))
        fallback = self.menu_buttons.get("default", {"type": "commands"})
        return copy.deepcopy(self.menu_buttons.get(key, fallback))

    def _profile_setter(self, key: str) -> Handler:
        async def setter(p: dict[str, Any], f: dict[str, Any]) -> bool:
            lang = p.get("language_code", "")
            self.profile[f"{key}:{lang}"] = str(p.get(key, ""))
            return True

        return setter

    def _profile_getter(self, key: str) -> Handler:
        async def getter(p: dict[str, Any], f: dict[str, Any]) -> dict[str, str]:
            lang = p.get("language_code", "")
            default = self.bot_user["first_name"] if key == "name" else ""
            return {key: self.profile.get(f"{key}:{lang}", self.profile.get(f"{key}:", default))}

        return getter

    # ------------------------------------------------------------------ bot side: chats

    async def _get_chat(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._find_chat(p["chat_id"])
        info = {
            **copy.deepcopy(chat.chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if not chat.is_private:
            info["permissions"] = {"can_send_messages": True}
        return info

    async def _get_chat_member(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._find_chat(p["chat_id"])
        return self._member_of(chat, int(p["user_id"]))

    async def _get_chat_administrators(
        self, p: dict[str, Any], f: dict[str, Any]
    ) -> list[dict[str, Any]]:
        chat = self._find_chat(p["chat_id"])
        if chat.is_private:
            raise bad("there are no administrators in the private chat")
        ids = [i for i in [chat.owner_id, *chat.admins] if i is not None]
        out = [self._member_of(chat, uid) for uid in dict.fromkeys(ids)]
        if chat.bot_status == "administrator":
            out.append(self._member_object(self.bot_user, "administrator"))
        return out

    async def _get_chat_member_count(self, p: dict[str, Any], f: dict[str, Any]) -> int:
        chat = self._find_chat(p["chat_id"])
        if chat.is_private:
            return 2
        return len(chat.members) + (1 if chat.bot_status in ("member", "administrator") else 0)

    async def _leave_chat(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        chat = self._find_chat(p["chat_id"])
        if chat.is_private:
            raise bad("chat member status can't be changed in private chats")
        if chat.bot_status not in ("member", "administrator"):
            raise ApiError(403, _not_member(chat))
        self._set_bot_status(chat, self.bot_user, "left")
        self._store(
            chat,
            MessageRecord(
                self._new_message(chat, self.bot_user, {"left_chat_member": self.bot_user})
            ),
        )
        return True

    def _member_of(self, chat: ChatRecord, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_user["id"]:
            status = "member" if chat.is_private else chat.bot_status
            return self._member_object(self.bot_user, status)
        record = self.users.get(user_id)
        if record is None:
            raise bad("PARTICIPANT_ID_INVALID")
        if chat.is_private:
            status = "member" if user_id == chat.id else "left"
        elif user_id == chat.owner_id:
            status = "creator"
        elif user_id in chat.admins:
            status = "administrator"
        else:
            status = "member" if user_id in chat.members else "left"
        return self._member_object(record.user, status)

    @staticmethod
    def _member_object(user: dict[str, Any], status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"status": status, "user": copy.deepcopy(user)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            for f in load_spec().types["ChatMemberAdministrator"]:
                if f.required and f.types == ("Boolean",):
                    member[f.name] = f.name not in ("can_be_edited", "is_anonymous")
        return member

    def _find_chat(self, chat_id: int | str) -> ChatRecord:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.chat.get("username", "").lower() == chat_id[1:].lower():
                    return chat
            raise bad("chat not found")
        try:
            key = int(chat_id)
        except ValueError as exc:
            raise bad("chat not found") from exc
        found = self.chats.get(key)
        if found is None:
            if key in self.users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad("chat not found")
        return found

    def _chat_for_send(self, chat_id: int | str) -> ChatRecord:
        chat = self._find_chat(chat_id)
        if chat.is_private:
            if self.users[chat.id].blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        elif chat.bot_status not in ("member", "administrator"):
            raise ApiError(403, _not_member(chat))
        return chat

    def _set_bot_status(self, chat: ChatRecord, actor: dict[str, Any], status: str) -> None:
        """The bot's own membership changes (`actor` did it): a my_chat_member update."""
        old = chat.bot_status
        if chat.is_private:
            old = "kicked" if self.users[chat.id].blocked else "member"
        else:
            chat.bot_status = status
        update = {
            "chat": copy.deepcopy(chat.chat),
            "from": copy.deepcopy(actor),
            "date": self._now(),
            "old_chat_member": self._member_object(self.bot_user, old),
            "new_chat_member": self._member_object(self.bot_user, status),
        }
        self._enqueue("my_chat_member", update)
        self._touch(chat)


def _not_member(chat: ChatRecord) -> str:
    kind = "supergroup" if chat.chat["type"] == "supergroup" else "group"
    if chat.bot_status == "kicked":
        return f"Forbidden: bot was kicked from the {kind} chat"
    return f"Forbidden: bot is not a member of the {kind} chat"


def _scope_key(p: dict[str, Any]) -> str:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)
