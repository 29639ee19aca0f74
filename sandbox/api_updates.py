"""Bot API, updates: getUpdates (long polling), setWebhook, deleteWebhook, getWebhookInfo.

Also the webhook pusher: as Telegram, it posts queued updates to the bot's URL over up to
`max_connections` connections at once, one at a time per chat (per person for button presses),
confirms each only after a 2xx answer and sends a failed one again after a doubling delay.
And update ids as Telegram numbers them: in sequence, except that after a quiet week the next
one is picked at random (`jump_update_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
import re
from asyncio import FIRST_COMPLETED
from typing import Any
from urllib.parse import urlsplit

import httpx

from sandbox.errors import ApiError, SandboxError, bad
from sandbox.records import WebhookState
from sandbox.world import NOT_BY_DEFAULT, UPDATE_TYPES, World

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Telegram's own checks and wording (tdlib/telegram-bot-api, WebhookActor.cpp).
WEBHOOK_PORTS = (443, 80, 88, 8443)
NEED_HTTPS = "bad webhook: An HTTPS URL must be provided for webhook"
BAD_PORT = "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
_LOOPBACK = ("localhost", "::1")
# setWebhook's max_connections: 1-100, 40 when not given (Bot API); tdlib clamps other values.
MAX_CONNECTIONS = (1, 100)
DEFAULT_MAX_CONNECTIONS = 40
# An offset more than this past the next update id is "in the future": tdlib's TQueue::get
# refuses it and getUpdates answers from the oldest update kept instead.
FUTURE_SLACK = 10
# Update ids are positive 32-bit integers (tdlib's TQueue::EventId).
MAX_UPDATE_ID = 2**31 - 1
# The update types whose webhook queue is their chat; tdlib's Client.cpp gives each type a
# queue id (webhook_queue_id): the chat for messages and their edits, the person for button
# presses, the chat again (a different queue) for the bot's own membership.
_CHAT_QUEUED = (
    "message", "edited_message", "channel_post", "edited_channel_post",
    "business_message", "edited_business_message",
)  # fmt: skip
_PERSON_QUEUED = ("callback_query", "inline_query", "chosen_inline_result",
                  "shipping_query", "pre_checkout_query")  # fmt: skip


def _queue_of(update: dict[str, Any]) -> tuple[str, int]:
    """The webhook queue an update travels in: Telegram delivers one update of a queue at a
    time, in order, and different queues concurrently (tdlib/telegram-bot-api, WebhookActor:
    the next update of a queue is sent once the bot answered the previous one)."""
    for kind in _CHAT_QUEUED:
        if kind in update:
            return ("chat", int(update[kind]["chat"]["id"]))
    for kind in _PERSON_QUEUED:
        if kind in update:
            return (kind, int(update[kind]["from"]["id"]))
    if "my_chat_member" in update:
        return ("my_chat_member", int(update["my_chat_member"]["chat"]["id"]))
    if "chat_member" in update:
        return ("chat_member", int(update["chat_member"]["new_chat_member"]["user"]["id"]))
    return ("update", int(update["update_id"]))


class UpdatesApi(World):
    """getUpdates and the webhook methods, plus the task that pushes updates to a webhook."""

    # Deliveries to the webhook under way now, and the most there were at once.
    webhook_in_flight: int = 0
    webhook_most_in_flight: int = 0

    def jump_update_id(self, to: int | None = None) -> int:
        """The next update gets id `to` (random when not given), up or down, as Telegram does
        after a week without updates: "If there are no new updates for at least a week, then
        identifier of the next update will be chosen randomly instead of sequentially" (Bot
        API, Update). Only while no update waits, since a quiet week leaves none. Returns it."""
        if self._updates:
            raise SandboxError("updates are still waiting; ids jump only after a quiet week")
        if to is None:
            to = random.randint(1, MAX_UPDATE_ID)
        if not 1 <= to <= MAX_UPDATE_ID:
            raise SandboxError(f"update ids are 1-{MAX_UPDATE_ID}")
        self._next_update_id = to
        self._changed()
        return to

    def _ensure_pusher(self) -> None:
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    async def _get_updates(self, p: dict[str, Any], f: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self._remember_allowed(p)
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

    def _remember_allowed(self, p: dict[str, Any]) -> None:
        """`allowed_updates` of getUpdates or setWebhook, kept for later calls as Telegram keeps
        it (tdlib/telegram-bot-api, `Client::get_allowed_update_types`): not given → the last
        setting stays; a list naming no known type (`[]` included) → the default (everything
        but chat_member and the reactions); otherwise the known types it names (any case,
        unknown names ignored). It filters updates as they are created, never those queued."""
        given = p.get("allowed_updates")
        if not isinstance(given, list):
            return
        named = {str(kind).lower() for kind in given}
        known = [kind for kind in UPDATE_TYPES if kind in named]
        default = set(UPDATE_TYPES) - NOT_BY_DEFAULT
        self._allowed = known if known and set(known) != default else None

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset > self._next_update_id + FUTURE_SLACK:
            # tdlib's TQueue::get refuses an offset "in the future" and getUpdates answers
            # from the oldest update kept, confirming nothing (Client::do_get_updates). It
            # happens after the ids jumped down: the bot's offset is above every new id.
            return
        if offset < 0:
            # A negative offset keeps the last -offset updates and forgets the rest.
            self._updates = self._updates[offset:]
            return
        self._updates = [u for u in self._updates if u["update_id"] >= offset]

    async def _set_webhook(self, p: dict[str, Any], f: dict[str, Any]) -> bool:
        url = str(p.get("url", ""))
        if url and (refusal := self._webhook_refusal(url)):
            raise bad(refusal)
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        self._remember_allowed(p)
        if p.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = WebhookState()
            self._wake_updates()
            return True
        low, high = MAX_CONNECTIONS
        connections = int(p.get("max_connections", DEFAULT_MAX_CONNECTIONS))
        self.webhook = WebhookState(
            url=url, secret_token=secret, max_connections=min(max(connections, low), high)
        )
        self._wake_updates()
        self._ensure_pusher()
        return True

    def _webhook_refusal(self, url: str) -> str | None:
        """Telegram's 400 for a webhook URL it will not post to: not https://, or a port other
        than 443, 80, 88 and 8443. With `local_http_webhooks`, a loopback host is exempt."""
        if not re.match(r"https?://[^/\s]+", url):
            return NEED_HTTPS
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            return BAD_PORT
        host = parts.hostname or ""
        if self.local_http_webhooks and (host in _LOOPBACK or host.startswith("127.")):
            return None
        if parts.scheme != "https":
            return NEED_HTTPS
        return None if (port or 443) in WEBHOOK_PORTS else BAD_PORT

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
        """Delivers queued updates as Telegram's WebhookActor (tdlib/telegram-bot-api) does:
        up to `max_connections` requests at once, but one at a time per queue (`_queue_of`),
        in order; an update is confirmed (forgotten) only after a 2xx answer, and a failed one
        is sent again after a doubling delay while its queue waits and other queues go on."""
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS[1], max_keepalive_connections=None)
        sending: dict[asyncio.Task[bool], dict[str, Any]] = {}
        # update_id -> (its current delay, the loop time before which it is not sent again)
        retry: dict[int, tuple[float, float]] = {}
        async with httpx.AsyncClient(
            transport=self._webhook_transport, timeout=10.0, limits=limits
        ) as client:
            try:
                while True:
                    woken = self._update_event
                    for task in [t for t in sending if t.done()]:
                        ok = not task.cancelled() and not task.exception() and task.result()
                        self._delivered(sending.pop(task), ok, retry, loop.time())
                    next_at = self._start_deliveries(client, sending, retry, loop.time())
                    self.webhook_in_flight = len(sending)
                    self.webhook_most_in_flight = max(self.webhook_most_in_flight, len(sending))
                    waiter = loop.create_task(woken.wait())
                    timeout = None if next_at is None else max(next_at - loop.time(), 0.0)
                    try:
                        await asyncio.wait(
                            {*sending, waiter}, timeout=timeout, return_when=FIRST_COMPLETED
                        )
                    finally:
                        waiter.cancel()
            finally:
                for task in sending:
                    task.cancel()
                await asyncio.gather(*sending, return_exceptions=True)
                self.webhook_in_flight = 0

    def _start_deliveries(
        self,
        client: httpx.AsyncClient,
        sending: dict[asyncio.Task[bool], dict[str, Any]],
        retry: dict[int, tuple[float, float]],
        now: float,
    ) -> float | None:
        """Starts a delivery for the first update of every queue that is neither busy nor
        waiting to retry, up to `max_connections` at once; returns when the next retry is due."""
        if not self.webhook.url:
            return None
        busy = {_queue_of(update) for update in sending.values()}
        next_at: float | None = None
        for update in self._updates:
            if len(sending) >= self.webhook.max_connections:
                break
            queue = _queue_of(update)
            if queue in busy:
                continue
            busy.add(queue)  # the rest of this queue waits for its first update
            _, not_before = retry.get(update["update_id"], (0.0, 0.0))
            if not_before > now:
                next_at = not_before if next_at is None else min(next_at, not_before)
                continue
            task = asyncio.get_running_loop().create_task(self._push(client, update))
            sending[task] = update
        return next_at

    def _delivered(
        self,
        update: dict[str, Any],
        ok: bool,
        retry: dict[int, tuple[float, float]],
        now: float,
    ) -> None:
        """A delivery's answer: 2xx confirms the update, anything else schedules a retry."""
        update_id = update["update_id"]
        if ok:
            retry.pop(update_id, None)
            kept = [u for u in self._updates if u["update_id"] != update_id]
            if len(kept) != len(self._updates):
                self._updates = kept
                self._changed()
            return
        if not any(u["update_id"] == update_id for u in self._updates):
            retry.pop(update_id, None)  # dropped meanwhile (drop_pending_updates)
            return
        previous = retry.get(update_id)
        delay = self._retry_delay if previous is None else min(previous[0] * 2, self._max_delay)
        retry[update_id] = (delay, now + delay)

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
