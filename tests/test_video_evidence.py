"""Videos as proof (issue 21, "Live capture"): a round video message (`video_note`, recorded
live in Telegram's camera) goes through the checks — one frame of it hashed into the
duplicate index, stored and shown on the review card marked "live video" — to a reviewer's
approval and the points; one that says it is over a minute or over 20 MB is refused politely;
an ordinary video (from the gallery, or as a file) is taken as a file to watch, with no live
mark. On SQLite and PostgreSQL (the `scene` fixture)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from telegram import Update

from bot.services import SERVICES_KEY
from storage import meetings
from storage.db import transaction
from storage.files import LocalFileStore
from tests import video_corpus
from tests.people import (
    RULES,
    Neighbour,
    Scene,
    action_data,
    assert_money_is_sound,
    balance_of,
    evidence_rows,
    new_meetup,
    run_checks,
)
from ui import video_evidence as video_ui
from ui.callbacks import Action
from ui.i18n import t
from verification import video

pytestmark = pytest.mark.usefixtures("seeded")
LIVE = "🎥 Live video: a round video message recorded in Telegram's camera"
FILE = "🎞 Video file: not necessarily recorded at the meetup"
SEOUL = ZoneInfo("Asia/Seoul")


async def _send_note(
    scene: Scene, data: bytes, person: Neighbour | None = None, **stated: int
) -> list[dict[str, object]]:
    bot, who = scene.bot, person or scene.guest
    return await bot.act(who.id, bot.emulator.send_video_note(who.id, data, **stated))


async def _another_meetup_guest(scene: Scene) -> Neighbour:
    """Jisoo, checked in to another meetup of the same host that is now under way."""
    bot = scene.bot
    other = await Neighbour(bot, "Jisoo", lang="en").register()
    meeting_id = await new_meetup(bot, scene.host, hours=1, key="olympic-park-lone-tree")
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, other.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=50))
    async with transaction(bot.sessions) as s:
        await meetings.check_in(s, meeting_id, other.id, RULES, bot.clock.now())
    bot.clock.advance(timedelta(minutes=15))
    return other


def _card(scene: Scene) -> dict[str, Any]:
    """The newest review card in the admin group (a photo, a document or a video)."""
    found = [
        m
        for m in scene.bot.bot_messages(scene.group_id)
        if any(k in m for k in ("photo", "document", "video"))
    ]
    return found[-1]


def _checks(row: object) -> dict[str, dict[str, object]]:
    return {c["check"]: c for c in (getattr(row, "signals", None) or {})["checks"]}


async def test_a_video_note_is_live_proof_from_check_to_points(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    note = video_corpus.video_note(301, seconds=3)
    [reply] = await _send_note(scene, note)
    assert str(reply["text"]).startswith(
        'Got it! Your live video for "Walk once round Seokchon Lake" is being checked'
    )
    [row] = await evidence_rows(bot)
    assert row.media_kind == "video_note" and row.status == "received" and not row.as_document

    assert await run_checks(bot) == 1
    [row] = await evidence_rows(bot)
    assert row.status == "in_review" and row.phash and row.storage_key
    checks = _checks(row)
    assert checks["source"]["reason"] == "live_video" and checks["source"]["seconds"] == 3
    assert checks["time"]["reason"] == "sent_during"
    assert checks["duplicate"]["reason"] == "unique"
    assert "place" not in checks and "shape" not in checks and "length" not in checks
    assert (row.signals or {})["recommendation"] == "approve"
    # The store keeps one frame of it, a square JPEG, for the card and the record.
    stored_dir = Path(bot.app.bot_data[SERVICES_KEY].settings.data_dir) / "photos"
    frame = LocalFileStore(stored_dir).path(row.storage_key).read_bytes()
    with Image.open(io.BytesIO(frame)) as image:
        assert image.format == "JPEG" and image.size == (240, 240)

    card = _card(scene)
    assert "photo" in card  # the frame: a round video takes no caption
    caption = str(card["caption"])
    assert caption.startswith(LIVE)
    assert "Round video message recorded live in Telegram (3 s)" in caption
    assert "Recorded and sent" in caption and "during the meetup" in caption
    assert "🎥 Video #" in caption and "Photo #" not in caption and "🙋 Checked in" in caption

    await bot.press(scene.admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    card = _card(scene)
    assert "✅ Approved by Admin Kim" in str(card["caption"]) and str(card["caption"]).startswith(
        LIVE
    )
    assert await balance_of(bot, guest.id) == scene.points
    await assert_money_is_sound(bot.sessions)
    await bot.run_outbox()
    assert "was approved" in bot.bot_messages(guest.id)[-1]["text"]


async def test_the_same_video_note_again_is_caught_by_the_duplicate_index(
    scene: Scene,
) -> None:
    """The frame's perceptual hash goes into the index, as a photo's does: another person's
    round video with the same picture, for another meetup, is flagged on the card (0 bits
    apart) while the first still waits for its review."""
    bot = scene.bot
    note = video_corpus.video_note(302)
    await _send_note(scene, note)
    await run_checks(bot)
    other = await _another_meetup_guest(scene)
    await _send_note(scene, note, other)
    await run_checks(bot)
    first, second = await evidence_rows(bot)
    assert first.phash == second.phash
    duplicate = _checks(second)["duplicate"]
    assert duplicate["reason"] == "near_duplicate" and duplicate["of"] == first.id
    assert duplicate["distance"] == 0 and duplicate["same_person"] is False


async def test_a_video_note_stating_over_a_minute_is_refused_politely(scene: Scene) -> None:
    """Telegram's apps stop at a minute; a modified client may state more: refused, as the
    message says it, before anything is downloaded or recorded."""
    [reply] = await _send_note(scene, video_corpus.video_note(303), duration=75)
    assert reply["text"] == t("en", video_ui.TOO_LONG)
    assert await evidence_rows(scene.bot) == []
    assert not scene.bot.calls("getFile")


async def test_a_video_note_over_20_mb_is_refused_politely(scene: Scene) -> None:
    note = video_corpus.video_note(304)
    pad = 21 * 1024 * 1024  # a `free` box: still a valid MP4, 21 MB in all
    big = note + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
    [reply] = await _send_note(scene, big)
    assert reply["text"] == t("en", video_ui.TOO_BIG)
    assert await evidence_rows(scene.bot) == []


async def test_a_round_video_longer_than_it_says_or_not_square_is_flagged(
    scene: Scene,
) -> None:
    """What the message states is the sender's word; the checks read the file: a 70-second
    clip stating 30 seconds, and a landscape one sent as a round video, are each a warning
    for the reviewer (a modified client: Telegram's camera makes neither)."""
    bot = scene.bot
    long_clip = video_corpus.clip(305, seconds=70, fps=2)
    await _send_note(scene, long_clip, duration=30)
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    length = _checks(row)["length"]
    assert length["reason"] == "too_long" and length["seconds"] == 70
    assert (row.signals or {})["recommendation"] == "look_closely"
    assert "70 s long, over the 60 s a video may last" in str(_card(scene)["caption"])

    other = await _another_meetup_guest(scene)
    await _send_note(scene, video_corpus.clip(306, size=(320, 180)), other)
    await run_checks(bot)
    shape = _checks((await evidence_rows(bot))[-1])["shape"]
    assert shape["reason"] == "not_round" and (shape["width"], shape["height"]) == (320, 180)


async def test_an_ordinary_video_is_a_file_to_watch_without_the_live_mark(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    recorded = bot.clock.now() - timedelta(minutes=2)
    clip = video_corpus.clip(307, size=(320, 180), seconds=2, recorded=recorded)
    [reply] = await bot.act(guest.id, bot.emulator.send_video(guest.id, clip, "lake.mp4"))
    text = str(reply["text"])
    assert text.startswith('Got it! Your video for "Walk once round Seokchon Lake"')
    assert t("en", video_ui.LIVE_TIP) in text  # how to send live proof next time
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    assert row.media_kind == "video" and row.status == "in_review" and row.phash
    checks = _checks(row)
    assert checks["source"]["reason"] == "video_file"
    assert checks["time"]["reason"] == "during"  # the time the file states
    card = _card(scene)
    assert "video" in card and card["video"]["file_id"] == row.file_id  # watchable on the card
    caption = str(card["caption"])
    assert caption.startswith(FILE) and LIVE not in caption
    assert "A video file (2 s): it may have been recorded earlier" in caption
    await bot.press(scene.admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    assert await balance_of(bot, guest.id) == scene.points


async def test_a_video_sent_as_a_file_is_taken_as_the_file(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    clip = video_corpus.clip(308, seconds=2)
    [reply] = await bot.act(
        guest.id, bot.emulator.send_document(guest.id, clip, "VID_0001.mp4", "video/mp4")
    )
    assert str(reply["text"]).startswith('Got it! Your video for "Walk once round Seokchon Lake"')
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    assert row.media_kind == "video" and row.as_document
    assert _checks(row)["time"]["reason"] == "no_video_time"  # the clip states no time
    card = _card(scene)
    assert card["document"]["file_id"] == row.file_id
    assert "The file states no recording time" in str(card["caption"])
    assert str(card["caption"]).startswith(FILE)


async def test_videos_in_an_album_get_one_answer(scene: Scene) -> None:
    """An album of videos is answered once, asking for one piece of proof."""
    bot, guest = scene.bot, scene.guest
    for seed in (309, 310):
        message = await bot.emulator.send_video(guest.id, video_corpus.clip(seed))
        bot.emulator.chats[guest.id].messages[message["message_id"]].message["media_group_id"] = (
            "album-1"
        )
    for update in bot.emulator.pending_updates():
        update["message"]["media_group_id"] = "album-1"
        await bot.app.process_update(Update.de_json(update, bot.app.bot))
    albums = [m for m in bot.bot_messages(guest.id) if "not an album" in m.get("text", "")]
    assert len(albums) == 1
    assert await evidence_rows(bot) == []


def test_the_live_mark_and_refusals_in_korean() -> None:
    assert "실시간 영상" in t("ko", video_ui.MARKS[video_ui.VIDEO_NOTE])
    assert "1분" in t("ko", video_ui.TOO_LONG) and "20MB" in t("ko", video_ui.TOO_BIG)
    for template in video_ui.CHECKS.values():
        assert t("ko", template) != template  # every check line is translated


# --------------------------------------------------------------------------- the reader


def test_inspect_reads_length_size_and_a_frame() -> None:
    recorded = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    report = video.inspect(video_corpus.clip(311, size=(320, 240), seconds=3, recorded=recorded))
    assert report.error is None and report.seconds == pytest.approx(3.0)
    assert (report.width, report.height, report.square) == (320, 240, False)
    assert report.recorded_at == recorded
    assert report.frame is not None
    with Image.open(io.BytesIO(report.frame)) as image:
        assert image.format == "JPEG" and image.size == (320, 240)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a video", video_corpus.clip(312)[:300], b"\x00\x00\x00\x18ftypmp42" * 50],
    ids=["empty", "text", "truncated", "only-headers"],
)
def test_inspect_gives_a_reason_for_broken_bytes(data: bytes) -> None:
    report = video.inspect(data)
    assert report.frame is None and report.error
    [signal] = video.signals(
        report, live=True, sent_at=None, starts_at=datetime.now(UTC),
        ends_at=datetime.now(UTC), zone=SEOUL,
    )  # fmt: skip
    assert (signal.result, signal.reason) == ("warn", "unreadable_video")


def test_inspect_refuses_a_huge_picture_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_PIXELS", 200 * 200)
    report = video.inspect(video_corpus.video_note(313, diameter=240))
    assert report.frame is None and report.error == "240×240 is too large"


def test_stated_limits() -> None:
    assert video.too_long(61) and not video.too_long(60) and not video.too_long(None)
    assert video.too_big(20 * 1024 * 1024 + 1) and not video.too_big(20 * 1024 * 1024)
