"""An in-memory Telegram Bot API for one bot, with a user side to act as people.

The bot side (`Emulator.bot_call`) answers like api.telegram.org: same result shapes, same error
shape and wording, flood limits, long polling and webhooks. The user side (`add_user`,
`send_text`, `press_button`, ...) creates the updates Telegram would send when people use the
bot. No HTTP lives here: `sandbox.server` puts it on the network, tests may call it directly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import math
import mimetypes
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox.formatting import EntityError, detect_entities, merge_entities, parse_text
from sandbox.media import NotAnImage, photo_sizes
from sandbox.spec import MAX_CAPTION, MAX_TEXT, load_spec, validate_call

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Telegram's default when allowed_updates was never given: everything except these.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Methods that post a message and so count against the flood limits.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)
# Seokchon Lake, the default place a person "shares" from a location button.
DEFAULT_LOCATION = (37.5096, 127.1027)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")

Handler = Callable[[dict[str, Any], dict[str, tuple[str, bytes]]], Awaitable[Any]]


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends with this error."""
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class SandboxError(ValueError):
    """A user-side action that a person could not do (no such button, not a member...)."""


class ResponseLost(Exception):
    """Telegram carried the call out but its answer never reached the bot (a read timeout)."""


class Unreachable(Exception):
    """The call never reached Telegram (connection refused or reset before it was read)."""


@dataclass
class NetworkFaults:
    """Network faults to play on the bot's next calls, by Bot API method name."""

    lose_responses: dict[str, int] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def take(plan: dict[str, int], method: str) -> bool:
        """Uses up one planned fault for `method`, if any is left."""
        left = plan.get(method, 0)
        if left <= 0:
            return False
        plan[method] = left - 1
        return True


@dataclass
class FloodLimits:
    """Telegram's outgoing message limits; tests shrink them or turn them off."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 4
    group_per_minute: int = 20
    enabled: bool = True


class _Bucket:
    """A token bucket: `capacity` sends at once, refilled at `rate` per second."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one send is allowed (0 when allowed now)."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


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

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    @property
    def is_private(self) -> bool:
        return bool(self.chat["type"] == "private")

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
    kind: str  # "photo" or "document"
    data: bytes
    meta: dict[str, Any]  # the PhotoSize or Document object
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


class Emulator:
    """One bot's view of Telegram, plus the people who talk to it."""

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "halsaram_bot",
        bot_name: str = "할사람",
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.time,
        state_file: Path | None = None,
        group_privacy: bool = True,
        webhook_retry_delay: float = 1.0,
        webhook_max_delay: float = 60.0,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 1_000_000
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.limits = limits or FloodLimits()
        self.group_privacy = group_privacy
        self._clock = clock
        self._state_file = state_file
        self._retry_delay = webhook_retry_delay
        self._max_delay = webhook_max_delay
        self._webhook_transport = webhook_transport

        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.webhook = WebhookState()
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.menu_buttons: dict[str, dict[str, Any]] = {}
        self.profile: dict[str, str] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self._queries: dict[str, dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed: list[str] | None = None
        self._counter = 0
        self._next_user_id = 7_000_000_001
        self._next_group = 1
        self._version = 0

        self._buckets: dict[str, _Bucket] = {}
        self.faults = NetworkFaults()
        # Bot API calls answered, by method and HTTP status: how tests see a bot hammering.
        self.answered: Counter[tuple[str, int]] = Counter()
        self._update_event = asyncio.Event()
        self._change_event = asyncio.Event()
        self._poll_generation = 0
        self._pusher: asyncio.Task[None] | None = None
        self._save_handle: asyncio.TimerHandle | None = None
        self._handlers: dict[str, Handler] = self._build_handlers()
        if state_file is not None and state_file.exists():
            self._load(state_file)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Starts the background work (the webhook pusher)."""
        self._ensure_pusher()

    async def stop(self) -> None:
        """Stops background work and writes the state file once more."""
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self.save()

    def _ensure_pusher(self) -> None:
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    # ------------------------------------------------------------------ bot side: dispatch

    def _build_handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendLocation": self._send_location,
            "sendVenue": self._send_venue,
            "sendContact": self._send_contact,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "setMyName": self._profile_setter("name"),
            "getMyName": self._profile_getter("name"),
            "setMyDescription": self._profile_setter("description"),
            "getMyDescription": self._profile_getter("description"),
            "setMyShortDescription": self._profile_setter("short_description"),
            "getMyShortDescription": self._profile_getter("short_description"),
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "leaveChat": self._leave_chat,
        }

    @property
    def implemented_methods(self) -> list[str]:
        """The Bot API methods this emulator answers (others get 404)."""
        return sorted(self._handlers)

    async def bot_call(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answers one Bot API call: (HTTP status, Telegram's JSON body).

        Raises `Unreachable` or `ResponseLost` when a planned network fault hits the call
        (the transport in front turns them into what a bot would see).
        """
        name = load_spec().method_name(method) or method
        if NetworkFaults.take(self.faults.refuse, name):
            raise Unreachable(name)
        try:
            result = await self._dispatch(token, method, params, files or {})
        except ApiError as exc:
            self.answered[name, exc.code] += 1
            return exc.code, exc.body()
        self.answered[name, 200] += 1
        self._changed()
        if NetworkFaults.take(self.faults.lose_responses, name):
            raise ResponseLost(name)
        return 200, {"ok": True, "result": result}

    async def _dispatch(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if not secrets.compare_digest(token.encode(), self.token.encode()):
            raise ApiError(401, "Unauthorized")
        name = load_spec().method_name(method)
        handler = self._handlers.get(name) if name else None
        if name is None or handler is None:
            raise ApiError(404, "Not Found")
        params = {k: v for k, v in params.items() if v is not None}
        problems = validate_call(name, params, self._uploaded_names(name, params, files))
        if problems:
            raise ApiError(400, _wording(name, params, problems))
        return await handler(params, files)

    @staticmethod
    def _uploaded_names(
        method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> list[str]:
        fields = load_spec().methods[method]
        return [
            f.name
            for f in fields
            if "InputFile" in f.types and f.name not in params and f.name in files
        ]

    # ------------------------------------------------------------------ bot side: updates

    async def _get_me(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.group_privacy,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: dict[str, Any], f: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        if "allowed_updates" in p:
            self._allowed = list(p["allowed_updates"])
        self._confirm(p.get("offset"))
        limit = min(max(int(p.get("limit", 100)), 1), 100)
        timeout = max(float(p.get("timeout", 0)), 0.0)
        # A newer getUpdates ends the one waiting, as Telegram does with two pollers.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_updates()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._updates:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLING)
            if self.webhook.url:
                raise ApiError(409, CONFLICT_WEBHOOK)
        return copy.deepcopy(self._updates[:limit])

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            # A negative offset keeps the last -offset updates and forgets the rest.
            self._updates = self._updates[offset:]
            return
        self._updates = [u for u in self._updates if u["update_id"] >= offset]

    async def _set_webhook(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        url = str(p.get("url", ""))
        if url and not re.match(r"https?://[^/\s]+", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        if "allowed_updates" in p:
            self._allowed = list(p["allowed_updates"])
        if p.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = WebhookState()
            self._wake_updates()
            return True
        self.webhook = WebhookState(
            url=url, secret_token=secret, max_connections=int(p.get("max_connections", 40))
        )
        self._wake_updates()
        self._ensure_pusher()
        return True

    async def _delete_webhook(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = WebhookState()
        self._wake_updates()
        return True

    async def _get_webhook_info(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            info["ip_address"] = "127.0.0.1"
        if self.webhook.last_error_date is not None:
            info["last_error_date"] = self.webhook.last_error_date
            info["last_error_message"] = self.webhook.last_error_message
        if self._allowed is not None:
            info["allowed_updates"] = list(self._allowed)
        return info

    async def _push_loop(self) -> None:
        delay = self._retry_delay
        async with httpx.AsyncClient(transport=self._webhook_transport, timeout=10.0) as client:
            while True:
                if not self.webhook.url or not self._updates:
                    await self._update_event.wait()
                    continue
                update = self._updates[0]
                if await self._push(client, update):
                    if self._updates and self._updates[0]["update_id"] == update["update_id"]:
                        self._updates.pop(0)
                        self._changed()
                    delay = self._retry_delay
                    continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)

    async def _push(self, client: httpx.AsyncClient, update: dict[str, Any]) -> bool:
        headers = {}
        if self.webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
        try:
            response = await client.post(self.webhook.url, json=update, headers=headers)
        except httpx.HTTPError as exc:
            self._webhook_error(f"Connection failed: {type(exc).__name__}")
            return False
        if 200 <= response.status_code < 300:
            return True
        self._webhook_error(
            f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
        )
        return False

    def _webhook_error(self, message: str) -> None:
        self.webhook.last_error_date = self._now()
        self.webhook.last_error_message = message

    # ------------------------------------------------------------------ bot side: sending

    async def _send_message(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise _bad("message is too long")
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
                raise _bad("IMAGE_PROCESS_FAILED") from exc
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

    async def _send_location(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        location = _location(p["latitude"], p["longitude"])
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            if key in p:
                location[key] = p[key]
        return self._post_bot_message(chat, {"location": location}, p)

    async def _send_venue(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(p["chat_id"])
        location = _location(p["latitude"], p["longitude"])
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
            raise _bad("message caption is too long")
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
            raise _bad(f"can't parse entities: {exc}") from exc
        return text, merge_entities(parsed, detect_entities(text))

    def _post_bot_message(
        self, chat: ChatRecord, content: dict[str, Any], p: dict[str, Any]
    ) -> dict[str, Any]:
        reply_to = self._reply_target(chat, p.get("reply_parameters"))
        markup = p.get("reply_markup")
        self._take_flood_token(chat)
        message = self._new_message(chat, self.bot_user, content)
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
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        quoted = copy.deepcopy(record.message)
        quoted.pop("reply_to_message", None)
        return quoted

    def _take_flood_token(self, chat: ChatRecord) -> None:
        if not self.limits.enabled:
            return
        now = self._clock()
        buckets = [
            self._bucket("all", self.limits.overall_per_second, self.limits.overall_per_second)
        ]
        if chat.is_private:
            rate, burst = self.limits.private_per_second, float(self.limits.private_burst)
        else:
            rate, burst = self.limits.group_per_minute / 60, float(self.limits.group_per_minute)
        buckets.append(self._bucket(f"chat:{chat.id}", rate, burst))
        wait = max(b.wait(now) for b in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        for bucket in buckets:
            bucket.take()

    def _bucket(self, key: str, rate: float, capacity: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, capacity, self._clock())
        return bucket

    # ------------------------------------------------------------------ bot side: files

    def _input_file(
        self, p: dict[str, Any], f: dict[str, tuple[str, bytes]], name: str
    ) -> tuple[str, bytes] | str:
        value = p.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            key = value.removeprefix("attach://")
            if key not in f:
                raise _bad("wrong file identifier/HTTP URL specified")
            return f[key]
        if value is None:
            return f[name]
        return str(value)

    def _known_file(self, file_id: str, kind: str) -> FileRecord:
        if re.match(r"https?://", file_id):
            raise _bad("failed to get HTTP URL content")
        record = self.files.get(file_id)
        if record is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if record.kind != kind:
            raise _bad(f"can't use file of type {record.kind.title()} as {kind.title()}")
        return record

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Stores an image as several re-encoded sizes and returns its PhotoSize list."""
        records = []
        for width, height, jpeg in photo_sizes(data):
            n = self._next_counter()
            file_id = f"AgACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
            unique = f"AQAD{n:08d}"
            meta = {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": width,
                "height": height,
                "file_size": len(jpeg),
            }
            records.append(FileRecord(file_id, unique, f"photos/file_{n}.jpg", "photo", jpeg, meta))
        ids = [r.file_id for r in records]
        for record in records:
            record.photo_set = ids
            self.files[record.file_id] = record
        return [copy.deepcopy(r.meta) for r in records]

    def _store_document(self, data: bytes, filename: str, mime_type: str | None) -> dict[str, Any]:
        """Stores a file byte for byte and returns its Document object."""
        n = self._next_counter()
        file_id = f"BQACAgIAAxk{n:08d}{secrets.token_urlsafe(12)}"
        unique = f"AgAD{n:08d}"
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        suffix = Path(filename).suffix.lower()
        meta = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": filename,
            "mime_type": mime,
            "file_size": len(data),
        }
        path = f"documents/file_{n}{suffix}"
        self.files[file_id] = FileRecord(file_id, unique, path, "document", data, meta)
        return copy.deepcopy(meta)

    async def _get_file(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(p["file_id"])
        if record is None:
            raise _bad("invalid file_id")
        if len(record.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }

    def file_bytes(self, file_path: str) -> bytes | None:
        """The bytes behind a file_path from getFile, or None."""
        for record in self.files.values():
            if record.file_path == file_path:
                if len(record.data) > MAX_DOWNLOAD_BYTES:
                    return None
                return record.data
        return None

    def file_by_id(self, file_id: str) -> FileRecord | None:
        """A stored file by its file_id (for the user side: showing images)."""
        return self.files.get(file_id)

    # ------------------------------------------------------------------ bot side: editing

    def _editable(self, p: dict[str, Any]) -> tuple[ChatRecord, MessageRecord]:
        if "inline_message_id" in p:
            raise _bad("MESSAGE_ID_INVALID")
        if "chat_id" not in p or "message_id" not in p:
            raise _bad("message identifier is not specified")
        chat = self._chat_for_send(p["chat_id"])
        record = chat.messages.get(int(p["message_id"]))
        if record is None or record.deleted:
            raise _bad("message to edit not found")
        if record.message.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return chat, record

    def _apply_edit(
        self, chat: ChatRecord, record: MessageRecord, new: dict[str, Any], markup: Any
    ) -> dict[str, Any]:
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            # An edit without reply_markup removes the inline keyboard, as on Telegram.
            new.pop("reply_markup", None)
        if _same_content(record.message, new):
            raise _bad(NOT_MODIFIED)
        record.edit_history.append(copy.deepcopy(record.message))
        new["edit_date"] = self._now()
        record.message = new
        self._touch(chat)
        return copy.deepcopy(new)

    async def _edit_message_text(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat, record = self._editable(p)
        if "text" not in record.message:
            raise _bad("there is no text in the message to edit")
        if "text" not in p:
            raise _bad("message text is empty")
        text, entities = self._formatted(p["text"], p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        new = copy.deepcopy(record.message)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        return self._apply_edit(chat, record, new, p.get("reply_markup"))

    async def _edit_message_caption(self, p: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
        chat, record = self._editable(p)
        if not any(k in record.message for k in ("photo", "document")):
            raise _bad("there is no caption in the message to edit")
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
            raise _bad("message to delete not found")
        own = record.message.get("from", {}).get("id") == self.bot_user["id"]
        if not (own or chat.is_private or chat.bot_status == "administrator"):
            raise _bad("message can't be deleted")
        record.deleted = True
        self._touch(chat)

    async def _answer_callback_query(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        query = self._queries.get(p["callback_query_id"])
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
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

    def callback_answer(self, callback_query_id: str) -> dict[str, Any] | None:
        """The bot's answer to one button press, or None when it did not answer (yet)."""
        for answer in self.callback_answers:
            if answer["callback_query_id"] == callback_query_id:
                return answer
        return None

    # ------------------------------------------------------------------ bot side: settings

    async def _set_my_commands(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise _bad("command description must be 1-256 characters")
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
            raise _bad("there are no administrators in the private chat")
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
            raise _bad("chat member status can't be changed in private chats")
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
            raise _bad("PARTICIPANT_ID_INVALID")
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
            raise _bad("chat not found")
        try:
            key = int(chat_id)
        except ValueError as exc:
            raise _bad("chat not found") from exc
        found = self.chats.get(key)
        if found is None:
            if key in self.users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise _bad("chat not found")
        return found

    def _chat_for_send(self, chat_id: int | str) -> ChatRecord:
        chat = self._find_chat(chat_id)
        if chat.is_private:
            if self.users[chat.id].blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        elif chat.bot_status not in ("member", "administrator"):
            raise ApiError(403, _not_member(chat))
        return chat

    # ------------------------------------------------------------------ user side: people

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
        if user_id not in group.members:
            raise SandboxError(f"user {user_id} is not a member of {chat_id}")
        return group

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A person sends text (a command such as `/start payload` gets its entity)."""
        if not text.strip() or len(text) > MAX_TEXT:
            raise SandboxError("text must be 1-4096 characters")
        content: dict[str, Any] = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = entities
        return self._post_user_message(user_id, chat_id, content, reply_to_message_id)

    async def forward_message(
        self, user_id: int, from_chat_id: int, message_id: int, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person forwards a message they can see to a chat (their chat with the bot by
        default). As in Telegram, the copy keeps its inline keyboard, so its buttons can be
        pressed there, and carries `forward_origin`; protected content cannot be forwarded."""
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
                "location", "venue", "contact", "reply_markup")  # fmt: skip
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in keep}
        author = original.get("from", {})
        content["forward_origin"] = (
            {"type": "user", "sender_user": copy.deepcopy(author), "date": original["date"]}
            if source.is_private or author
            else {"type": "hidden_user", "sender_user_name": "?", "date": original["date"]}
        )
        return self._post_user_message(user_id, chat_id, content)

    async def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        force: bool = False,
    ) -> dict[str, Any]:
        """A person presses an inline button; returns the CallbackQuery sent to the bot.

        `force=True` forges a press (a button that is not there, an old message) to test
        that the bot re-checks what a callback asks for.
        """
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
        location = _location(latitude, longitude)
        if live_period is not None:
            location["live_period"] = live_period
        return self._post_user_message(user_id, chat_id, {"location": location})

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
        location = _location(latitude, longitude)
        venue = {"location": location, "title": title, "address": address}
        return self._post_user_message(user_id, chat_id, {"venue": venue, "location": location})

    async def send_photo(
        self, user_id: int, data: bytes, caption: str | None = None, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person sends a compressed photo: several JPEG sizes, EXIF removed."""
        self._chat_of_person(user_id, chat_id)
        try:
            photo = self._store_photo(data)
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
        """A person sends a file as a document: the bytes are kept exactly."""
        self._chat_of_person(user_id, chat_id)
        document = self._store_document(data, filename, mime_type)
        content = {"document": document, **_user_caption(caption)}
        return self._post_user_message(user_id, chat_id, content)

    def _post_user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        chat = self._chat_of_person(user_id, chat_id)
        message = self._new_message(chat, self.users[user_id].user, content)
        if reply_to_message_id is not None:
            target = chat.messages.get(reply_to_message_id)
            if target is None or target.deleted:
                raise SandboxError("message to reply to not found")
            quoted = copy.deepcopy(target.message)
            quoted.pop("reply_to_message", None)
            message["reply_to_message"] = quoted
        self._store(chat, MessageRecord(message))
        if self._bot_receives(chat, message):
            self._enqueue("message", message)
        return copy.deepcopy(message)

    def _bot_is_in(self, chat: ChatRecord) -> bool:
        if chat.is_private:
            return not self.users[chat.id].blocked
        return chat.bot_status in ("member", "administrator")

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

    # ------------------------------------------------------------------ user side: groups

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

    def _group(self, chat_id: int) -> ChatRecord:
        chat = self.chats.get(chat_id)
        if chat is None or chat.is_private:
            raise SandboxError(f"no group {chat_id}")
        return chat

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
        record.blocked = False
        self._set_bot_status(chat, record.user, "member")

    def _set_bot_status(self, chat: ChatRecord, actor: dict[str, Any], status: str) -> None:
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

    # ------------------------------------------------------------------ user side: reading

    def transcript(self, chat_id: int, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every message of a chat in order, edits applied (`edited`, `edit_history`)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        out = []
        for record in chat.messages.values():
            if record.deleted and not include_deleted:
                continue
            message = copy.deepcopy(record.message)
            message["edited"] = bool(record.edit_history)
            message["edit_history"] = copy.deepcopy(record.edit_history)
            if record.deleted:
                message["deleted"] = True
            if record.reply_keyboard is not None:
                message["reply_keyboard"] = copy.deepcopy(record.reply_keyboard)
            out.append(message)
        return out

    def chat_view(self, chat_id: int) -> dict[str, Any]:
        """What a person's screen shows for a chat: messages, keyboard, answers, typing."""
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id in self.users:
                chat = self._private_chat(chat_id)
            else:
                raise SandboxError(f"no chat {chat_id}")
        acting = chat.chat_action if chat.chat_action_until > self._clock() else None
        return {
            "chat": copy.deepcopy(chat.chat),
            "version": chat.version,
            "bot_status": self._bot_status_for(chat),
            "members": list(chat.members),
            "admins": list(chat.admins),
            "messages": self.transcript(chat.id),
            "reply_keyboard": copy.deepcopy(chat.reply_keyboard),
            "callback_answers": [a for a in self.callback_answers if a["chat_id"] == chat.id],
            "chat_action": acting,
        }

    def _bot_status_for(self, chat: ChatRecord) -> str:
        if chat.is_private:
            return "kicked" if self.users[chat.id].blocked else "member"
        return chat.bot_status

    def chats_for_user(self, user_id: int) -> list[dict[str, Any]]:
        """The chats a person sees: the private chat with the bot first, then groups."""
        self._user(user_id)
        private = self._private_chat(user_id)
        groups = [c for c in self.chats.values() if not c.is_private and user_id in c.members]
        return [
            {**copy.deepcopy(c.chat), "bot_status": self._bot_status_for(c), "version": c.version}
            for c in [private, *groups]
        ]

    def chat_version(self, chat_id: int) -> int:
        """A number that grows whenever anything in the chat changes."""
        chat = self.chats.get(chat_id)
        return chat.version if chat else 0

    async def wait_for_change(self, chat_id: int, after: int, max_wait: float) -> int:
        """Waits until the chat's version passes `after` (or max_wait seconds); returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while self.chat_version(chat_id) <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change_event.wait(), remaining)
        return self.chat_version(chat_id)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Returns and confirms every queued update, as a getUpdates consumer would."""
        out = copy.deepcopy(self._updates)
        self._updates.clear()
        self._changed()
        return out

    @property
    def pending_update_count(self) -> int:
        """How many updates wait for the bot."""
        return len(self._updates)

    # ------------------------------------------------------------------ internals

    def _now(self) -> int:
        return int(self._clock())

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def _new_message(
        self, chat: ChatRecord, sender: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(chat.chat),
            "date": self._now(),
            **copy.deepcopy(content),
        }

    def _store(self, chat: ChatRecord, record: MessageRecord) -> None:
        chat.messages[int(record.message["message_id"])] = record
        if record.message["from"]["id"] == self.bot_user["id"]:
            chat.chat_action = None
        self._touch(chat)

    def _touch(self, chat: ChatRecord) -> None:
        self._version += 1
        chat.version = self._version
        self._changed()

    def _allowed_types(self) -> set[str]:
        if not self._allowed:
            return set(UPDATE_TYPES) - NOT_BY_DEFAULT
        return set(self._allowed)

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        # Telegram drops updates of types the bot did not ask for.
        if kind not in self._allowed_types():
            return
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._wake_updates()
        self._changed()

    def _wake_updates(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    def _changed(self) -> None:
        self._change_event.set()
        self._change_event = asyncio.Event()
        self._schedule_save()

    # ------------------------------------------------------------------ persistence

    def _schedule_save(self) -> None:
        if self._state_file is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        # Debounced: a burst of changes is written once.
        self._save_handle = loop.call_later(0.5, self._save_soon)

    def _save_soon(self) -> None:
        self._save_handle = None
        self.save()

    def save(self) -> None:
        """Writes the whole state to the state file now (no-op without one)."""
        if self._state_file is None:
            return
        state = {
            "format": 1,
            "bot_user": self.bot_user,
            "users": [asdict(u) for u in self.users.values()],
            "chats": [c.to_json() for c in self.chats.values()],
            "files": [f.to_json() for f in self.files.values()],
            "webhook": asdict(self.webhook),
            "commands": self.commands,
            "menu_buttons": self.menu_buttons,
            "profile": self.profile,
            "callback_answers": self.callback_answers,
            "queries": self._queries,
            "updates": self._updates,
            "next_update_id": self._next_update_id,
            "allowed": self._allowed,
            "counter": self._counter,
            "next_user_id": self._next_user_id,
            "next_group": self._next_group,
            "version": self._version,
        }
        tmp = self._state_file.with_suffix(self._state_file.suffix + ".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self._state_file)

    def _load(self, path: Path) -> None:
        state = json.loads(path.read_text(encoding="utf-8"))
        self.users = {int(u["user"]["id"]): UserRecord(**u) for u in state["users"]}
        self.chats = {}
        for raw in state["chats"]:
            chat = ChatRecord.from_json(raw)
            self.chats[chat.id] = chat
        self.files = {f["file_id"]: FileRecord.from_json(f) for f in state["files"]}
        self.webhook = WebhookState(**state["webhook"])
        self.commands = state["commands"]
        self.menu_buttons = state["menu_buttons"]
        self.profile = state["profile"]
        self.callback_answers = state["callback_answers"]
        self._queries = state["queries"]
        self._updates = state["updates"]
        self._next_update_id = state["next_update_id"]
        self._allowed = state["allowed"]
        self._counter = state["counter"]
        self._next_user_id = state["next_user_id"]
        self._next_group = state["next_group"]
        self._version = state["version"]


# ---------------------------------------------------------------------- helpers


def _wording(method: str, params: dict[str, Any], problems: list[str]) -> str:
    """Telegram's description for a call that breaks the spec."""
    joined = "\n".join(problems)
    text = params.get("text")
    if "callback_data must be" in joined:
        return "Bad Request: BUTTON_DATA_INVALID"
    if method in ("sendMessage", "editMessageText") and isinstance(text, str):
        if len(text) > MAX_TEXT:
            return "Bad Request: message is too long"
        if not text:
            return "Bad Request: message text is empty"
    if method == "sendMessage" and text is None:
        return "Bad Request: message text is empty"
    if "caption must be" in joined:
        return "Bad Request: message caption is too long"
    if method == "answerCallbackQuery" and "text must be" in joined:
        return "Bad Request: MESSAGE_TOO_LONG"
    missing = re.search(r"missing required parameter '(\w+)'", joined)
    if missing:
        return f"Bad Request: {missing.group(1)} is empty"
    return f"Bad Request: {problems[0]}"


def _not_member(chat: ChatRecord) -> str:
    kind = "supergroup" if chat.chat["type"] == "supergroup" else "group"
    if chat.bot_status == "kicked":
        return f"Forbidden: bot was kicked from the {kind} chat"
    return f"Forbidden: bot is not a member of the {kind} chat"


def _location(latitude: float, longitude: float) -> dict[str, Any]:
    return {"latitude": float(latitude), "longitude": float(longitude)}


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


def _same_content(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    return all(old.get(k) == new.get(k) for k in keys)


def _scope_key(p: dict[str, Any]) -> str:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)


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
