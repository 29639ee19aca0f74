"""The HTTP side of a running bot: Telegram's webhook, `/healthz` and `/metrics`.

Our own webhook endpoint instead of PTB's built-in one, which answers Telegram 200 *before*
the update is handled. Here a request without the right `X-Telegram-Bot-Api-Secret-Token`
(compared in constant time) gets 403 and nothing is stored; a good one is stored in the inbox
and only then acknowledged with 200, so an update is never lost between Telegram and us. A
repeat of an update already stored is acknowledged and dropped.

Telegram posts up to `max_connections` (setWebhook, default 40) updates at once, but one chat's
messages one at a time: it sends a chat's next update only after we answered the one before
(tdlib/telegram-bot-api, WebhookActor). Since we answer after the update is stored and queued,
a chat's updates reach the per-person processor (`bot.ingress.PerUserProcessor`) in order, and
different people's are handled concurrently. A person's button presses travel in a queue of
their own, so a press and a message sent right after it may arrive in either order; Telegram
promises none there, and the handlers re-check state on every press.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import BadRequest

from bot import metrics
from bot.ingress import Inbox
from bot.settings import SettingsError
from storage import inbox
from storage.db import ping
from storage.outbox import backlog as outbox_backlog

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram/webhook"
MAX_BODY = 1024 * 1024


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


def create_http_app(box: Inbox, secret: str | None) -> Starlette:
    """Routes for health and metrics, and the webhook when `secret` is given."""

    async def receive(request: Request) -> Response:
        assert secret is not None
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:  # an update is a few KB; anything huge is not from Telegram
                return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, box.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return PlainTextResponse("bad update", status_code=400)
        await box.accept([update])
        return PlainTextResponse("ok")

    async def health(_request: Request) -> Response:
        now = box.clock.now()
        try:
            async with box.sessions() as session:
                await ping(session)
                waiting, inbox_age = await inbox.backlog(session, now)
                queued, outbox_age = await outbox_backlog(session, now)
        except Exception as exc:  # any failure here means "not healthy", with the reason
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
        return JSONResponse({
            "ok": True, "database": "ok",
            "inbox": {"waiting": waiting, "oldest_seconds": round(inbox_age, 1)},
            "outbox": {"waiting": queued, "oldest_seconds": round(outbox_age, 1)},
        })  # fmt: skip

    async def scrape(_request: Request) -> Response:
        await metrics.refresh(box.sessions, box.clock)
        limiter = getattr(box.application.bot, "rate_limiter", None)
        metrics.TELEGRAM_429.set(getattr(limiter, "throttled", 0))
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]
    if secret is not None:
        routes.append(Route(PATH, receive, methods=["POST"]))
    return Starlette(routes=routes)
