"""Scanning a QR in the sandbox (issue 23): `POST /sandbox/api/files/{file_id}/scan` decodes a
stored picture as a phone's camera would (ZXing) and returns the texts it shows; the web chat
then opens a t.me deep link to the bot as Telegram does (`/start <payload>`)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
import qrcode
from PIL import Image

from sandbox.emulator import Emulator, FloodLimits
from sandbox.server import create_app

TOKEN = "123456:TEST-TOKEN"
LINK = "https://t.me/halsaram_bot?start=cAbC-123_xyz"


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[httpx.AsyncClient, Emulator]]:
    emu = Emulator(TOKEN, limits=FloodLimits(enabled=False))
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client, emu


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _scan(client: httpx.AsyncClient, file_id: str) -> httpx.Response:
    return await client.post(f"/sandbox/api/files/{file_id}/scan")


async def test_a_qr_photo_reads_as_its_link_in_every_size(
    sandbox: tuple[httpx.AsyncClient, Emulator],
) -> None:
    client, emu = sandbox
    user_id = int(emu.add_user("민지")["id"])
    # Stored as Telegram stores a photo: re-encoded JPEGs in several sizes.
    message = await emu.send_photo(user_id, _png(qrcode.make(LINK).get_image()))
    for size in message["photo"]:
        answer = await _scan(client, size["file_id"])
        assert answer.json() == {"ok": True, "result": {"texts": [LINK]}}, size


async def test_a_photo_without_a_code_reads_as_nothing(
    sandbox: tuple[httpx.AsyncClient, Emulator],
) -> None:
    client, emu = sandbox
    user_id = int(emu.add_user("민지")["id"])
    message = await emu.send_photo(user_id, _png(Image.new("RGB", (400, 300), (90, 140, 60))))
    answer = await _scan(client, message["photo"][-1]["file_id"])
    assert answer.json() == {"ok": True, "result": {"texts": []}}


async def test_a_file_that_is_no_picture_or_no_file_is_refused(
    sandbox: tuple[httpx.AsyncClient, Emulator],
) -> None:
    client, emu = sandbox
    user_id = int(emu.add_user("민지")["id"])
    message = await emu.send_document(user_id, b"%PDF-1.4 not a picture", "menu.pdf")
    answer = await _scan(client, message["document"]["file_id"])
    assert answer.status_code == 400 and answer.json()["error"] == "that file is not a picture"
    missing = await _scan(client, "no-such-file")
    assert missing.status_code == 404
