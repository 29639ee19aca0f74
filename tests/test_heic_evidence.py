"""Photos as Telegram delivers them (issue 19, point 12): an iPhone original sent as a file is
an `image/heic` document — taken as evidence, its EXIF time and place checked, its hash made,
and shown to the reviewer as a JPEG Telegram can display; a compressed photo (EXIF gone) is
taken too, and its answer tells the person to send the original as a file next time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bot.services import SERVICES_KEY
from storage.files import LocalFileStore
from tests import photo_corpus as corpus
from tests.people import (
    Scene,
    evidence_rows,
    meetup_moment,
    review_card,
    run_checks,
    send_photo,
)
from ui import evidence as evidence_ui
from ui.i18n import t

pytestmark = pytest.mark.usefixtures("seeded")
TIP = "send the original as a file (📎 → File)"


async def _send_file(scene: Scene, data: bytes, name: str, mime: str) -> list[dict[str, object]]:
    bot, guest = scene.bot, scene.guest
    return await bot.act(guest.id, bot.emulator.send_document(guest.id, data, name, mime))


async def test_an_iphone_heic_file_is_checked_and_shown_as_a_jpeg(scene: Scene) -> None:
    bot = scene.bot
    original = corpus.iphone_heic(
        121, size=(1600, 1200), taken=meetup_moment(bot), gps=corpus.SEOKCHON_LAKE
    )
    [reply] = await _send_file(scene, original, "IMG_4031.HEIC", "image/heic")
    text = str(reply["text"])
    assert text.startswith('Got it! Your photo for "Walk once round Seokchon Lake"')
    assert TIP not in text  # it is the original already

    assert await run_checks(bot) == 1
    [row] = await evidence_rows(bot)
    assert row.status == "in_review" and row.as_document and row.phash
    assert row.exif_lat == pytest.approx(corpus.SEOKCHON_LAKE[0], abs=1e-4)
    assert row.exif_taken_at is not None
    checks = {c["check"]: c for c in (row.signals or {})["checks"]}
    assert checks["source"]["reason"] == "original" and checks["source"]["format"] == "HEIF"
    assert checks["time"]["reason"] == "during" and checks["place"]["reason"] == "near"
    assert "format" not in checks  # .HEIC holding HEIF is no renamed file

    # The store keeps a JPEG (EXIF kept), and the card shows it as a photo, not a HEIC file.
    stored_dir = Path(bot.app.bot_data[SERVICES_KEY].settings.data_dir) / "photos"
    assert row.storage_key is not None
    stored = LocalFileStore(stored_dir).path(row.storage_key).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (1600, 1200)
        assert image.getexif().get_ifd(0x8825)  # GPS still there for the record
    card = review_card(bot, scene.group_id)
    assert "photo" in card and "document" not in card
    caption = str(card["caption"])
    assert "Checked on the original file (HEIF)" in caption
    assert "during the meetup" in caption and "m from the meeting point" in caption

    # `/review` in private shows the same JPEG, not the HEIC file.
    answers = await scene.admin.say("/review")
    assert "photo" in answers[1] and "document" not in answers[1]


async def test_a_compressed_photo_is_taken_with_the_tip_to_send_the_original(
    scene: Scene,
) -> None:
    bot = scene.bot
    [reply] = await send_photo(bot, scene.guest, corpus.camera_jpeg(122, taken=meetup_moment(bot)))
    text = str(reply["text"])
    assert text.startswith("Got it!") and TIP in text
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    checks = {c["check"]: c["reason"] for c in (row.signals or {})["checks"]}
    assert checks["source"] == "compressed" and checks["time"] == "no_time"
    caption = str(review_card(bot, scene.group_id)["caption"])
    assert "Checked on a compressed photo: Telegram removed its time and place" in caption


async def test_a_jpeg_original_gets_no_tip(scene: Scene) -> None:
    original = corpus.camera_jpeg(123, taken=meetup_moment(scene.bot))
    [reply] = await _send_file(scene, original, "IMG_0001.JPG", "image/jpeg")
    assert str(reply["text"]).startswith("Got it!") and TIP not in str(reply["text"])
    await run_checks(scene.bot)
    card = review_card(scene.bot, scene.group_id)
    assert "document" in card  # a JPEG original is shown as the file itself
    assert "Checked on the original file (JPEG)" in str(card["caption"])


async def test_the_tip_in_korean() -> None:
    assert "원본을 파일로 보내 주세요(📎 → 파일)" in t("ko", evidence_ui.SEND_ORIGINAL)
