"""The sandbox over real HTTP: python-telegram-bot works unchanged, the user API acts as people."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from sandbox.emulator import Emulator, FloodLimits
from sandbox.server import create_app
from tests.servers import free_port

TOKEN = "123456:SERVER-TEST"


async def serve(app: Starlette) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    """Starts an app on a free port; returns its base URL, server and task."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, task


@asynccontextmanager
async def _served(**options: Any) -> AsyncIterator[tuple[str, Emulator]]:
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False), webhook_retry_delay=0.05, **options)
    url, server, task = await serve(create_app(emu))
    yield url, emu
    server.should_exit = True
    await task


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[str, Emulator]]:
    async with _served() as served:
        yield served


@pytest.fixture
async def local_webhook_sandbox() -> AsyncIterator[tuple[str, Emulator]]:
    """The sandbox with the test flag that lets setWebhook take an http:// loopback URL."""
    async with _served(local_http_webhooks=True) as served:
        yield served


def png(size: tuple[int, int] = (400, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 60)).save(out, format="PNG")
    return out.getvalue()


def make_bot(url: str) -> Bot:
    return Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")


async def test_python_telegram_bot_works_unchanged(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox
    user_id = emu.add_user("민지")["id"]
    await emu.send_text(user_id, "/start")
    async with make_bot(url) as bot:
        me = await bot.get_me()
        assert me.username == "halsaram_bot" and me.is_bot
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("참여", callback_data="j:1")]])
        sent = await bot.send_message(
            user_id, "<b>모임</b> 안내", parse_mode="HTML", reply_markup=markup
        )
        assert sent.text == "모임 안내" and sent.reply_markup == markup
        photo_message = await bot.send_photo(user_id, png(), caption="체크인 QR")
        largest = photo_message.photo[-1]
        assert (largest.width, largest.height) == (400, 400)
        file = await bot.get_file(largest.file_id)
        data = bytes(await file.download_as_bytearray())
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (400, 400)
        document = await bot.send_document(user_id, b"exact\x00bytes", filename="note.bin")
        assert document.document is not None
        doc_file = await bot.get_file(document.document.file_id)
        assert bytes(await doc_file.download_as_bytearray()) == b"exact\x00bytes"
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(user_id, "x" * 4097)
        await bot.set_my_commands([("start", "시작하기")])
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
    texts = [m.get("text") or m.get("caption") for m in emu.transcript(user_id)]
    assert texts == ["/start", "모임 안내", "체크인 QR", None]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_python_telegram_bot_sees_403_and_429(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox
    emu.limits = FloodLimits(private_burst=1)
    first = emu.add_user("민지")["id"]
    second = emu.add_user("수아")["id"]
    for user_id in (first, second):
        await emu.send_text(user_id, "/start")
    emu.block_bot(second)
    async with make_bot(url) as bot:
        await bot.send_message(first, "하나")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(first, "둘")
        assert caught.value.retry_after in (1, dt.timedelta(seconds=1))
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(second, "hi")


async def test_polling_application_answers_a_command(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"환영합니다 {context.args}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    user_id = emu.add_user("민지")["id"]
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        await emu.send_text(user_id, "/start qr_payload")
        for _ in range(200):
            if len(emu.transcript(user_id)) == 2:
                break
            await asyncio.sleep(0.02)
        await app.updater.stop()
        await app.stop()
    assert emu.transcript(user_id)[-1]["text"] == "환영합니다 ['qr_payload']"


async def test_raw_http_shapes(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox
    user_id = emu.add_user("민지")["id"]
    await emu.send_text(user_id, "/start")
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(f"/bot{TOKEN}/sendDice", data={"chat_id": user_id})
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        response = await client.get("/bot1:WRONG/getMe")
        assert response.status_code == 401 and response.json()["description"] == "Unauthorized"
        response = await client.get(f"/bot{TOKEN}/getMe")
        assert response.json()["result"]["username"] == "halsaram_bot"
        response = await client.get(f"/bot{TOKEN}/sendMessage?chat_id={user_id}&text=query")
        assert response.json()["result"]["text"] == "query"
        response = await client.post(
            f"/bot{TOKEN}/sendMessage", json={"chat_id": user_id, "text": "json"}
        )
        assert response.json()["ok"] is True
        markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
        response = await client.post(
            f"/bot{TOKEN}/sendMessage",
            data={"chat_id": str(user_id), "text": "form", "reply_markup": markup},
        )
        assert response.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"
        response = await client.post(
            f"/bot{TOKEN}/sendMessage",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        response = await client.get(f"/file/bot{TOKEN}/photos/none.jpg")
        assert response.status_code == 404
        assert (await client.get("/healthz")).status_code == 200


async def test_webhook_over_http_with_secret(
    local_webhook_sandbox: tuple[str, Emulator],
) -> None:
    url, emu = local_webhook_sandbox
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "top_secret":
            return Response(status_code=403)
        received.append(await request.json())
        return Response(status_code=200)

    hook_url, hook_server, hook_task = await serve(
        Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    )
    try:
        async with make_bot(url) as bot:
            await bot.set_webhook(f"{hook_url}/hook", secret_token="wrong")
            user_id = emu.add_user("민지")["id"]
            await emu.send_text(user_id, "/start")
            for _ in range(100):
                info = await bot.get_webhook_info()
                if info.last_error_message:
                    break
                await asyncio.sleep(0.02)
            assert info.last_error_message == "Wrong response from the webhook: 403 Forbidden"
            assert received == []
            await bot.set_webhook(f"{hook_url}/hook", secret_token="top_secret")
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.02)
            assert received[0]["message"]["text"] == "/start"
            # Delivered once the hook's answer reached the sandbox, a moment after the hook
            # saw the update: wait for that, not for the hook.
            for _ in range(250):
                if (await bot.get_webhook_info()).pending_update_count == 0:
                    break
                await asyncio.sleep(0.02)
            assert (await bot.get_webhook_info()).pending_update_count == 0
            await bot.delete_webhook()
    finally:
        hook_server.should_exit = True
        await hook_task


async def test_user_side_api(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api") as client:
        response = await client.post("/users", json={"first_name": "민지", "language_code": "ko"})
        user = response.json()["result"]
        uid = user["id"]
        assert [u["id"] for u in (await client.get("/users")).json()["result"]] == [uid]
        response = await client.post(
            f"/chats/{uid}/messages", json={"user_id": uid, "text": "/start"}
        )
        assert response.json()["result"]["entities"][0]["type"] == "bot_command"
        markup = {"inline_keyboard": [[{"text": "참여", "callback_data": "j:1"}]]}
        status, _ = await emu.bot_call(
            TOKEN, "sendMessage", {"chat_id": uid, "text": "모임", "reply_markup": markup}
        )
        assert status == 200
        view = (await client.get(f"/chats/{uid}/transcript")).json()["result"]
        assert [m["text"] for m in view["messages"]] == ["/start", "모임"]
        message_id = view["messages"][-1]["message_id"]
        response = await client.post(
            f"/chats/{uid}/callback",
            json={"user_id": uid, "message_id": message_id, "callback_data": "nope"},
        )
        assert response.status_code == 400 and response.json()["ok"] is False
        response = await client.post(
            f"/chats/{uid}/callback",
            json={"user_id": uid, "message_id": message_id, "callback_data": "j:1"},
        )
        query_id = response.json()["result"]["id"]
        await emu.bot_call(
            TOKEN, "answerCallbackQuery", {"callback_query_id": query_id, "text": "완료"}
        )
        view = (await client.get(f"/chats/{uid}/transcript")).json()["result"]
        assert view["callback_answers"][-1]["text"] == "완료"
        response = await client.post(
            f"/chats/{uid}/photo",
            data={"user_id": str(uid), "caption": "인증"},
            files={"file": ("p.png", png(), "image/png")},
        )
        photo = response.json()["result"]["photo"]
        image = await client.get(f"/files/{photo[-1]['file_id']}")
        assert image.headers["content-type"] == "image/jpeg"
        response = await client.post(
            f"/chats/{uid}/document",
            data={"user_id": str(uid)},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        assert response.json()["result"]["document"]["mime_type"] == "text/plain"
        response = await client.post(f"/chats/{uid}/contact", json={"user_id": uid})
        assert response.json()["result"]["contact"]["user_id"] == uid
        response = await client.post(
            f"/chats/{uid}/location",
            json={"user_id": uid, "latitude": 37.5096, "longitude": 127.1027},
        )
        assert response.json()["result"]["location"]["latitude"] == 37.5096
        response = await client.post(
            "/groups", json={"title": "모임방", "member_ids": [uid], "admin_ids": [uid]}
        )
        group_id = response.json()["result"]["id"]
        response = await client.post(f"/groups/{group_id}/bot", json={"user_id": uid})
        assert response.json()["result"]["new_chat_members"][0]["is_bot"] is True
        chats = (await client.get(f"/users/{uid}/chats")).json()["result"]
        assert [c["id"] for c in chats] == [uid, group_id]
        assert (await client.post(f"/users/{uid}/block")).json()["result"] is True
        chats = (await client.get(f"/users/{uid}/chats")).json()["result"]
        assert chats[0]["bot_status"] == "kicked"
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and 'id="composer"' in page.text
        assert (await client.get("/webchat/app.js")).status_code == 200


async def test_transcript_long_poll_returns_on_change(sandbox: tuple[str, Emulator]) -> None:
    url, emu = sandbox
    uid = emu.add_user("민지")["id"]
    await emu.send_text(uid, "/start")
    async with httpx.AsyncClient(base_url=f"{url}/sandbox/api") as client:
        version = (await client.get(f"/chats/{uid}/transcript")).json()["result"]["version"]
        waiting = asyncio.create_task(
            client.get(f"/chats/{uid}/transcript", params={"after": version, "timeout": 5})
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await emu.bot_call(TOKEN, "sendMessage", {"chat_id": uid, "text": "새 메시지"})
        view = (await asyncio.wait_for(waiting, 2)).json()["result"]
        assert view["version"] > version and view["messages"][-1]["text"] == "새 메시지"
