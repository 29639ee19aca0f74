"""Our own webhook endpoint (Starlette), instead of PTB's built-in one.

PTB's webhook server answers Telegram 200 *before* the update is handled, so an update in
flight when the process dies is lost. Here the update is handled first and only then
acknowledged, so Telegram delivers it again after a crash. Requests without the right
`X-Telegram-Bot-Api-Secret-Token` (compared in constant time) are refused with 403.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram/webhook"


def create_webhook_app(
    application: Application[Any, Any, Any, Any, Any, Any], secret: str
) -> Starlette:
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("bad update", status_code=400)
        await application.process_update(update)
        return PlainTextResponse("ok")

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route(PATH, receive, methods=["POST"]), Route("/healthz", health, methods=["GET"])]
    )
