"""Photos as Telegram delivers them (issue 19, point 12): a compressed photo comes in sizes up
to 2560 px on its longest side (Telegram's largest "w" size; Telethon PR #4024), aspect ratio
kept and EXIF gone; an iPhone original sent as a file is a document with mime type
`image/heic`, its bytes (and EXIF) kept (Telegram-iOS #510, hermes-agent #119593)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from sandbox.emulator import Emulator, FloodLimits
from sandbox.server import create_app
from tests import photo_corpus as corpus

TOKEN = "123456:TEST-TOKEN"
OCTETS = "application/octet-stream"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def ok(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await emu.bot_call(TOKEN, method, params)
    assert status == 200, body
    return body["result"]


def _downloaded(emu: Emulator, path: str) -> bytes:
    data = emu.file_bytes(path)
    assert data is not None
    return data


async def test_a_big_photo_is_downscaled_to_2560_keeping_its_shape(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    big = corpus.camera_jpeg(5, size=(4000, 3000), taken=datetime(2026, 5, 1, 10, 0))
    message = await emu.send_photo(user_id, big)
    sides = [(p["width"], p["height"]) for p in message["photo"]]
    assert sides == [(90, 68), (320, 240), (800, 600), (1280, 960), (2560, 1920)]
    largest = message["photo"][-1]
    info = await ok(emu, "getFile", file_id=largest["file_id"])
    with Image.open(io.BytesIO(_downloaded(emu, info["file_path"]))) as image:
        assert image.format == "JPEG" and image.size == (2560, 1920)
        assert "exif" not in image.info and len(image.getexif()) == 0


async def test_a_photo_between_1280_and_2560_keeps_its_size(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    message = await emu.send_photo(user_id, corpus.plain_jpeg(6, size=(1800, 1200)))
    assert [max(p["width"], p["height"]) for p in message["photo"]] == [90, 320, 800, 1280, 1800]


async def test_an_iphone_heic_file_arrives_as_an_image_heic_document(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    original = corpus.iphone_heic(7, taken=datetime(2026, 5, 1, 10, 0), gps=corpus.SEOKCHON_LAKE)
    # The client names the type; without it the file name says HEIC, as iOS's does.
    for mime in ("image/heic", None):
        message = await emu.send_document(user_id, original, "IMG_4031.HEIC", mime)
        document = message["document"]
        assert document["mime_type"] == "image/heic" and document["file_name"] == "IMG_4031.HEIC"
        info = await ok(emu, "getFile", file_id=document["file_id"])
        assert info["file_path"].endswith(".heic")
        assert _downloaded(emu, info["file_path"]) == original  # EXIF and all
    heif = await emu.send_document(user_id, original, "photo.heif")
    assert heif["document"]["mime_type"] == "image/heif"
    [update, *_] = emu.pending_updates()
    assert update["message"]["document"]["mime_type"] == "image/heic"


async def test_a_heic_picked_as_a_photo_is_converted_by_the_client(emu: Emulator) -> None:
    """Telegram's apps turn a HEIC from the gallery into a JPEG before sending it as a photo."""
    user_id = int(emu.add_user("민지")["id"])
    original = corpus.iphone_heic(8, size=(3000, 4000), taken=datetime(2026, 5, 1, 10, 0))
    message = await emu.send_photo(user_id, original)
    largest = message["photo"][-1]
    assert (largest["width"], largest["height"]) == (1920, 2560)
    info = await ok(emu, "getFile", file_id=largest["file_id"])
    with Image.open(io.BytesIO(_downloaded(emu, info["file_path"]))) as image:
        assert image.format == "JPEG" and len(image.getexif()) == 0


async def test_a_bot_cannot_upload_heic_as_a_photo(emu: Emulator) -> None:
    """sendPhoto takes JPEG, PNG, GIF and WebP; a HEIF upload is refused (it goes as a
    document), whatever this process's Pillow can open."""
    user_id = int(emu.add_user("민지")["id"])
    await emu.send_text(user_id, "/start")  # a bot writes to people who wrote first
    status, body = await emu.bot_call(
        TOKEN, "sendPhoto", {"chat_id": user_id}, {"photo": ("a.heic", corpus.iphone_heic(9))}
    )
    assert (status, body["description"]) == (400, "Bad Request: IMAGE_PROCESS_FAILED")


async def test_people_send_heic_files_over_the_user_api(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    original = corpus.iphone_heic(10)
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        chat = f"/sandbox/api/chats/{user_id}"
        # A browser may call a .heic "application/octet-stream": the client names it by its
        # extension, as Telegram's desktop apps do.
        for name, mime in (("IMG_0001.HEIC", "image/heic"), ("IMG_0002.heic", OCTETS)):
            files = {"file": (name, original, mime)}
            sent = await http.post(f"{chat}/document", data={"user_id": str(user_id)}, files=files)
            document = sent.json()["result"]["document"]
            assert document["mime_type"] == "image/heic", document
            served = await http.get(f"/sandbox/api/files/{document['file_id']}")
            assert served.content == original
            assert served.headers["content-type"] == "image/heic"
        big = corpus.plain_jpeg(11, size=(4000, 3000))
        sent = await http.post(
            f"{chat}/photo", data={"user_id": str(user_id)},
            files={"file": ("big.jpg", big, "image/jpeg")},
        )  # fmt: skip
        assert max(p["width"] for p in sent.json()["result"]["photo"]) == 2560
