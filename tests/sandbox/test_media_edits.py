"""editMessageMedia, and deleteMessage's 48 hours (issue 20: a deleted account's cards).

Bot API, deleteMessage: "A message can only be deleted if it was sent less than 48 hours ago";
Telegram answers an older one with 400 "Bad Request: message can't be deleted", even for an
admin bot (deleteMessages skips it: "If some of the specified messages can't be found or
deleted, they are skipped"). editMessageMedia (Bot API 10.1) gives a message a new photo or
document, uploaded (`attach://<name>`) or by file_id, with the caption the new media carries
(none without one); it may also "replace a text ... with a media". An edit without
`reply_markup` drops the inline keyboard, as every edit does.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.emulator import Emulator, FloodLimits
from tests import photo_corpus as corpus

TOKEN = "123456:TEST-TOKEN"
HOUR = 3600.0
TOO_OLD = (400, "Bad Request: message can't be deleted")
KEYBOARD = {"inline_keyboard": [[{"text": "✅", "callback_data": "ok"}]]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Emulator:
    return Emulator(TOKEN, limits=FloodLimits(enabled=False), clock=clock)


async def call(
    emu: Emulator, method: str, files: dict[str, tuple[str, bytes]] | None = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    return await emu.bot_call(TOKEN, method, params, files)


async def ok(
    emu: Emulator, method: str, files: dict[str, tuple[str, bytes]] | None = None, **params: Any
) -> Any:
    status, body = await call(emu, method, files, **params)
    assert status == 200, body
    return body["result"]


async def admin_group(emu: Emulator) -> int:
    """A supergroup whose admin made the bot an admin too (it may delete any message)."""
    admin = int(emu.add_user("Admin Kim")["id"])
    chat_id = int(emu.create_group("Halsaram admins", [admin], admin_ids=[admin])["id"])
    await emu.add_bot_to_group(admin, chat_id, as_admin=True)
    emu.pending_updates()
    return chat_id


async def card(emu: Emulator, chat_id: int, caption: str = "📸 Photo #1\n👤 Mina") -> int:
    sent = await ok(
        emu, "sendPhoto", {"photo": ("card.jpg", corpus.plain_jpeg(3, (640, 480)))},
        chat_id=chat_id, caption=caption, reply_markup=KEYBOARD,
    )  # fmt: skip
    return int(sent["message_id"])


def current(emu: Emulator, chat_id: int, message_id: int) -> dict[str, Any]:
    [found] = [m for m in emu.transcript(chat_id) if m["message_id"] == message_id]
    return found


# ---------------------------------------------------------------------- deleteMessage


async def test_a_message_can_be_deleted_until_it_is_48_hours_old(
    emu: Emulator, clock: Clock
) -> None:
    chat_id = await admin_group(emu)
    young, old = await card(emu, chat_id), await card(emu, chat_id)
    clock.now += 48 * HOUR - 1
    assert await ok(emu, "deleteMessage", chat_id=chat_id, message_id=young) is True
    clock.now += 1
    status, body = await call(emu, "deleteMessage", chat_id=chat_id, message_id=old)
    assert (status, body["description"]) == TOO_OLD
    assert current(emu, chat_id, old)["caption"].endswith("Mina")  # still there


async def test_an_admin_bot_cannot_delete_an_old_message_of_someone_else(
    emu: Emulator, clock: Clock
) -> None:
    chat_id = await admin_group(emu)
    [admin] = [u for u in emu.chats[chat_id].admins]
    await emu.send_text(admin, "hello", chat_id=chat_id)
    said = emu.transcript(chat_id)[-1]["message_id"]
    clock.now += 49 * HOUR
    status, body = await call(emu, "deleteMessage", chat_id=chat_id, message_id=said)
    assert (status, body["description"]) == TOO_OLD


async def test_delete_messages_skips_the_old_ones(emu: Emulator, clock: Clock) -> None:
    chat_id = await admin_group(emu)
    old = await card(emu, chat_id)
    clock.now += 50 * HOUR
    young = await card(emu, chat_id)
    assert await ok(emu, "deleteMessages", chat_id=chat_id, message_ids=[old, young]) is True
    assert [m["message_id"] for m in emu.transcript(chat_id) if "photo" in m] == [old]


# ---------------------------------------------------------------------- editMessageMedia


async def test_a_photo_is_replaced_by_an_upload_with_its_new_caption(emu: Emulator) -> None:
    chat_id = await admin_group(emu)
    message_id = await card(emu, chat_id)
    before = current(emu, chat_id, message_id)
    media = {"type": "photo", "media": "attach://blank", "caption": "📸 Photo #1\n👤 gone"}
    placeholder = corpus.plain_jpeg(9, (64, 64))
    edited = await ok(
        emu, "editMessageMedia", {"blank": ("blank.jpg", placeholder)},
        chat_id=chat_id, message_id=message_id, media=media,
    )  # fmt: skip
    after = current(emu, chat_id, message_id)
    assert edited["caption"] == after["caption"] == "📸 Photo #1\n👤 gone"
    assert after["photo"][-1]["file_unique_id"] != before["photo"][-1]["file_unique_id"]
    assert after["photo"][-1]["width"] == 64
    assert "reply_markup" not in after and after["edited"] is True
    assert after["edit_history"][0]["caption"].endswith("Mina")
    # The new photo is a file like any other: it can be sent again by id.
    await ok(emu, "sendPhoto", chat_id=chat_id, photo=after["photo"][-1]["file_id"])


async def test_without_a_caption_the_caption_goes_and_a_keyboard_may_stay(
    emu: Emulator,
) -> None:
    chat_id = await admin_group(emu)
    message_id = await card(emu, chat_id)
    other = await card(emu, chat_id, caption="another")
    file_id = current(emu, chat_id, other)["photo"][-1]["file_id"]
    await ok(
        emu, "editMessageMedia", chat_id=chat_id, message_id=message_id,
        media={"type": "photo", "media": file_id}, reply_markup=KEYBOARD,
    )  # fmt: skip
    after = current(emu, chat_id, message_id)
    assert "caption" not in after and after["reply_markup"] == KEYBOARD
    status, body = await call(
        emu, "editMessageMedia", chat_id=chat_id, message_id=message_id,
        media={"type": "photo", "media": file_id}, reply_markup=KEYBOARD,
    )  # fmt: skip
    assert status == 400 and "message is not modified" in body["description"]


async def test_a_text_message_becomes_a_photo_and_a_person_s_message_is_not_editable(
    emu: Emulator,
) -> None:
    chat_id = await admin_group(emu)
    text = await ok(emu, "sendMessage", chat_id=chat_id, text="📸 Photo #2\n👤 Mina")
    await ok(
        emu, "editMessageMedia", {"blank": ("blank.jpg", corpus.plain_jpeg(9, (64, 64)))},
        chat_id=chat_id, message_id=text["message_id"],
        media={"type": "photo", "media": "attach://blank", "caption": "gone"},
    )  # fmt: skip
    after = current(emu, chat_id, text["message_id"])
    assert "text" not in after and after["caption"] == "gone" and after["photo"]
    [admin] = list(emu.chats[chat_id].admins)
    await emu.send_text(admin, "hello", chat_id=chat_id)
    said = emu.transcript(chat_id)[-1]["message_id"]
    status, body = await call(
        emu, "editMessageMedia", {"blank": ("blank.jpg", corpus.plain_jpeg(9, (64, 64)))},
        chat_id=chat_id, message_id=said, media={"type": "photo", "media": "attach://blank"},
    )  # fmt: skip
    assert (status, body["description"]) == (400, "Bad Request: message can't be edited")
    status, body = await call(
        emu, "editMessageMedia", chat_id=chat_id, message_id=said,
        media={"type": "photo", "media": "attach://missing"},
    )  # fmt: skip
    assert status == 400
