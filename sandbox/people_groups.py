"""The people side, groups: creating groups, joining them, adding and removing the bot, a
cleanup bot that deletes commands, upgrading a basic group to a supergroup; a group's admin
promoting, demoting and restricting the bot or making the group read-only; forum topics
(turning topics on, creating, closing and reopening topics and the General topic, writing in
a topic)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

from sandbox.errors import SandboxError
from sandbox.formatting import detect_entities
from sandbox.people import People
from sandbox.records import BOT_IN_GROUP, ChatRecord, MessageRecord
from sandbox.spec import MAX_TEXT

# The order the bot gets an upgrade's updates in; Telegram does not promise one.
UpgradeOrder = Literal["service_first", "member_first"]
UPGRADE_ORDERS: tuple[UpgradeOrder, ...] = ("service_first", "member_first")
# The colour Telegram clients give a new topic's icon (one of ForumTopicCreated's six).
TOPIC_ICON_COLOR = 0x6FB9F0
# What a member may send (ChatPermissions): one switch in the sandbox, as the clients' "Send
# messages" toggle turns them all.
_SEND_PERMISSIONS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews",
)  # fmt: skip


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
        if chat.bot_status in BOT_IN_GROUP:
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

    # ------------------------------------------------------------------ the bot's rights

    async def promote_bot(
        self, user_id: int, chat_id: int, *, can_manage_topics: bool = False
    ) -> None:
        """An admin makes the bot an administrator (my_chat_member: its old status ->
        administrator, with the rights; an administrator posts even where members may not).
        `can_manage_topics` lets it write in closed forum topics too."""
        chat = self._admin_acts(user_id, chat_id)
        if chat.bot_status not in ("member", "restricted"):
            raise SandboxError("only a bot in the group and not yet an admin can be promoted")
        rights = {"can_manage_topics": can_manage_topics} if chat.is_forum else {}
        self._set_bot_status(chat, self._user(user_id).user, "administrator", rights)

    async def demote_bot(self, user_id: int, chat_id: int) -> None:
        """An admin takes the bot's admin rights away (my_chat_member: administrator ->
        member)."""
        chat = self._admin_acts(user_id, chat_id)
        if chat.bot_status != "administrator":
            raise SandboxError("the bot is not an admin of this group")
        self._set_bot_status(chat, self._user(user_id).user, "member")

    async def restrict_bot(
        self, user_id: int, chat_id: int, *, can_send_messages: bool = False
    ) -> None:
        """An admin restricts the bot (my_chat_member: -> restricted, `is_member` true, with
        `can_send_messages` and the other sending permissions as given). Telegram restricts
        members only: an admin bot is demoted first."""
        chat = self._admin_acts(user_id, chat_id)
        if chat.bot_status not in ("member", "restricted"):
            raise SandboxError("only a member bot can be restricted (demote it first)")
        rights = {name: can_send_messages for name in _SEND_PERMISSIONS}
        self._set_bot_status(chat, self._user(user_id).user, "restricted", rights)

    async def unrestrict_bot(self, user_id: int, chat_id: int) -> None:
        """An admin lifts the bot's restrictions (my_chat_member: restricted -> member)."""
        chat = self._admin_acts(user_id, chat_id)
        if chat.bot_status != "restricted":
            raise SandboxError("the bot is not restricted in this group")
        self._set_bot_status(chat, self._user(user_id).user, "member")

    def set_group_permissions(self, user_id: int, chat_id: int, *, can_send_messages: bool) -> None:
        """An admin changes what every member may do: `can_send_messages` False makes the group
        read-only for all but its admins (the bot too, unless it is one). Telegram sends the
        bot no update for this; its sends answer 400 "not enough rights ..."."""
        chat = self._admin_acts(user_id, chat_id)
        chat.permissions = {name: can_send_messages for name in _SEND_PERMISSIONS}
        self._touch(chat)

    # ------------------------------------------------------------------ forum topics

    def enable_topics(self, user_id: int, chat_id: int) -> dict[str, Any]:
        """An admin turns topics on: the supergroup becomes a forum (`is_forum`), with its
        General topic; returns the Chat."""
        chat = self._admin_acts(user_id, chat_id)
        if chat.chat["type"] != "supergroup":
            raise SandboxError("only a supergroup can have topics")
        chat.chat["is_forum"] = True
        self._touch(chat)
        return copy.deepcopy(chat.chat)

    async def create_topic(self, user_id: int, chat_id: int, name: str) -> dict[str, Any]:
        """An admin creates a topic: a `forum_topic_created` service message whose message_id
        is the topic's message_thread_id; returns that message."""
        chat = self._admin_acts(user_id, chat_id)
        if not chat.is_forum:
            raise SandboxError("the group has no topics (enable them first)")
        if not 1 <= len(name) <= 128:
            raise SandboxError("a topic name is 1-128 characters")
        thread_id = chat.next_message_id
        content = {
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": TOPIC_ICON_COLOR},
        }
        chat.topics.append({"id": thread_id, "name": name, "closed": False})
        return self._service(chat, user_id, content)

    async def close_topic(self, user_id: int, chat_id: int, thread_id: int | None) -> None:
        """An admin closes a topic (`thread_id` None: the General topic): only admins who may
        manage topics write there until it is reopened; a bot's send answers 400
        "TOPIC_CLOSED"."""
        await self._set_topic_closed(user_id, chat_id, thread_id, closed=True)

    async def reopen_topic(self, user_id: int, chat_id: int, thread_id: int | None) -> None:
        """An admin reopens a closed topic (`thread_id` None: the General topic)."""
        await self._set_topic_closed(user_id, chat_id, thread_id, closed=False)

    async def _set_topic_closed(
        self, user_id: int, chat_id: int, thread_id: int | None, *, closed: bool
    ) -> None:
        chat = self._admin_acts(user_id, chat_id)
        if not chat.is_forum:
            raise SandboxError("the group has no topics")
        if thread_id is None:
            chat.general_closed = closed
            self._touch(chat)
            return
        topic = chat.topic(thread_id)
        if topic is None:
            raise SandboxError(f"no topic {thread_id}")
        topic["closed"] = closed
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        content = {"message_thread_id": thread_id, "is_topic_message": True, key: {}}
        self._service(chat, user_id, content)

    async def send_topic_text(
        self, user_id: int, chat_id: int, thread_id: int, text: str
    ) -> dict[str, Any]:
        """A member writes in a forum topic: the message carries the topic's
        `message_thread_id` and `is_topic_message` (Bot API, Message). A closed topic takes
        messages from its admins only."""
        chat = self._chat_of_person(user_id, chat_id)
        topic = chat.topic(thread_id) if chat.is_forum else None
        if topic is None:
            raise SandboxError(f"no topic {thread_id} in {chat_id}")
        if topic["closed"] and not self._is_admin(chat, user_id):
            raise SandboxError("the topic is closed")
        if not text.strip() or len(text) > MAX_TEXT:
            raise SandboxError("text must be 1-4096 characters")
        content: dict[str, Any] = {
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "text": text,
        }
        if entities := detect_entities(text):
            content["entities"] = entities
        return self._post_user_message(user_id, chat_id, content)

    def _service(self, chat: ChatRecord, user_id: int, content: dict[str, Any]) -> dict[str, Any]:
        """A service message in a group, seen by the bot as any message there is."""
        message = self._new_message(chat, self._user(user_id).user, content)
        self._store(chat, MessageRecord(message))
        if self._bot_receives(chat, message):
            self._enqueue("message", message)
        return copy.deepcopy(message)

    def _admin_acts(self, user_id: int, chat_id: int) -> ChatRecord:
        chat = self._group(chat_id)
        if chat.migrated_to is not None:
            raise SandboxError(f"group {chat_id} is now the supergroup {chat.migrated_to}")
        self._user(user_id)
        if not self._is_admin(chat, user_id):
            raise SandboxError("only an admin of the group can do that")
        return chat

    @staticmethod
    def _is_admin(chat: ChatRecord, user_id: int) -> bool:
        return user_id in chat.admins or user_id == chat.owner_id

    # ------------------------------------------------------------------ other bots

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
