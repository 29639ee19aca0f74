"""Bot API, messages: sending (text, photo, document, video, video note, location, venue,
contact, chat action),
editing, deleting, and answering button presses (answerCallbackQuery).

Sends count against the flood limits (`sandbox.limits`); texts and captions get their entities
from parse_mode or as given (`sandbox.formatting`).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from sandbox.api_chats import ChatsApi
from sandbox.api_files import FilesApi
from sandbox.errors import ApiError, bad
from sandbox.formatting import EntityError, detect_entities, merge_entities, parse_text
from sandbox.media import NotAnImage, video_facts
from sandbox.records import ChatRecord, MessageRecord, location_object
from sandbox.spec import MAX_CAPTION, MAX_TEXT

# deleteMessage: "A message can only be deleted if it was sent less than 48 hours ago" (Bot API).
DELETE_WINDOW = 48 * 3600
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class MessagesApi(FilesApi, ChatsApi):
    """What the bot does with messages."""

    # ------------------------------------------------------------------ bot side: sending

    async def _send_message(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad("message is too long")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._post_bot_message(chat, content, p)

    async def _send_photo(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        source = self._input_file(p, f, "photo")
        if isinstance(source, tuple):
            try:
                photo = self._store_photo(source[1])
            except NotAnImage as exc:
                raise bad("IMAGE_PROCESS_FAILED") from exc
        else:
            record = self._known_file(source, "photo")
            photo = [copy.deepcopy(self.files[fid].meta) for fid in record.photo_set]
        content: dict[str, Any] = {"photo": photo, **self._caption(p)}
        return self._post_bot_message(chat, content, p)

    async def _send_document(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        source = self._input_file(p, f, "document")
        if isinstance(source, tuple):
            document = self._store_document(source[1], source[0] or "file", None)
        else:
            document = copy.deepcopy(self._known_file(source, "document").meta)
        content: dict[str, Any] = {"document": document, **self._caption(p)}
        return self._post_bot_message(chat, content, p)

    async def _send_video(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        """A video by file_id (a Video only) or uploaded (read for its size and length; bytes
        that are no video answer as Telegram does to a broken upload)."""
        chat = self._chat_for_send(p["chat_id"])
        source = self._input_file(p, f, "video")
        if isinstance(source, tuple):
            facts = video_facts(source[1])
            if facts is None:
                raise bad("wrong file type")  # hedged: Telegram's wording for this varies
            video = self._store_video(source[1], source[0] or "video.mp4", facts)
        else:
            video = copy.deepcopy(self._known_file(source, "video").meta)
        content: dict[str, Any] = {"video": video, **self._caption(p)}
        return self._post_bot_message(chat, content, p)

    async def _send_video_note(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        """A round video message by file_id (a VideoNote only: "can't use file of type Video
        as VideoNote") or uploaded; it has no caption (sendVideoNote takes none)."""
        chat = self._chat_for_send(p["chat_id"])
        source = self._input_file(p, f, "video_note")
        if isinstance(source, tuple):
            facts = video_facts(source[1])
            if facts is None:
                raise bad("wrong file type")
            note = self._store_video_note(
                source[1], int(p.get("length", facts.width)), int(p.get("duration", facts.seconds))
            )
        else:
            note = copy.deepcopy(self._known_file(source, "video_note").meta)
        return self._post_bot_message(chat, {"video_note": note}, p)

    async def _send_location(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        location = location_object(p["latitude"], p["longitude"])
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if key in p:
                location[key] = p[key]
        return self._post_bot_message(chat, {"location": location}, p)

    async def _send_venue(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        location = location_object(p["latitude"], p["longitude"])
        venue: dict[str, Any] = {"location": location, "title": p["title"], "address": p["address"]}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if key in p:
                venue[key] = p[key]
        return self._post_bot_message(chat, {"venue": venue, "location": location}, p)

    async def _send_contact(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        contact = {k: p[k] for k in ("phone_number", "first_name", "last_name", "vcard") if k in p}
        return self._post_bot_message(chat, {"contact": contact}, p)

    async def _send_chat_action(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        chat = self._chat_for_send(p["chat_id"])
        chat.chat_action = str(p["action"])
        chat.chat_action_until = self._clock() + 5
        self._touch(chat)
        return True

    def _caption(self, p: dict[str, Any]) -> dict[str, Any]:
        if "caption" not in p:
            return {}
        caption, entities = self._formatted(
            p["caption"], p.get("parse_mode"), p.get("caption_entities")
        )
        if len(caption) > MAX_CAPTION:
            raise bad("message caption is too long")
        out: dict[str, Any] = {"caption": caption} if caption else {}
        if entities:
            out["caption_entities"] = entities
        return out

    @staticmethod
    def _formatted(
        text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
    ) -> tuple[str, list[dict[str, Any]]]:
        if entities is not None:
            return text, entities
        try:
            text, parsed = parse_text(text, parse_mode)
        except EntityError as exc:
            raise bad(f"can't parse entities: {exc}") from exc
        return text, merge_entities(parsed, detect_entities(text))

    def _post_bot_message(
        self, chat: ChatRecord, content: dict[str, Any], p: dict[str, Any]
    ) -> dict[str, Any]:
        _may_send(chat, content)
        reply_to = self._reply_target(chat, _reply_parameters(p))
        thread = _topic_for_send(chat, p, reply_to)
        markup = p.get("reply_markup")
        self._flood.take(self.limits, chat, paid=bool(p.get("allow_paid_broadcast")))
        message = self._new_message(chat, self.bot_user, content)
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if p.get("protect_content"):
            message["has_protected_content"] = True
        record = MessageRecord(message)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        elif isinstance(markup, dict) and ("keyboard" in markup or "remove_keyboard" in markup):
            record.reply_keyboard = markup
            chat.reply_keyboard = None if "remove_keyboard" in markup else markup
        self._store(chat, record)
        return copy.deepcopy(message)

    def _reply_target(
        self, chat: ChatRecord, reply: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if not reply:
            return None
        target_chat = chat
        if "chat_id" in reply:
            target_chat = self._find_chat(reply["chat_id"])
        record = target_chat.messages.get(int(reply["message_id"]))
        if record is None or record.deleted:
            # A deleted (or never sent) original: Telegram refuses the send unless
            # allow_sending_without_reply, which only counts in the same chat (ReplyParameters).
            if reply.get("allow_sending_without_reply") and target_chat is chat:
                return None
            raise bad("message to be replied not found")
        quoted = copy.deepcopy(record.message)
        quoted.pop("reply_to_message", None)
        return quoted

    # ------------------------------------------------------------------ bot side: editing

    def _editable(self, p: dict[str, Any]) -> tuple[ChatRecord, MessageRecord]:
        if "inline_message_id" in p:
            raise bad("MESSAGE_ID_INVALID")
        if "chat_id" not in p or "message_id" not in p:
            raise bad("message identifier is not specified")
        chat = self._chat_for_send(p["chat_id"])
        record = chat.messages.get(int(p["message_id"]))
        if record is None or record.deleted:
            raise bad("message to edit not found")
        if record.message.get("from", {}).get("id") != self.bot_user["id"]:
            raise bad("message can't be edited")
        if record.reply_keyboard is not None:
            # Sent with a reply keyboard (or its removal): Telegram edits only messages
            # "without reply_markup or with inline keyboards" (sandbox/README.md).
            raise bad("message can't be edited")
        return chat, record

    def _apply_edit(
        self, chat: ChatRecord, record: MessageRecord, new: dict[str, Any], markup: Any
    ) -> dict[str, Any]:
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            # An edit without reply_markup removes the inline keyboard, as on Telegram.
            new.pop("reply_markup", None)
        if _same_content(record.message, new) and _same_media(record.message, new):
            raise bad(NOT_MODIFIED)
        record.edit_history.append(copy.deepcopy(record.message))
        new["edit_date"] = self._now()
        record.message = new
        self._touch(chat)
        return copy.deepcopy(new)

    async def _edit_message_text(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat, record = self._editable(p)
        if "text" not in record.message:
            raise bad("there is no text in the message to edit")
        if "text" not in p:
            raise bad("message text is empty")
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad("message text is empty")
        new = copy.deepcopy(record.message)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        return self._apply_edit(chat, record, new, p.get("reply_markup"))

    async def _edit_message_caption(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat, record = self._editable(p)
        if not any(k in record.message for k in ("photo", "document", "video")):
            raise bad("there is no caption in the message to edit")
        new = copy.deepcopy(record.message)
        new.pop("caption", None)
        new.pop("caption_entities", None)
        new.update(self._caption(p))
        return self._apply_edit(chat, record, new, p.get("reply_markup"))

    async def _edit_message_reply_markup(
        self, p: dict[str, Any], f: dict[str, Any]
    ) -> dict[str, Any]:
        chat, record = self._editable(p)
        return self._apply_edit(chat, record, copy.deepcopy(record.message), p.get("reply_markup"))

    async def _edit_message_media(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        """A new photo or document for a message (its caption from `media`, none if it has
        none), or a text message turned into one (Bot API 10.1: "or to replace a text ... with
        a media")."""
        chat, record = self._editable(p)
        media = p["media"]
        kind = media.get("type")
        if kind not in ("photo", "document"):
            raise bad(f"media type {kind} is not supported here")
        source = self._input_file(media, f, "media")
        if kind == "photo":
            if isinstance(source, tuple):
                try:
                    content: Any = self._store_photo(source[1])
                except NotAnImage as exc:
                    raise bad("IMAGE_PROCESS_FAILED") from exc
            else:
                record_file = self._known_file(source, "photo")
                content = [copy.deepcopy(self.files[i].meta) for i in record_file.photo_set]
        elif isinstance(source, tuple):
            content = self._store_document(source[1], source[0] or "file", None)
        else:
            content = copy.deepcopy(self._known_file(source, "document").meta)
        new = copy.deepcopy(record.message)
        for key in ("text", "entities", "photo", "document", "video", "caption",
                    "caption_entities"):  # fmt: skip
            new.pop(key, None)
        new[kind] = content
        new.update(self._caption(media))
        return self._apply_edit(chat, record, new, p.get("reply_markup"))

    async def _delete_message(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        chat = self._find_chat(p["chat_id"])
        self._delete_one(chat, int(p["message_id"]))
        return True

    async def _delete_messages(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        chat = self._find_chat(p["chat_id"])
        for message_id in p["message_ids"]:
            with contextlib.suppress(ApiError):
                self._delete_one(chat, int(message_id))
        return True

    def _delete_one(self, chat: ChatRecord, message_id: int) -> None:
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise bad("message to delete not found")
        own = record.message.get("from", {}).get("id") == self.bot_user["id"]
        if not (own or chat.is_private or chat.bot_status == "administrator"):
            raise bad("message can't be deleted")
        if self._now() - int(record.message["date"]) >= DELETE_WINDOW:
            raise bad("message can't be deleted")  # Telegram's words for a message too old
        record.deleted = True
        self._touch(chat)

    async def _answer_callback_query(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        """One answer per press, within `callback_answer_ttl` seconds of it (as Telegram: the
        client stops waiting, and a late or second answer gets the same 400)."""
        query = self._queries.get(p["callback_query_id"])
        if query is None or query["answered"] or self._expired(query):
            raise bad("query is too old and response timeout expired or query ID is invalid")
        query["answered"] = True
        answer = {
            "callback_query_id": p["callback_query_id"],
            "user_id": query["user_id"],
            "chat_id": query["chat_id"],
            "message_id": query["message_id"],
            "text": p.get("text"),
            "show_alert": bool(p.get("show_alert", False)),
            "url": p.get("url"),
            "date": self._now(),
        }
        self.callback_answers.append(answer)
        chat = self.chats.get(query["chat_id"]) if query["chat_id"] is not None else None
        if chat is not None:
            self._touch(chat)
        return True

    def _expired(self, query: dict[str, Any]) -> bool:
        # A press kept from a state file of before expiry had no time: long gone.
        pressed_at = float(query.get("pressed_at", 0.0))
        return self._clock() - pressed_at > self.callback_answer_ttl

    def callback_answer(self, callback_query_id: str) -> dict[str, Any] | None:
        """The bot's answer to one button press, or None when it did not answer (yet)."""
        for answer in self.callback_answers:
            if answer["callback_query_id"] == callback_query_id:
                return answer
        return None


# What a message needs the right to send, by its content (Bot API ChatPermissions), and how
# Telegram names it when refusing; text, locations, venues and contacts fall under
# can_send_messages ("text messages, contacts, giveaways, giveaway winners, invoices,
# locations and venues").
_SEND_RIGHTS = (
    ("photo", "can_send_photos", "photos"),
    ("document", "can_send_documents", "documents"),
    ("video", "can_send_videos", "videos"),
    ("video_note", "can_send_video_notes", "video notes"),
)


def _may_send(chat: ChatRecord, content: dict[str, Any]) -> None:
    """Refuses a send the bot has no right to make in a group, as Telegram does (400 "not
    enough rights to send text messages to the chat"): a restricted bot needs the permission,
    a plain member the group's own permission for members; an administrator may always."""
    if chat.is_private or chat.bot_status == "administrator":
        return
    right, words = "can_send_messages", "text messages"
    for key, needed, named in _SEND_RIGHTS:
        if key in content:
            right, words = needed, named
    allowed = chat.permissions.get(right, True)
    if chat.bot_status == "restricted":
        allowed = allowed and chat.bot_rights.get(right, False)
    if not allowed:
        raise bad(f"not enough rights to send {words} to the chat")


def _topic_for_send(
    chat: ChatRecord, p: dict[str, Any], reply_to: dict[str, Any] | None
) -> int | None:
    """The forum topic a send goes to: `message_thread_id`, else the topic of the message it
    replies to, else the General topic (None). A topic that does not exist answers 400
    "message thread not found"; a closed one (the General topic included) 400 "TOPIC_CLOSED",
    unless the bot is an administrator who may manage topics. Outside forums: None."""
    if not chat.is_forum:
        return None
    thread = p.get("message_thread_id")
    if thread is None and reply_to is not None and reply_to.get("is_topic_message"):
        thread = reply_to.get("message_thread_id")
    if thread is None:
        closed = chat.general_closed
    else:
        topic = chat.topic(int(thread))
        if topic is None:
            raise bad("message thread not found")
        closed = bool(topic["closed"])
    manages = chat.bot_status == "administrator" and chat.bot_rights.get("can_manage_topics")
    if closed and not manages:
        raise bad("TOPIC_CLOSED")
    return None if thread is None else int(thread)


def _reply_parameters(p: dict[str, Any]) -> dict[str, Any] | None:
    """The reply a send asks for: `reply_parameters`, or else the pre-7.0 top-level
    `reply_to_message_id` and `allow_sending_without_reply` (Telegram still reads them)."""
    if "reply_parameters" in p:
        reply = p["reply_parameters"]
        return reply if isinstance(reply, dict) else None
    if not p.get("reply_to_message_id"):
        return None
    return {
        "message_id": p["reply_to_message_id"],
        "allow_sending_without_reply": bool(p.get("allow_sending_without_reply")),
    }


def _same_content(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    return all(old.get(k) == new.get(k) for k in keys)


def _same_media(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def unique(message: dict[str, Any]) -> Any:
        if "photo" in message:
            return message["photo"][-1]["file_unique_id"]
        return (message.get("document") or message.get("video") or {}).get("file_unique_id")

    return unique(old) == unique(new)
