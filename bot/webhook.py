"""Telegram's webhook: the only route on the webhook's port (`/healthz` and `/metrics` have a
listener of their own, `bot.metrics.create_app`).

Our own webhook endpoint instead of PTB's built-in one, which answers Telegram 200 *before*
the update is handled. Here a request without the right `X-Telegram-Bot-Api-Secret-Token`
(compared in constant time) gets 403 and nothing is stored; a good one is stored in the inbox
and only then acknowledged with 200, so an update is never lost between Telegram and us; posts
that arrive while a store commits are stored together in the next one (group commit). A
repeat (the same update id within `storage.inbox.REPEAT_WINDOW`) is acknowledged and dropped.

Telegram posts up to `max_connections` (setWebhook, default 40) updates at once, but one chat's
messages one at a time: it sends a chat's next update only after we answered the one before
(tdlib/telegram-bot-api, WebhookActor). Since we answer after the update is stored and queued,
a chat's updates reach the per-person processor (`bot.ingress.PerUserProcessor`) in order, and
different people's are handled concurrently. A person's button presses travel in a queue of
their own, so a press and a message sent right after it may arrive in either order; Telegram
promises none there, and the handlers re-check state on every press.

While the database is away (`bot.ingress.DatabaseOutage`) an update cannot be stored, so it
is not acknowledged: 503, at once and without touching the database once the outage is known,
and Telegram posts it again later (setWebhook: "In case of an unsuccessful request (a request
with response HTTP status code different from 2XY), we will repeat the request and give up
after a reasonable amount of attempts", https://core.telegram.org/bots/api#setwebhook). The
outage is logged once, not per request, and never as a 500 with a traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import BadRequest

from bot.ingress import OUTAGE_PROBE, Inbox, connection_lost, describe
from bot.settings import SettingsError

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram/webhook"
MAX_BODY = 1024 * 1024
# Telegram's update ids are positive and well below this; the inbox keys them as BIGINT.
MAX_UPDATE_ID = 2**63 - 1


async def register(bot: Bot, base_url: str, secret: str, allowed_updates: Sequence[str]) -> None:
    """setWebhook for `<base_url>/telegram/webhook`. Telegram checks more than the settings
    can (that it resolves the host, reaches a public address, HTTPS on 443, 80, 88 or 8443) and
    answers 400 "bad webhook: ..."; that stops start-up with one line, as a bad setting does."""
    try:
        await bot.set_webhook(
            base_url.rstrip("/") + PATH, secret_token=secret, allowed_updates=list(allowed_updates)
        )
    except BadRequest as exc:
        raise SettingsError(f"Telegram refused the webhook {base_url}: {exc.message}") from None


def create_http_app(box: Inbox, secret: str) -> Starlette:
    """The webhook and nothing else: `/healthz` and `/metrics` have a listener of their own
    (`bot.metrics.create_app`), never the webhook's public port."""

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:  # an update is a few KB; anything huge is not from Telegram
                return PlainTextResponse("too large", status_code=413)
        update = _parse(body, box)
        if update is None:
            return PlainTextResponse("bad update", status_code=400)
        if box.outage.down:
            return _unavailable()
        try:
            # Posts arriving together are stored in one transaction (`Inbox.accept_one`).
            await box.accept_one(update)
        except Exception as exc:  # not stored: Telegram sends it again after any non-2xx
            if connection_lost(exc):
                if not await box.outage.failed(exc):  # else the outage's one warning says why
                    log.warning(
                        "webhook: update %s not stored: %s (a connection broke)",
                        update.update_id, describe(exc),
                    )  # fmt: skip
                return _unavailable()
            # The type only: a database error's text can quote the update it failed to store.
            log.error("webhook: update %s not stored: %s", update.update_id, describe(exc))
            return PlainTextResponse("not stored", status_code=500)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def _unavailable() -> Response:
    """Not stored while the database is away: Telegram keeps the update and posts it again."""
    headers = {"Retry-After": str(int(OUTAGE_PROBE[1]))}
    return PlainTextResponse("database unavailable", status_code=503, headers=headers)


def _parse(body: bytes, box: Inbox) -> Update | None:
    """The update in `body`, or None for anything Telegram would not send: not JSON, not an
    object, an `update_id` that is not a whole number in range, a number that fits no
    database column (ids are at most 64-bit), or fields PTB cannot read."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
        if not isinstance(data, dict) or not _in_range(data):
            return None
        update_id = data.get("update_id")
        if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
            return None
        return Update.de_json(data, box.application.bot)
    except Exception:  # whatever junk does to the parser is a 400, and is not logged
        return None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON Telegram sends")


def _in_range(data: object) -> bool:
    """Every number in `data` fits 64 bits (a float: finite); walked without recursion."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif not _fits(item):
            return False
    return True


def _fits(value: object) -> bool:
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return not isinstance(value, float) or math.isfinite(value)
