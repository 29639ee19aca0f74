"""The people side: creating people and acting as them in a chat with the bot.

What tests and the web chat call to be a person: send text (a command gets its entity), press
inline and reply-keyboard buttons, share a contact, location or place (a live location then
moves), send a photo, a document, a video or a round video message, edit, forward or delete a
message, block and unblock the bot. Each action becomes the update Telegram would send, if the
bot is there to receive it (group privacy mode included). A supergroup's admin can remain
anonymous and then posts as the group (`remain_anonymous`).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.api_chats import ChatsApi
from sandbox.api_files import FilesApi
from sandbox.errors import SandboxError
from sandbox.formatting import detect_entities
from sandbox.media import NotAnImage, video_facts
from sandbox.records import BOT_IN_GROUP, ChatRecord, MessageRecord, UserRecord, location_object
from sandbox.spec import MAX_CAPTION, MAX_TEXT

# Seokchon Lake, the default place a person "shares" from a location button.
DEFAULT_LOCATION = (37.5096, 127.1027)
# live_period for a live location that never ends (Bot API, sendLocation).
LIVE_FOREVER = 0x7FFFFFFF
# The stand-in `from` of every message an anonymous admin posts as their group, in every group
# (Bot API 5.0, Message.sender_chat; telegram.constants.ChatID.ANONYMOUS_ADMIN).
GROUP_ANONYMOUS_BOT: dict[str, Any] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


class People(FilesApi, ChatsApi):
    """People and what they do in their chats."""

    def add_user(
        self,
        first_name: str,
        *,
        language_code: str = "ko",
        username: str | None = None,
        user_id: int | None = None,
        phone_number: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Creates a person and returns their User object."""
        if user_id is None:
            while self._next_user_id in self.users:
                self._next_user_id += 1
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id in self.users or user_id == self.bot_user["id"] or user_id <= 0:
            raise SandboxError(f"user id {user_id} is taken or invalid")
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        user["language_code"] = language_code
        phone = phone_number or f"+8210{user_id % 100_000_000:08d}"
        self.users[user_id] = UserRecord(user, phone)
        self._changed()
        return copy.deepcopy(user)

    def list_users(self) -> list[dict[str, Any]]:
        """Every person, as User objects with a `blocked` flag."""
        return [{**copy.deepcopy(r.user), "blocked": r.blocked} for r in self.users.values()]

    def _user(self, user_id: int) -> UserRecord:
        record = self.users.get(user_id)
        if record is None:
            raise SandboxError(f"no user {user_id}")
        return record

    def _private_chat(self, user_id: int) -> ChatRecord:
        chat = self.chats.get(user_id)
        if chat is None:
            user = self._user(user_id).user
            raw = {"id": user_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    raw[key] = user[key]
            chat = self.chats[user_id] = ChatRecord(raw, members=[user_id])
        return chat

    def _chat_of_person(self, user_id: int, chat_id: int | None) -> ChatRecord:
        record = self._user(user_id)
        if chat_id is None or chat_id == user_id:
            chat = self._private_chat(user_id)
            if record.blocked:
                # Writing to a blocked bot goes through "Restart", which unblocks it.
                self.unblock_bot(user_id)
            return chat
        group = self.chats.get(chat_id)
        if group is None or group.is_private:
            raise SandboxError(f"no group {chat_id}")
        if group.migrated_to is not None:
            raise SandboxError(f"group {chat_id} is now the supergroup {group.migrated_to}")
        if user_id not in group.members:
            raise SandboxError(f"user {user_id} is not a member of {chat_id}")
        return group

    def remain_anonymous(self, user_id: int, chat_id: int, anonymous: bool = True) -> None:
        """A supergroup's admin (or owner) turns "Remain anonymous" on or off. On, everything
        they post there is sent as the group: `sender_chat` is the group and `from` the stand-in
        @GroupAnonymousBot, the same for every anonymous admin of every group (Bot API,
        Message.sender_chat), and getChatMember / getChatAdministrators show them with
        `is_anonymous` true. Their button presses still name them (callback_query.from). A
        basic group has no such right (Telegram upgrades the group to set it)."""
        chat = self._chat_of_person(user_id, chat_id)
        if chat.is_private or chat.chat["type"] != "supergroup":
            raise SandboxError("only a supergroup's admins can remain anonymous")
        if user_id not in chat.admins and user_id != chat.owner_id:
            raise SandboxError("only an admin can remain anonymous")
        if anonymous and user_id not in chat.anonymous_admins:
            chat.anonymous_admins.append(user_id)
        elif not anonymous and user_id in chat.anonymous_admins:
            chat.anonymous_admins.remove(user_id)
        self._touch(chat)

    def _member_of(self, chat: ChatRecord, user_id: int) -> dict[str, Any]:
        member = super()._member_of(chat, user_id)
        if member["status"] in ("creator", "administrator"):
            member["is_anonymous"] = user_id in chat.anonymous_admins
        return member

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        reply_to_message_id: int | None = None,
        anonymous: bool = False,
    ) -> dict[str, Any]:
        """A person sends text (a command such as `/start payload` gets its entity);
        `anonymous=True` turns the admin's "Remain anonymous" on first (`remain_anonymous`)."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise SandboxError("text must be 1-4096 characters")
        if anonymous:
            if chat_id is None:
                raise SandboxError("only a group admin can post anonymously")
            self.remain_anonymous(user_id, chat_id)
        content: dict[str, Any] = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = entities
        return self._post_user_message(user_id, chat_id, content, reply_to_message_id)

    async def forward_message(
        self, user_id: int, from_chat_id: int, message_id: int, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person forwards a message they can see to a chat (their chat with the bot by
        default). The copy carries `forward_origin`; protected content cannot be forwarded.
        As in Telegram, the copy keeps only the URL buttons of an inline keyboard: callback
        buttons are dropped (a keyboard left empty goes), so nothing on a copy can be pressed
        (see sandbox/README.md for the sources)."""
        source = self.chats.get(from_chat_id)
        if source is None:
            raise SandboxError(f"no chat {from_chat_id}")
        if not source.is_private and user_id not in source.members:
            raise SandboxError(f"user {user_id} is not a member of {from_chat_id}")
        if source.is_private and source.id != user_id:
            raise SandboxError("that private chat is not this person's")
        record = source.messages.get(message_id)
        if record is None or record.deleted:
            raise SandboxError("message to forward not found")
        original = record.message
        if original.get("has_protected_content"):
            raise SandboxError("this message is protected and cannot be forwarded")
        keep = ("text", "entities", "caption", "caption_entities", "photo", "document",
                "video", "video_note", "location", "venue", "contact")  # fmt: skip
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in keep}
        rows = (original.get("reply_markup") or {}).get("inline_keyboard", [])
        links = [[copy.deepcopy(b) for b in row if "url" in b] for row in rows]
        if any(links):
            content["reply_markup"] = {"inline_keyboard": [row for row in links if row]}
        author = original.get("from", {})
        content["forward_origin"] = (
            {"type": "user", "sender_user": copy.deepcopy(author), "date": original["date"]}
            if source.is_private or author
            else {"type": "hidden_user", "sender_user_name": "?", "date": original["date"]}
        )
        return self._post_user_message(user_id, chat_id, content)

    async def delete_message(self, user_id: int, chat_id: int, message_id: int) -> None:
        """A person deletes a message for everyone: their own anywhere, any message in their
        private chat with the bot, anyone's in a group they administer (as cleanup bots and
        moderators do). Telegram tells the bot nothing; a later reply to it is refused
        unless sent with allow_sending_without_reply (sandbox/api_messages.py)."""
        chat = self._chat_of_person(user_id, chat_id)
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise SandboxError("message to delete not found")
        own = record.message.get("from", {}).get("id") == user_id
        may = own or chat.is_private or user_id in chat.admins or user_id == chat.owner_id
        if not may:
            raise SandboxError("only an admin can delete other people's messages")
        record.deleted = True
        self._touch(chat)

    async def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        force: bool = False,
        age: float = 0.0,
    ) -> dict[str, Any]:
        """A person presses an inline button; returns the CallbackQuery sent to the bot.

        `force=True` forges a press (a button that is not there, an old message) to test
        that the bot re-checks what a callback asks for. `age` seconds: the press was made that
        long ago (while the bot was down: Telegram keeps it queued, but its answer window,
        `callback_answer_ttl`, counts from the press).
        """
        if age < 0:
            raise SandboxError("age must not be negative")
        self._user(user_id)
        chat = self.chats.get(chat_id)
        if chat is None:
            raise SandboxError(f"no chat {chat_id}")
        record = chat.messages.get(message_id)
        if not force:
            self._check_press(user_id, chat, record, callback_data)
        query: dict[str, Any] = {
            "id": str(4_000_000_000_000_000 + self._next_counter()),
            "from": copy.deepcopy(self.users[user_id].user),
            "chat_instance": str(abs(chat.id) * 7919 % 10**15),
            "data": callback_data,
        }
        if record is not None and not record.deleted:
            query["message"] = copy.deepcopy(record.message)
        self._queries[query["id"]] = {
            "user_id": user_id,
            "chat_id": chat.id,
            "message_id": message_id,
            "answered": False,
            "pressed_at": self._clock() - age,
        }
        if self._bot_is_in(chat):
            self._enqueue("callback_query", query)
        self._changed()
        return copy.deepcopy(query)

    def _check_press(
        self, user_id: int, chat: ChatRecord, record: MessageRecord | None, data: str
    ) -> None:
        if record is None or record.deleted:
            raise SandboxError("no such message")
        if chat.is_private and chat.id != user_id:
            raise SandboxError("that message is in someone else's private chat")
        if not chat.is_private and user_id not in chat.members:
            raise SandboxError("not a member of that group")
        rows = record.message.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            raise SandboxError("that message has no button with this callback_data")

    async def press_reply_button(
        self, user_id: int, text: str, chat_id: int | None = None, *, force: bool = False
    ) -> dict[str, Any]:
        """A person presses a reply-keyboard button (contact and location buttons share)."""
        chat = self._chat_of_person(user_id, chat_id)
        keyboard = chat.reply_keyboard
        button = _find_reply_button(keyboard, text) if keyboard else None
        if button is None and not force:
            raise SandboxError(f"no reply keyboard button {text!r}")
        if keyboard and keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
        if button and button.get("request_contact"):
            return await self.share_contact(user_id, chat_id=chat_id)
        if button and button.get("request_location"):
            return await self.share_location(user_id, *DEFAULT_LOCATION, chat_id=chat_id)
        return await self.send_text(user_id, text, chat_id)

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard shown under a chat's input field, if any."""
        chat = self.chats.get(chat_id)
        return copy.deepcopy(chat.reply_keyboard) if chat else None

    async def share_contact(
        self,
        user_id: int,
        *,
        own: bool = True,
        phone_number: str | None = None,
        first_name: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person shares their own contact, or (own=False) someone else's card."""
        record = self._user(user_id)
        if own:
            contact: dict[str, Any] = {
                "phone_number": phone_number or record.phone_number,
                "first_name": record.user["first_name"],
                "user_id": user_id,
            }
            if "last_name" in record.user:
                contact["last_name"] = record.user["last_name"]
        else:
            contact = {
                "phone_number": phone_number or "+821099990000",
                "first_name": first_name or "친구",
            }
        return self._post_user_message(user_id, chat_id, {"contact": contact})

    async def share_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        live_period: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person shares a location (live when live_period is given)."""
        location = location_object(latitude, longitude)
        if live_period is not None:
            location["live_period"] = live_period
        return self._post_user_message(user_id, chat_id, {"location": location})

    async def move_live_location(
        self,
        user_id: int,
        chat_id: int | None,
        message_id: int,
        latitude: float,
        longitude: float,
        *,
        heading: int | None = None,
    ) -> dict[str, Any]:
        """A live location the person shared moves: Telegram sends the same message again as
        `edited_message`, with the new position and an `edit_date`, every few seconds until
        `live_period` ends (Bot API: Location.live_period; 0x7FFFFFFF is live forever)."""
        chat = self._chat_of_person(user_id, chat_id)
        record = self._own_message(user_id, chat, message_id)
        message = record.message
        location = message.get("location")
        if location is None or "venue" in message or "live_period" not in location:
            raise SandboxError("that message is not a live location")
        period = int(location["live_period"])
        if period != LIVE_FOREVER and self._now() >= int(message["date"]) + period:
            raise SandboxError("that live location has ended")
        location.update(location_object(latitude, longitude))
        if heading is not None:
            if not 1 <= heading <= 360:
                raise SandboxError("heading must be 1-360 degrees")
            location["heading"] = heading
        # Clients show a moving live location as it is now, not as "edited": no edit history.
        return self._edited(chat, record)

    async def edit_message(
        self, user_id: int, chat_id: int | None, message_id: int, text: str
    ) -> dict[str, Any]:
        """A person edits a text message they sent (or a photo's, document's or video's
        caption): the bot gets `edited_message`, the whole message with the new text and an
        `edit_date`."""
        chat = self._chat_of_person(user_id, chat_id)
        record = self._own_message(user_id, chat, message_id)
        message = record.message
        if "text" in message:
            field, limit = "text", MAX_TEXT
        elif any(k in message for k in ("photo", "document", "video")):
            field, limit = "caption", MAX_CAPTION
        else:
            raise SandboxError("only a text or a caption can be edited")
        if not text.strip() or len(text) > limit:
            raise SandboxError(f"{field} must be 1-{limit} characters")
        if message.get(field) == text:
            raise SandboxError("the text is unchanged")  # a client sends no edit then
        record.edit_history.append(copy.deepcopy(message))
        entities_key = "entities" if field == "text" else "caption_entities"
        message[field] = text
        message.pop(entities_key, None)
        if entities := detect_entities(text):
            message[entities_key] = entities
        return self._edited(chat, record)

    def _own_message(self, user_id: int, chat: ChatRecord, message_id: int) -> MessageRecord:
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise SandboxError("message not found")
        if record.message.get("from", {}).get("id") != user_id:
            raise SandboxError("a person can only change their own messages")
        return record

    def _edited(self, chat: ChatRecord, record: MessageRecord) -> dict[str, Any]:
        """Stamps an edit and sends the bot `edited_message` when it sees the chat's messages
        (group privacy mode decides on the message as it now reads)."""
        record.message["edit_date"] = self._now()
        self._touch(chat)
        if self._bot_receives(chat, record.message):
            self._enqueue("edited_message", record.message)
        return copy.deepcopy(record.message)

    async def send_venue(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person shares a place."""
        location = location_object(latitude, longitude)
        venue = {"location": location, "title": title, "address": address}
        return self._post_user_message(user_id, chat_id, {"venue": venue, "location": location})

    async def send_photo(
        self, user_id: int, data: bytes, caption: str | None = None, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person sends a compressed photo: several JPEG sizes up to 2560 px, EXIF removed
        (a HEIC is converted, as Telegram's apps do)."""
        self._chat_of_person(user_id, chat_id)
        try:
            photo = self._store_photo(data, from_person=True)
        except NotAnImage as exc:
            raise SandboxError("not an image") from exc
        return self._post_user_message(user_id, chat_id, {"photo": photo, **_user_caption(caption)})

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person sends a file as a document: the bytes are kept exactly; the mime type is
        the one given, else the extension's (an iPhone original: `image/heic`)."""
        self._chat_of_person(user_id, chat_id)
        document = self._store_document(data, filename, mime_type)
        content = {"document": document, **_user_caption(caption)}
        return self._post_user_message(user_id, chat_id, content)

    async def send_video_note(
        self,
        user_id: int,
        data: bytes,
        *,
        duration: int | None = None,
        length: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person records a round video message in the app's camera and sends it: the bytes
        kept; `length` (the diameter) and `duration` are what the app states, read from the
        file unless given. Telegram's apps record one only in their camera, square and at most
        a minute; stating other values plays a modified client (sandbox/README.md)."""
        self._chat_of_person(user_id, chat_id)
        facts = video_facts(data)
        if facts is None:
            raise SandboxError("not a video")
        note = self._store_video_note(
            data,
            facts.width if length is None else length,
            facts.seconds if duration is None else duration,
        )
        return self._post_user_message(user_id, chat_id, {"video_note": note})

    async def send_video(
        self,
        user_id: int,
        data: bytes,
        filename: str = "video.mp4",
        caption: str | None = None,
        *,
        duration: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person sends a video from the gallery (not as a file): a Video, bytes kept, its
        size and length read from the file (or the `duration` the app states)."""
        self._chat_of_person(user_id, chat_id)
        facts = video_facts(data)
        if facts is None:
            raise SandboxError("not a video")
        video = self._store_video(data, filename, facts, duration)
        return self._post_user_message(user_id, chat_id, {"video": video, **_user_caption(caption)})

    def _post_user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        chat = self._chat_of_person(user_id, chat_id)
        if user_id in chat.anonymous_admins:
            # Remain anonymous: the group speaks, through the stand-in user.
            content = {"sender_chat": copy.deepcopy(chat.chat), **content}
            message = self._new_message(chat, GROUP_ANONYMOUS_BOT, content)
        else:
            message = self._new_message(chat, self.users[user_id].user, content)
        if reply_to_message_id is not None:
            target = chat.messages.get(reply_to_message_id)
            if target is None or target.deleted:
                raise SandboxError("message to reply to not found")
            quoted = copy.deepcopy(target.message)
            quoted.pop("reply_to_message", None)
            message["reply_to_message"] = quoted
        record = MessageRecord(message)
        self._store(chat, record)
        if self._bot_receives(chat, message):
            self._enqueue("message", message)
        if chat.cleanup_commands and _is_command(message):
            # A cleanup bot in the group deletes the command as it arrives, after Telegram has
            # queued the update: the bot sees the command, but the message is gone.
            record.deleted = True
            self._touch(chat)
        return copy.deepcopy(message)

    def _bot_is_in(self, chat: ChatRecord) -> bool:
        if chat.is_private:
            return not self.users[chat.id].blocked
        return chat.bot_status in BOT_IN_GROUP

    def _bot_receives(self, chat: ChatRecord, message: dict[str, Any]) -> bool:
        """Group privacy mode: a bot that is not an admin sees commands, replies, mentions."""
        if not self._bot_is_in(chat):
            return False
        if chat.is_private or not self.group_privacy or chat.bot_status == "administrator":
            return True
        reply = message.get("reply_to_message", {})
        if reply.get("from", {}).get("id") == self.bot_user["id"]:
            return True
        if any(k in message for k in ("new_chat_members", "left_chat_member")):
            return True
        text = message.get("text", "")
        me = f"@{self.bot_user['username']}".lower()
        for entity in message.get("entities", []):
            word = _entity_text(text, entity).lower()
            if entity["type"] == "bot_command" and ("@" not in word or word.endswith(me)):
                return True
            if entity["type"] == "mention" and word == me:
                return True
        return False

    def block_bot(self, user_id: int) -> None:
        """A person blocks the bot: my_chat_member (kicked); later sends get 403."""
        record = self._user(user_id)
        chat = self._private_chat(user_id)
        if record.blocked:
            return
        self._set_bot_status(chat, record.user, "kicked")
        record.blocked = True

    def unblock_bot(self, user_id: int) -> None:
        """A person unblocks the bot: my_chat_member (member)."""
        record = self._user(user_id)
        chat = self._private_chat(user_id)
        if not record.blocked:
            return
        # The update's old status is read from the flag ("kicked"): it changes after.
        self._set_bot_status(chat, record.user, "member")
        record.blocked = False


def _user_caption(caption: str | None) -> dict[str, Any]:
    if not caption:
        return {}
    if len(caption) > MAX_CAPTION:
        raise SandboxError("caption must be at most 1024 characters")
    out: dict[str, Any] = {"caption": caption}
    entities = detect_entities(caption)
    if entities:
        out["caption_entities"] = entities
    return out


def _is_command(message: dict[str, Any]) -> bool:
    entities = message.get("entities", [])
    return any(e["type"] == "bot_command" and e["offset"] == 0 for e in entities)


def _find_reply_button(keyboard: dict[str, Any], text: str) -> dict[str, Any] | None:
    for row in keyboard.get("keyboard", []):
        for button in row:
            button = {"text": button} if isinstance(button, str) else button
            if button.get("text") == text:
                return dict(button)
    return None


def _entity_text(text: str, entity: dict[str, Any]) -> str:
    encoded = text.encode("utf-16-le")
    start, length = entity["offset"] * 2, entity["length"] * 2
    return encoded[start : start + length].decode("utf-16-le")
