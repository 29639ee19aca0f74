"""The world's records: people, chats with their messages, stored files, the webhook.

Plain dataclasses that the emulator keeps in memory and writes to its state file
(`to_json`/`from_json`); Telegram objects inside them are kept as the JSON dicts the Bot API
sends.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

# The bot's statuses that keep it in a group (a restricted bot is still a member there).
BOT_IN_GROUP = ("member", "administrator", "restricted")


@dataclass
class UserRecord:
    user: dict[str, Any]
    phone_number: str
    blocked: bool = False


@dataclass
class MessageRecord:
    message: dict[str, Any]
    edit_history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    # A reply keyboard (or its removal) the bot sent with this message; Telegram's Message
    # object does not carry it, the person's screen does.
    reply_keyboard: dict[str, Any] | None = None


@dataclass
class ChatRecord:
    chat: dict[str, Any]
    members: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    owner_id: int | None = None
    bot_status: str = "member"
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    next_message_id: int = 1
    version: int = 0
    reply_keyboard: dict[str, Any] | None = None
    chat_action: str | None = None
    chat_action_until: float = 0.0
    # A cleanup bot runs in the group: commands are deleted as they arrive (set_cleanup_bot).
    cleanup_commands: bool = False
    # A basic group upgraded to a supergroup: the new chat's id (the old one answers 400).
    migrated_to: int | None = None
    # The bot's rights beyond its status: an administrator's `can_*` rights, or a restricted
    # member's permissions (Bot API ChatMemberAdministrator / ChatMemberRestricted).
    bot_rights: dict[str, bool] = field(default_factory=dict)
    # What members may do (ChatPermissions; absent: allowed). `can_send_messages` False makes
    # the group read-only for everyone but its admins, the bot included when not one.
    permissions: dict[str, bool] = field(default_factory=dict)
    # A forum's topics (`chat["is_forum"]`): {"id": message_thread_id, "name", "closed"}.
    topics: list[dict[str, Any]] = field(default_factory=list)
    # A forum's General topic (no message_thread_id) closed by an admin.
    general_closed: bool = False
    # Admins with "Remain anonymous" on: they post as the group (people.remain_anonymous).
    anonymous_admins: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    @property
    def is_private(self) -> bool:
        return bool(self.chat["type"] == "private")

    @property
    def is_forum(self) -> bool:
        return bool(self.chat.get("is_forum"))

    def topic(self, thread_id: int) -> dict[str, Any] | None:
        """A forum topic by its message_thread_id (None: no such topic)."""
        return next((t for t in self.topics if t["id"] == thread_id), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy (message ids become list order)."""
        out = asdict(self)
        out["messages"] = [asdict(m) for m in self.messages.values()]
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChatRecord:
        """Rebuilds a chat saved by `to_json`."""
        messages = [MessageRecord(**m) for m in raw.pop("messages")]
        chat = cls(**raw)
        chat.messages = {int(m.message["message_id"]): m for m in messages}
        return chat


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    file_path: str
    kind: str  # "photo", "document", "video" or "video_note"
    data: bytes
    meta: dict[str, Any]  # the PhotoSize, Document, Video or VideoNote object
    photo_set: list[str] = field(default_factory=list)  # every size of the same photo

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy with the bytes in base64."""
        out = asdict(self)
        out["data"] = base64.b64encode(self.data).decode()
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FileRecord:
        """Rebuilds a file saved by `to_json`."""
        return cls(**{**raw, "data": base64.b64decode(raw["data"])})


@dataclass
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


def location_object(latitude: float, longitude: float) -> dict[str, Any]:
    """A Location object (both sides send them: sendLocation, sendVenue, people sharing)."""
    return {"latitude": float(latitude), "longitude": float(longitude)}
