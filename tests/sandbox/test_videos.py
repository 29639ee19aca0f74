"""Round video messages and videos as Telegram delivers them (issue 21): a video note
(sendVideoNote: "rounded square MPEG4 videos of up to 1 minute long") arrives as a VideoNote
whose `length` and `duration` are "as defined by the sender" (Bot API, VideoNote), its bytes
kept for getFile; a video from the gallery as a Video; a file_id is usable only as its own
type ("can't use file of type VideoNote as Video"); getFile refuses over 20 MB."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.emulator import Emulator, FloodLimits
from sandbox.errors import SandboxError
from sandbox.server import create_app
from tests import video_corpus

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def emu() -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False))


async def call(emu: Emulator, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, method, params)


async def ok(emu: Emulator, method: str, **params: Any) -> Any:
    status, body = await call(emu, method, **params)
    assert status == 200, body
    return body["result"]


async def test_a_video_note_arrives_with_its_bytes_length_and_duration(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    clip = video_corpus.video_note(1, seconds=3, diameter=240)
    message = await emu.send_video_note(user_id, clip)
    note = message["video_note"]
    assert (note["length"], note["duration"], note["file_size"]) == (240, 3, len(clip))
    assert "caption" not in message
    [update] = emu.pending_updates()
    assert update["message"]["video_note"]["file_id"] == note["file_id"]
    info = await ok(emu, "getFile", file_id=note["file_id"])
    assert emu.file_bytes(info["file_path"]) == clip


async def test_the_sender_states_the_length_a_modified_client_may_lie(emu: Emulator) -> None:
    """Telegram's apps record at most a minute; the message carries what the sender states."""
    user_id = int(emu.add_user("민지")["id"])
    message = await emu.send_video_note(user_id, video_corpus.video_note(2), duration=95)
    assert message["video_note"]["duration"] == 95


async def test_bytes_that_are_no_video_are_not_sent(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    with pytest.raises(SandboxError):
        await emu.send_video_note(user_id, b"not a video at all")
    with pytest.raises(SandboxError):
        await emu.send_video(user_id, b"not a video at all")


async def test_a_gallery_video_arrives_as_a_video(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    clip = video_corpus.clip(3, size=(320, 180), seconds=2)
    message = await emu.send_video(user_id, clip, "trip.mp4", caption="호수")
    video = message["video"]
    assert (video["width"], video["height"], video["duration"]) == (320, 180, 2)
    assert video["mime_type"] == "video/mp4" and message["caption"] == "호수"


async def test_file_ids_are_reused_only_as_their_own_type(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    note = (await emu.send_video_note(user_id, video_corpus.video_note(4)))["video_note"]
    video = (await emu.send_video(user_id, video_corpus.clip(5)))["video"]
    sent = await ok(emu, "sendVideoNote", chat_id=user_id, video_note=note["file_id"])
    assert sent["video_note"]["file_unique_id"] == note["file_unique_id"]
    card = await ok(emu, "sendVideo", chat_id=user_id, video=video["file_id"], caption="카드")
    assert card["video"]["file_id"] == video["file_id"] and card["caption"] == "카드"
    status, body = await call(emu, "sendVideo", chat_id=user_id, video=note["file_id"])
    assert status == 400 and "can't use file of type VideoNote as Video" in body["description"]
    status, body = await call(emu, "sendPhoto", chat_id=user_id, photo=video["file_id"])
    assert status == 400 and "can't use file of type Video as Photo" in body["description"]
    # A video's caption is edited like a photo's (a decided review card).
    edited = await ok(
        emu, "editMessageCaption", chat_id=user_id, message_id=card["message_id"], caption="결정"
    )
    assert edited["caption"] == "결정"


async def test_get_file_refuses_a_video_note_over_20_mb(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    clip = video_corpus.video_note(6)
    # A valid MP4 with a `free` box of padding after it: 21 MB in all.
    pad = 21 * 1024 * 1024
    big = clip + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
    note = (await emu.send_video_note(user_id, big))["video_note"]
    assert note["file_size"] > 20 * 1024 * 1024
    status, body = await call(emu, "getFile", file_id=note["file_id"])
    assert status == 400 and body["description"] == "Bad Request: file is too big"


async def test_people_send_both_over_http(emu: Emulator) -> None:
    user_id = int(emu.add_user("민지")["id"])
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.post(
            f"/sandbox/api/chats/{user_id}/video_note",
            data={"user_id": str(user_id), "duration": "75"},
            files={"file": ("note.mp4", video_corpus.video_note(7), "video/mp4")},
        )
        body = response.json()
        assert body["ok"], body
        assert body["result"]["video_note"]["duration"] == 75
        response = await client.post(
            f"/sandbox/api/chats/{user_id}/video",
            data={"user_id": str(user_id)},
            files={"file": ("clip.mp4", video_corpus.clip(8), "video/mp4")},
        )
        assert response.json()["result"]["video"]["duration"] == 2
        file_id = body["result"]["video_note"]["file_id"]
        served = await client.get(f"/sandbox/api/files/{file_id}")
        assert served.headers["content-type"] == "video/mp4"
