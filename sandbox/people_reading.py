"""The people side, reading: what a person's screen shows and what tests read back.

Transcripts with edits applied, the web chat's chat view (keyboard, answers, typing...), the
chat list, versions to wait on, and the queued updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

from sandbox.errors import SandboxError
from sandbox.people import People
from sandbox.records import ChatRecord


class Reading(People):
    """Read-only views of the world (plus draining the updates queue, as a poller would)."""

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
