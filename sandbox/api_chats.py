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
from sandbox.records import BOT_IN_GROUP, ChatRecord, MessageRecord
from sandbox.spec import load_spec
from sandbox.world import Handler, World

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
# What Telegram answers for a basic group that became a supergroup (with migrate_to_chat_id).
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
# setMyCommands: "A two-letter ISO 639-1 language code" (or none).
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
# BotCommandScope types and the fields that name their chat or person (Bot API, BotCommandScope).
_SCOPE_FIELDS: dict[str, tuple[str, ...]] = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


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
        key = self._command_key(p)
        if commands:
            self.commands[key] = copy.deepcopy(commands)
        else:  # an empty list is no list: the next scope down applies again
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> list[Any]:
        # The exact scope and language asked for, never a fallback (Bot API, getMyCommands).
        return copy.deepcopy(self.commands.get(self._command_key(p), []))

    async def _delete_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        self.commands.pop(self._command_key(p), None)
        return True

    def my_commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands the bot set for exactly this scope and language (as getMyCommands)."""
        key = _scope_key({"scope": scope, "language_code": language_code})
        return copy.deepcopy(self.commands.get(key, []))

    def menu_commands(self, user_id: int, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The command menu `user_id` sees in a chat (their private chat when `chat_id` is None),
        resolved as the Bot API's "Determining list of commands" says: the most specific scope
        set wins, each first with the person's language, then without one."""
        user = self.users[user_id].user
        lang = str(user.get("language_code") or "")[:2].lower()
        scopes: list[dict[str, Any]]
        if chat_id is None or chat_id == user_id:  # the menu shows before the first message
            scopes = [{"type": "chat", "chat_id": user_id}, {"type": "all_private_chats"}]
        else:
            chat = self._find_chat(chat_id)
            admin = user_id == chat.owner_id or user_id in chat.admins
            mine = {"chat_id": chat.id, "user_id": user_id}
            scopes = [
                {"type": "chat_member", **mine},
                *([{"type": "chat_administrators", "chat_id": chat.id}] if admin else []),
                {"type": "chat", "chat_id": chat.id},
                *([{"type": "all_chat_administrators"}] if admin else []),
                {"type": "all_group_chats"},
            ]
        for scope in [*scopes, {"type": "default"}]:
            for code in (lang, ""):
                found = self.commands.get(_scope_key({"scope": scope, "language_code": code}))
                if found is not None:
                    return copy.deepcopy(found)
        return []

    def _command_key(self, p: dict[str, Any]) -> str:
        """The scope and language a set/get/deleteMyCommands call names, checked as Telegram
        checks them (tdlib/telegram-bot-api `Client::get_bot_command_scope`)."""
        code = p.get("language_code") or ""
        if code and not _LANGUAGE_CODE.fullmatch(code):
            raise bad("invalid language code specified")
        scope = dict(p.get("scope") or {"type": "default"})
        kind = scope.get("type")
        if kind not in _SCOPE_FIELDS:
            raise bad("unsupported bot command scope type specified")
        fields = _SCOPE_FIELDS[kind]
        if "chat_id" in fields:
            if scope.get("chat_id") in (None, ""):
                raise bad("chat_id is empty")
            chat = self._find_chat(scope["chat_id"])
            if kind != "chat" and chat.is_private:
                raise bad("chat not found")  # administrators and members exist in groups only
            scope["chat_id"] = chat.id
        if "user_id" in fields:
            user_id = int(scope.get("user_id") or 0)
            if user_id not in self.users:
                raise bad("user not found")
            scope["user_id"] = user_id
        named = {k: scope[k] for k in ("type", *fields)}
        return _scope_key({"scope": named, "language_code": code})

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
            info["permissions"] = {"can_send_messages": True, **chat.permissions}
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
            out.append(self._member_object(self.bot_user, "administrator", chat.bot_rights))
        return out

    async def _get_chat_member_count(self, p: dict[str, Any], f: dict[str, Any]) -> int:
        chat = self._find_chat(p["chat_id"])
        if chat.is_private:
            return 2
        return len(chat.members) + (1 if chat.bot_status in BOT_IN_GROUP else 0)

    async def _leave_chat(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        chat = self._find_chat(p["chat_id"])
        if chat.is_private:
            raise bad("chat member status can't be changed in private chats")
        if chat.bot_status not in BOT_IN_GROUP:
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
            if chat.is_private:
                return self._member_object(self.bot_user, "member")
            return self._member_object(self.bot_user, chat.bot_status, chat.bot_rights)
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
    def _member_object(
        user: dict[str, Any], status: str, rights: dict[str, bool] | None = None
    ) -> dict[str, Any]:
        """A ChatMember of the Bot API type for `status`; `rights` are an administrator's
        rights (absent: granted) or a restricted member's permissions (absent: refused)."""
        member: dict[str, Any] = {"status": status, "user": copy.deepcopy(user)}
        rights = rights or {}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            for f in load_spec().types["ChatMemberAdministrator"]:
                if f.types != ("Boolean",) or not (f.required or f.name in rights):
                    continue
                default = f.name not in ("can_be_edited", "is_anonymous")
                member[f.name] = bool(rights.get(f.name, default))
        elif status == "restricted":
            # Still in the chat, with only the permissions given (until_date 0: forever).
            for f in load_spec().types["ChatMemberRestricted"]:
                if f.required and f.types == ("Boolean",):
                    member[f.name] = f.name == "is_member" or bool(rights.get(f.name, False))
            member["until_date"] = 0
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
        if found.migrated_to is not None:
            # A basic group upgraded to a supergroup: every call naming the old id is refused
            # with the new id in `parameters` (Bot API `ResponseParameters.migrate_to_chat_id`).
            raise ApiError(400, UPGRADED, {"migrate_to_chat_id": found.migrated_to})
        return found

    def _chat_for_send(self, chat_id: int | str) -> ChatRecord:
        chat = self._find_chat(chat_id)
        if chat.is_private:
            if self.users[chat.id].blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        elif chat.bot_status not in BOT_IN_GROUP:
            raise ApiError(403, _not_member(chat))
        return chat

    def _set_bot_status(
        self,
        chat: ChatRecord,
        actor: dict[str, Any],
        status: str,
        rights: dict[str, bool] | None = None,
    ) -> None:
        """The bot's own membership changes (`actor` did it): a my_chat_member update, with the
        old and new ChatMember as Telegram sends them (an administrator's rights, a restricted
        member's permissions)."""
        old, old_rights = chat.bot_status, dict(chat.bot_rights)
        if chat.is_private:
            old = "kicked" if self.users[chat.id].blocked else "member"
        else:
            chat.bot_status = status
            chat.bot_rights = dict(rights or {})
        update = {
            "chat": copy.deepcopy(chat.chat),
            "from": copy.deepcopy(actor),
            "date": self._now(),
            "old_chat_member": self._member_object(self.bot_user, old, old_rights),
            "new_chat_member": self._member_object(self.bot_user, status, rights),
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
