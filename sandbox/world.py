"""The world one bot lives in: its state, the updates queue and the state file.

`World` is the base of every part of the emulator: it holds the people, chats, files and
settings, numbers messages, queues updates for the bot (only the types it asked for), wakes the
long pollers and the web chat, and saves everything (debounced) when a state file is given.
The Bot API methods and the people's actions are mixins on top of it (see `sandbox.emulator`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from sandbox.limits import FloodGate, FloodLimits, NetworkFaults
from sandbox.records import ChatRecord, FileRecord, MessageRecord, UserRecord, WebhookState

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

Handler = Callable[[dict[str, Any], dict[str, tuple[str, bytes]]], Awaitable[Any]]
# A button press can be answered for about this long: the client stops waiting for the answer
# and Telegram refuses a later one as "query is too old" (see sandbox/README.md).
CALLBACK_ANSWER_TTL = 15.0


class World:
    """The state behind one bot's view of Telegram, and the plumbing every part shares."""

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
        local_http_webhooks: bool = False,
        callback_answer_ttl: float = CALLBACK_ANSWER_TTL,
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
        # Off (as Telegram): setWebhook takes only https:// on 443, 80, 88 or 8443. On (tests,
        # the offline `halsaram run`): a loopback URL may be http:// on any port.
        self.local_http_webhooks = local_http_webhooks
        # Seconds after a press during which answerCallbackQuery is accepted (Telegram: ~15).
        if callback_answer_ttl <= 0:
            raise ValueError("callback_answer_ttl must be positive")
        self.callback_answer_ttl = callback_answer_ttl

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

        self._flood = FloodGate(clock)
        self.faults = NetworkFaults()
        # Bot API calls answered, by method and HTTP status: how tests see a bot hammering.
        self.answered: Counter[tuple[str, int]] = Counter()
        self._update_event = asyncio.Event()
        self._change_event = asyncio.Event()
        self._poll_generation = 0
        self._pusher: asyncio.Task[None] | None = None
        self._save_handle: asyncio.TimerHandle | None = None
        if state_file is not None and state_file.exists():
            self._load(state_file)

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
