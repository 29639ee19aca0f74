"""An in-memory Telegram Bot API for one bot, with a user side to act as people.

The bot side (`Emulator.bot_call`) answers like api.telegram.org: same result shapes, same error
shape and wording, flood limits, long polling and webhooks. The user side (`add_user`,
`send_text`, `press_button`, ...) creates the updates Telegram would send when people use the
bot. No HTTP lives here: `sandbox.server` puts it on the network, tests may call it directly.

`Emulator` is a façade put together from one mixin per concern; this module holds the method
table and the dispatch (spec check, wording, planned network faults, the `answered` counter):
- `sandbox.world` — `World`: state, the updates queue, the state file (`sandbox.records`:
  the dataclasses; `sandbox.errors`: `ApiError`, `SandboxError`);
- Bot API — `sandbox.api_updates` (getUpdates, webhooks), `sandbox.api_messages` (sending,
  editing, deleting, answerCallbackQuery), `sandbox.api_files` (uploads, getFile),
  `sandbox.api_chats` (getMe, commands, profile, chats and members);
- people — `sandbox.people` (acting as a person), `sandbox.people_groups` (groups),
  `sandbox.people_reading` (transcripts, chat views, the queued updates);
- `sandbox.limits` — flood limits (429, retry_after) and network fault injection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import secrets
from typing import Any

from sandbox.api_files import MAX_DOWNLOAD_BYTES
from sandbox.api_messages import NOT_MODIFIED, MessagesApi
from sandbox.api_updates import CONFLICT_POLLING, CONFLICT_WEBHOOK, UpdatesApi
from sandbox.errors import ApiError, SandboxError
from sandbox.limits import SENDING_METHODS, FloodLimits, NetworkFaults, ResponseLost, Unreachable
from sandbox.people import DEFAULT_LOCATION
from sandbox.people_groups import UPGRADE_ORDERS, Groups, UpgradeOrder
from sandbox.people_reading import Reading
from sandbox.records import ChatRecord, FileRecord, MessageRecord, UserRecord, WebhookState
from sandbox.spec import MAX_TEXT, load_spec, validate_call
from sandbox.world import NOT_BY_DEFAULT, UPDATE_TYPES, Handler

# Every public name this module had before the split is still importable from here.
__all__ = [
    "CONFLICT_POLLING",
    "CONFLICT_WEBHOOK",
    "DEFAULT_LOCATION",
    "MAX_DOWNLOAD_BYTES",
    "NOT_BY_DEFAULT",
    "NOT_MODIFIED",
    "SENDING_METHODS",
    "UPDATE_TYPES",
    "UPGRADE_ORDERS",
    "ApiError",
    "ChatRecord",
    "Emulator",
    "FileRecord",
    "FloodLimits",
    "Handler",
    "MessageRecord",
    "NetworkFaults",
    "ResponseLost",
    "SandboxError",
    "Unreachable",
    "UpgradeOrder",
    "UserRecord",
    "WebhookState",
]


class Emulator(UpdatesApi, MessagesApi, Groups, Reading):
    """One bot's view of Telegram, plus the people who talk to it.

    `Emulator(token, *, limits=..., clock=..., state_file=..., ...)`: the arguments are
    `World.__init__`'s.
    """

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

    # ------------------------------------------------------------------ bot side: dispatch

    @functools.cached_property
    def _handlers(self) -> dict[str, Handler]:
        """The Bot API methods answered here, by name (anything else gets 404)."""
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendVideo": self._send_video,
            "sendVideoNote": self._send_video_note,
            "sendLocation": self._send_location,
            "sendVenue": self._send_venue,
            "sendContact": self._send_contact,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
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
