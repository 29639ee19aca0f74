"""The sandbox on HTTP: the Bot API as Telegram serves it, a user-side JSON API, a web chat.

Run `halsaram-sandbox` (or `python -m sandbox.server`) and point the bot at it with
`ApplicationBuilder().base_url("http://127.0.0.1:8080/bot")
.base_file_url("http://127.0.0.1:8080/file/bot")`. Open http://127.0.0.1:8080/ to chat.
The user-side API is described in sandbox/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import mimetypes
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sandbox.emulator import Emulator, FloodLimits, ResponseLost, SandboxError, Unreachable
from sandbox.media import NotAnImage, read_codes
from sandbox.spec import decode_form_params
from sandbox.world import CALLBACK_ANSWER_TTL

DEFAULT_TOKEN = "123456:SANDBOX-TOKEN"
WEBCHAT_DIR = Path(__file__).parent / "webchat"
# A long poll of the transcript never holds a request longer than this.
MAX_TRANSCRIPT_WAIT = 25.0
# Longer than any bot's read timeout, so a lost answer is a timeout on the bot's side.
LOST_RESPONSE_HANG = 120.0

Endpoint = Callable[[Request], Awaitable[Response]]


class _SignedIntConvertor(Convertor[int]):
    """Group chat ids are negative; Starlette's `int` matches digits only."""

    regex = "-?[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("sint", _SignedIntConvertor())


@dataclass
class _Upload:
    data: bytes
    filename: str
    content_type: str | None
    caption: str | None
    # What the person's app states about a video (whole seconds, the round video's diameter).
    duration: int | None = None
    length: int | None = None


class _UserError(Exception):
    """A malformed user-side request (400)."""


def _whole(value: object, name: str) -> int | None:
    """An optional whole number from a multipart form."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isdigit():
        raise _UserError(f"{name!r} must be a whole number")
    return int(value)


def create_app(emulator: Emulator, *, announce: str | None = None) -> Starlette:
    """Builds the Starlette app around one emulator; `announce` is printed once listening."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await emulator.start()
        if announce:
            print(announce, flush=True)
        try:
            yield
        finally:
            await emulator.stop()

    api = _UserApi(emulator)
    routes = [
        Route("/bot{token}/{method}", _bot_endpoint(emulator), methods=["GET", "POST"]),
        Route("/file/bot{token}/{file_path:path}", _file_endpoint(emulator), methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        *api.routes(),
        Route("/", _index, methods=["GET"]),
        Mount("/webchat", StaticFiles(directory=WEBCHAT_DIR, check_dir=False), name="webchat"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _index(request: Request) -> Response:
    return FileResponse(WEBCHAT_DIR / "index.html", media_type="text/html; charset=utf-8")


# ---------------------------------------------------------------------- bot side


def _bot_endpoint(emulator: Emulator) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        try:
            params, files = await _read_call(request, method)
        except ValueError:
            body = {"ok": False, "error_code": 400, "description": "Bad Request: can't parse JSON"}
            return JSONResponse(body, status_code=400)
        try:
            if method.lower() == "getupdates":
                # A long poll: it ends early when the bot goes away, so a stopping bot does
                # not leave a request open that would hold up the sandbox's own stop.
                status, body = await _unless_gone(
                    request, emulator.bot_call(token, method, params, files)
                )
            else:
                status, body = await emulator.bot_call(token, method, params, files)
        except Unreachable:
            # What a bot sees when Telegram's front end cannot reach the API servers.
            status, body = 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        except ResponseLost:
            # Done, but the answer never comes: the bot's read timeout fires first.
            status, body = await _unless_gone(request, asyncio.sleep(LOST_RESPONSE_HANG, _LOST))
        return JSONResponse(body, status_code=status)

    return endpoint


_LOST = (504, {"ok": False, "error_code": 504, "description": "Gateway Timeout"})
_GONE = (499, {"ok": False, "error_code": 499, "description": "Client Closed Request"})


async def _unless_gone(
    request: Request, work: Coroutine[Any, Any, tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any]]:
    """Waits for `work`, or stops it when the client disconnects (its answer has no reader)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return _GONE


async def _disconnected(request: Request) -> None:
    """Returns when the client has closed the connection (the body was already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _read_call(
    request: Request, method: str
) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Reads a call's parameters from the query string and any body Telegram accepts."""
    raw: dict[str, str] = dict(request.query_params)
    decoded: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/json"):
        body = await request.body()
        data = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        decoded = data
    elif request.method == "POST" and (
        content_type.startswith("multipart/form-data")
        or content_type.startswith("application/x-www-form-urlencoded")
    ):
        async with request.form(max_part_size=8 * 1024 * 1024) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = (value.filename or key, await value.read())
                else:
                    raw[key] = value
    return {**decode_form_params(method, raw), **decoded}, files


def _file_endpoint(emulator: Emulator) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        token = request.path_params["token"]
        if token != emulator.token:
            return JSONResponse(_error(401, "Unauthorized"), status_code=401)
        path = request.path_params["file_path"]
        data = emulator.file_bytes(path)
        if data is None:
            return JSONResponse(_error(404, "Not Found"), status_code=404)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(data, media_type=media_type)

    return endpoint


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


# ---------------------------------------------------------------------- user side


class _UserApi:
    """JSON endpoints to act as people and read chats (see sandbox/README.md)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    def routes(self) -> list[Route]:
        """The user-side routes under /sandbox/api."""
        table: list[tuple[str, str, Callable[[Request], Awaitable[Any]]]] = [
            ("GET", "/info", self.info),
            ("GET", "/users", self.list_users),
            ("POST", "/users", self.create_user),
            ("GET", "/users/{user_id:int}/chats", self.user_chats),
            ("POST", "/users/{user_id:int}/block", self.block),
            ("POST", "/users/{user_id:int}/unblock", self.unblock),
            ("POST", "/groups", self.create_group),
            ("POST", "/groups/{chat_id:sint}/members", self.add_member),
            ("POST", "/groups/{chat_id:sint}/bot", self.add_bot),
            ("POST", "/groups/{chat_id:sint}/bot/remove", self.remove_bot),
            ("POST", "/groups/{chat_id:sint}/cleanup", self.cleanup_bot),
            ("POST", "/groups/{chat_id:sint}/upgrade", self.upgrade_group),
            ("POST", "/groups/{chat_id:sint}/bot/promote", self.promote_bot),
            ("POST", "/groups/{chat_id:sint}/bot/demote", self.demote_bot),
            ("POST", "/groups/{chat_id:sint}/bot/restrict", self.restrict_bot),
            ("POST", "/groups/{chat_id:sint}/bot/unrestrict", self.unrestrict_bot),
            ("POST", "/groups/{chat_id:sint}/permissions", self.group_permissions),
            ("POST", "/groups/{chat_id:sint}/topics/enable", self.enable_topics),
            ("POST", "/groups/{chat_id:sint}/topics", self.create_topic),
            ("POST", "/groups/{chat_id:sint}/topics/{topic}/close", self.close_topic),
            ("POST", "/groups/{chat_id:sint}/topics/{topic}/reopen", self.reopen_topic),
            ("POST", "/chats/{chat_id:sint}/topics/{thread_id:int}/messages", self.send_in_topic),
            ("POST", "/groups/{chat_id:sint}/anonymous", self.remain_anonymous),
            ("GET", "/chats/{chat_id:sint}/transcript", self.transcript),
            ("POST", "/chats/{chat_id:sint}/messages", self.send_text),
            ("POST", "/chats/{chat_id:sint}/messages/{message_id:int}/delete", self.delete),
            ("POST", "/chats/{chat_id:sint}/messages/{message_id:int}/edit", self.edit),
            ("POST", "/chats/{chat_id:sint}/messages/{message_id:int}/location", self.move),
            ("POST", "/chats/{chat_id:sint}/callback", self.press_button),
            ("POST", "/chats/{chat_id:sint}/reply_button", self.press_reply_button),
            ("POST", "/chats/{chat_id:sint}/contact", self.share_contact),
            ("POST", "/chats/{chat_id:sint}/location", self.share_location),
            ("POST", "/chats/{chat_id:sint}/venue", self.send_venue),
            ("POST", "/chats/{chat_id:sint}/photo", self.send_photo),
            ("POST", "/chats/{chat_id:sint}/document", self.send_document),
            ("POST", "/chats/{chat_id:sint}/video", self.send_video),
            ("POST", "/chats/{chat_id:sint}/video_note", self.send_video_note),
            ("GET", "/files/{file_id}", self.file),
            ("POST", "/files/{file_id}/scan", self.scan),
            ("GET", "/webhook", self.webhook),
            ("POST", "/updates/jump", self.jump_update_id),
            ("POST", "/faults", self.plan_faults),
        ]
        return [
            Route(f"/sandbox/api{path}", self._wrap(handler), methods=[verb])
            for verb, path, handler in table
        ]

    @staticmethod
    def _wrap(handler: Callable[[Request], Awaitable[Any]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except (SandboxError, _UserError) as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
            if isinstance(result, Response):
                return result
            return JSONResponse({"ok": True, "result": result})

        return endpoint

    # -- helpers

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise _UserError("body must be JSON") from exc
        if not isinstance(data, dict):
            raise _UserError("body must be a JSON object")
        return data

    @staticmethod
    def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        value = data.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise _UserError(f"{key!r} is required")
        return value

    @staticmethod
    def _age(data: dict[str, Any]) -> float:
        """A press's `age`: made that many seconds ago (while the bot was down)."""
        age = data.get("age", 0)
        if not isinstance(age, int | float) or isinstance(age, bool) or age < 0:
            raise _UserError("'age' must be a number of seconds, 0 or more")
        return float(age)

    @staticmethod
    def _chat_id(request: Request) -> int:
        return int(request.path_params["chat_id"])

    # -- endpoints

    async def plan_faults(self, request: Request) -> Any:
        """Plans network faults on the bot's next calls: `{"lose_responses": {"sendMessage": 2},
        "refuse": {"editMessageText": 1}}` (counts by Bot API method)."""
        data = await self._json(request)
        for key, plan in (
            ("lose_responses", self.emu.faults.lose_responses),
            ("refuse", self.emu.faults.refuse),
        ):
            counts = data.get(key, {})
            if not isinstance(counts, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in counts.items()
            ):
                raise SandboxError(f"{key} must map method names to counts")
            plan.update(counts)
        return {"lose_responses": self.emu.faults.lose_responses, "refuse": self.emu.faults.refuse}

    async def info(self, request: Request) -> Any:
        return {
            "bot": self.emu.bot_user,
            "implemented_methods": self.emu.implemented_methods,
            "pending_update_count": self.emu.pending_update_count,
            "webhook_url_set": bool(self.emu.webhook.url),
            "answered": [
                {"method": method, "status": status, "count": count}
                for (method, status), count in sorted(self.emu.answered.items())
            ],
        }

    async def list_users(self, request: Request) -> Any:
        return self.emu.list_users()

    async def create_user(self, request: Request) -> Any:
        data = await self._json(request)
        return self.emu.add_user(
            self._need(data, "first_name", str),
            language_code=str(data.get("language_code") or "ko"),
            username=data.get("username") or None,
            user_id=data.get("user_id"),
            phone_number=data.get("phone_number") or None,
            last_name=data.get("last_name") or None,
        )

    async def user_chats(self, request: Request) -> Any:
        return self.emu.chats_for_user(int(request.path_params["user_id"]))

    async def block(self, request: Request) -> Any:
        self.emu.block_bot(int(request.path_params["user_id"]))
        return True

    async def unblock(self, request: Request) -> Any:
        self.emu.unblock_bot(int(request.path_params["user_id"]))
        return True

    async def create_group(self, request: Request) -> Any:
        data = await self._json(request)
        return self.emu.create_group(
            self._need(data, "title", str),
            [int(i) for i in data.get("member_ids", [])],
            [int(i) for i in data.get("admin_ids", [])],
            supergroup=bool(data.get("supergroup", True)),
        )

    async def add_member(self, request: Request) -> Any:
        data = await self._json(request)
        user_id = self._need(data, "user_id", int)
        return self.emu.add_member(self._chat_id(request), user_id, admin=bool(data.get("admin")))

    async def add_bot(self, request: Request) -> Any:
        data = await self._json(request)
        user_id = self._need(data, "user_id", int)
        return await self.emu.add_bot_to_group(
            user_id, self._chat_id(request), as_admin=bool(data.get("as_admin"))
        )

    async def remove_bot(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.remove_bot_from_group(
            self._need(data, "user_id", int), self._chat_id(request)
        )
        return True

    async def cleanup_bot(self, request: Request) -> Any:
        data = await self._json(request)
        self.emu.set_cleanup_bot(self._chat_id(request), commands=bool(data.get("commands", True)))
        return True

    async def upgrade_group(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.upgrade_group(
            self._need(data, "user_id", int),
            self._chat_id(request),
            order=data.get("order", "member_first"),
        )

    async def remain_anonymous(self, request: Request) -> Any:
        """`{"user_id": …, "anonymous": true}`: an admin's "Remain anonymous" on or off."""
        data = await self._json(request)
        self.emu.remain_anonymous(
            self._need(data, "user_id", int),
            self._chat_id(request),
            bool(data.get("anonymous", True)),
        )
        return True

    # -- the bot's rights and forum topics (issue 19, point 6)

    async def promote_bot(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.promote_bot(
            self._need(data, "user_id", int),
            self._chat_id(request),
            can_manage_topics=bool(data.get("can_manage_topics")),
        )
        return True

    async def demote_bot(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.demote_bot(self._need(data, "user_id", int), self._chat_id(request))
        return True

    async def restrict_bot(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.restrict_bot(
            self._need(data, "user_id", int),
            self._chat_id(request),
            can_send_messages=bool(data.get("can_send_messages")),
        )
        return True

    async def unrestrict_bot(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.unrestrict_bot(self._need(data, "user_id", int), self._chat_id(request))
        return True

    async def group_permissions(self, request: Request) -> Any:
        data = await self._json(request)
        self.emu.set_group_permissions(
            self._need(data, "user_id", int),
            self._chat_id(request),
            can_send_messages=self._need(data, "can_send_messages", bool),
        )
        return True

    async def enable_topics(self, request: Request) -> Any:
        data = await self._json(request)
        return self.emu.enable_topics(self._need(data, "user_id", int), self._chat_id(request))

    async def create_topic(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.create_topic(
            self._need(data, "user_id", int), self._chat_id(request), self._need(data, "name", str)
        )

    async def close_topic(self, request: Request) -> Any:
        data = await self._json(request)
        user_id = self._need(data, "user_id", int)
        await self.emu.close_topic(user_id, self._chat_id(request), self._topic(request))
        return True

    async def reopen_topic(self, request: Request) -> Any:
        data = await self._json(request)
        user_id = self._need(data, "user_id", int)
        await self.emu.reopen_topic(user_id, self._chat_id(request), self._topic(request))
        return True

    @staticmethod
    def _topic(request: Request) -> int | None:
        """A topic in the path: its message_thread_id, or "general" (None)."""
        topic = str(request.path_params["topic"])
        if topic == "general":
            return None
        if not topic.isdigit():
            raise _UserError("a topic is its message_thread_id or 'general'")
        return int(topic)

    async def send_in_topic(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.send_topic_text(
            self._need(data, "user_id", int),
            self._chat_id(request),
            int(request.path_params["thread_id"]),
            self._need(data, "text", str),
        )

    async def delete(self, request: Request) -> Any:
        data = await self._json(request)
        await self.emu.delete_message(
            self._need(data, "user_id", int),
            self._chat_id(request),
            int(request.path_params["message_id"]),
        )
        return True

    async def edit(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.edit_message(
            self._need(data, "user_id", int),
            self._chat_id(request),
            int(request.path_params["message_id"]),
            self._need(data, "text", str),
        )

    async def move(self, request: Request) -> Any:
        data = await self._json(request)
        heading = data.get("heading")
        return await self.emu.move_live_location(
            self._need(data, "user_id", int),
            self._chat_id(request),
            int(request.path_params["message_id"]),
            float(self._need(data, "latitude", (int, float))),
            float(self._need(data, "longitude", (int, float))),
            heading=int(heading) if isinstance(heading, int) else None,
        )

    async def transcript(self, request: Request) -> Any:
        chat_id = self._chat_id(request)
        after = request.query_params.get("after")
        if after is not None:
            try:
                wait = min(float(request.query_params.get("timeout", "20")), MAX_TRANSCRIPT_WAIT)
                await self.emu.wait_for_change(chat_id, int(after), wait)
            except ValueError as exc:
                raise _UserError("after and timeout must be numbers") from exc
        return self.emu.chat_view(chat_id)

    async def send_text(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.send_text(
            self._need(data, "user_id", int),
            self._need(data, "text", str),
            self._chat_id(request),
            reply_to_message_id=data.get("reply_to_message_id"),
            anonymous=bool(data.get("anonymous")),
        )

    async def press_button(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.press_button(
            self._need(data, "user_id", int),
            self._chat_id(request),
            self._need(data, "message_id", int),
            self._need(data, "callback_data", str),
            force=bool(data.get("force")),
            age=self._age(data),
        )

    async def press_reply_button(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.press_reply_button(
            self._need(data, "user_id", int),
            self._need(data, "text", str),
            self._chat_id(request),
        )

    async def share_contact(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.share_contact(
            self._need(data, "user_id", int),
            own=bool(data.get("own", True)),
            phone_number=data.get("phone_number") or None,
            first_name=data.get("first_name") or None,
            chat_id=self._chat_id(request),
        )

    async def share_location(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.share_location(
            self._need(data, "user_id", int),
            float(self._need(data, "latitude", (int, float))),
            float(self._need(data, "longitude", (int, float))),
            live_period=data.get("live_period"),
            chat_id=self._chat_id(request),
        )

    async def send_venue(self, request: Request) -> Any:
        data = await self._json(request)
        return await self.emu.send_venue(
            self._need(data, "user_id", int),
            float(self._need(data, "latitude", (int, float))),
            float(self._need(data, "longitude", (int, float))),
            self._need(data, "title", str),
            self._need(data, "address", str),
            chat_id=self._chat_id(request),
        )

    async def _upload(self, request: Request) -> tuple[int, _Upload]:
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _UserError("multipart field 'file' is required")
            user_id = form.get("user_id")
            if not isinstance(user_id, str) or not user_id.isdigit():
                raise _UserError("'user_id' is required")
            caption = form.get("caption")
            # Read inside the block: the form's temporary files close when it ends.
            return int(user_id), _Upload(
                data=await upload.read(),
                filename=upload.filename or "file",
                content_type=upload.content_type or None,
                caption=caption if isinstance(caption, str) and caption else None,
                duration=_whole(form.get("duration"), "duration"),
                length=_whole(form.get("length"), "length"),
            )

    async def send_photo(self, request: Request) -> Any:
        user_id, upload = await self._upload(request)
        return await self.emu.send_photo(
            user_id, upload.data, upload.caption, self._chat_id(request)
        )

    async def send_document(self, request: Request) -> Any:
        user_id, upload = await self._upload(request)
        return await self.emu.send_document(
            user_id,
            upload.data,
            upload.filename,
            upload.content_type,
            upload.caption,
            self._chat_id(request),
        )

    async def send_video(self, request: Request) -> Any:
        user_id, upload = await self._upload(request)
        return await self.emu.send_video(
            user_id, upload.data, upload.filename, upload.caption,
            duration=upload.duration, chat_id=self._chat_id(request),
        )  # fmt: skip

    async def send_video_note(self, request: Request) -> Any:
        user_id, upload = await self._upload(request)
        return await self.emu.send_video_note(
            user_id, upload.data, duration=upload.duration, length=upload.length,
            chat_id=self._chat_id(request),
        )  # fmt: skip

    async def file(self, request: Request) -> Any:
        record = self.emu.file_by_id(request.path_params["file_id"])
        if record is None:
            return JSONResponse({"ok": False, "error": "no such file"}, status_code=404)
        media_type = record.meta.get("mime_type") or {
            "photo": "image/jpeg", "video_note": "video/mp4",
        }.get(record.kind, "application/octet-stream")  # fmt: skip
        return Response(record.data, media_type=media_type)

    async def scan(self, request: Request) -> Any:
        """A phone's camera pointed at a stored picture: the texts of the codes it shows.
        Opening what was read (a t.me deep link: `/start <payload>`) is the person's next step."""
        record = self.emu.file_by_id(request.path_params["file_id"])
        if record is None:
            return JSONResponse({"ok": False, "error": "no such file"}, status_code=404)
        try:
            texts = await asyncio.to_thread(read_codes, record.data)
        except NotAnImage as exc:
            raise _UserError("that file is not a picture") from exc
        return {"texts": texts}

    async def webhook(self, request: Request) -> Any:
        info = self.emu.webhook
        return {
            "url_set": bool(info.url),
            "pending_update_count": self.emu.pending_update_count,
            "last_error_date": info.last_error_date,
            "last_error_message": info.last_error_message,
            "max_connections": info.max_connections,
            "in_flight": self.emu.webhook_in_flight,
            "most_in_flight": self.emu.webhook_most_in_flight,
        }

    async def jump_update_id(self, request: Request) -> Any:
        """The next update gets id `to` (random when not given), as after a quiet week."""
        data = await self._json(request)
        to = data.get("to")
        if to is not None and (not isinstance(to, int) or isinstance(to, bool)):
            raise _UserError("'to' must be an integer")
        return {"next_update_id": self.emu.jump_update_id(to)}


# ---------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="halsaram-sandbox", description="Local Telegram Bot API emulator and web chat."
    )
    parser.add_argument("--host", default=env.get("HALSARAM_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("HALSARAM_SANDBOX_PORT", "8080")))
    parser.add_argument("--token", default=env.get("HALSARAM_SANDBOX_TOKEN", DEFAULT_TOKEN))
    parser.add_argument(
        "--state-file", type=Path, default=env.get("HALSARAM_SANDBOX_STATE_FILE") or None
    )
    parser.add_argument("--bot-username", default="halsaram_bot")
    parser.add_argument(
        "--no-flood-limits", action="store_true", help="answer every send, never 429"
    )
    parser.add_argument(
        "--local-http-webhooks",
        action="store_true",
        help="let setWebhook take http:// and any port on a loopback host (Telegram refuses both)",
    )
    parser.add_argument(
        "--callback-ttl",
        type=float,
        default=float(env.get("HALSARAM_SANDBOX_CALLBACK_TTL", str(CALLBACK_ANSWER_TTL))),
        help="seconds a button press can be answered (Telegram: about 15); tests shorten it",
    )
    parser.add_argument(
        "--overall-per-second",
        type=float,
        default=FloodLimits.overall_per_second,
        help="messages per second across all chats before a 429 (Telegram: 30)",
    )
    parser.add_argument(
        "--paid-per-second",
        type=float,
        default=FloodLimits.paid_per_second,
        help="sends with allow_paid_broadcast per second before a 429 (Telegram: 1000)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Starts the sandbox server until interrupted."""
    args = _parser().parse_args(argv)
    limits = FloodLimits(
        enabled=not args.no_flood_limits,
        overall_per_second=args.overall_per_second,
        paid_per_second=args.paid_per_second,
    )
    state_file = Path(args.state_file) if args.state_file else None
    emulator = Emulator(
        args.token,
        bot_username=args.bot_username,
        limits=limits,
        state_file=state_file,
        local_http_webhooks=args.local_http_webhooks,
        callback_answer_ttl=args.callback_ttl,
    )
    base = f"http://{args.host}:{args.port}"
    # The token is not printed: the bot gets it from its own settings.
    announce = f"Halsaram sandbox: web chat at {base}/  (Bot API base_url {base}/bot)"
    app = create_app(emulator, announce=announce)
    # Long polls and lost answers are open requests; on stop they are cut after a moment.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning",
                timeout_graceful_shutdown=1)  # fmt: skip


if __name__ == "__main__":
    main()
