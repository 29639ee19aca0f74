"""Bot API, updates: getUpdates (long polling), setWebhook, deleteWebhook, getWebhookInfo.

Also the webhook pusher: it posts queued updates one by one to the bot's URL and backs off
(doubling the delay) while the bot does not answer 2xx, as Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from sandbox.errors import ApiError, bad
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


class UpdatesApi(World):
    """getUpdates and the webhook methods, plus the task that pushes updates to a webhook."""

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
        self.webhook = WebhookState(
            url=url, secret_token=secret, max_connections=int(p.get("max_connections", 40))
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
