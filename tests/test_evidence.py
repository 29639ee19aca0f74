"""Steps 5 and 6: a checked-in participant sends a photo, the verification job checks it and
posts a card to the admin group, the first admin's press decides, approval pays once through
the ledger and the sender is told; rejection asks for a new photo within a number of tries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram import Update

from bot.services import SERVICES_KEY
from scheduler.evidence import CHECKER_KEY, check_once, checker_for
from storage import evidence, meetings
from storage.db import transaction
from storage.files import LocalFileStore, S3Config, S3FileStore
from storage.models import LedgerEntry, Review
from tests import photo_corpus as corpus
from tests.harness import BotHarness, buttons
from tests.people import (
    Neighbour,
    Scene,
    action_data,
    balance_of,
    bystander_with_a_card,
    check_in_guest,
    configure,
    evidence_rows,
    evidence_scene,
    meetup_moment,
    new_admin,
    new_meetup,
    review_card,
    run_checks,
    send_photo,
    told_after_press,
)
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")


# --------------------------------------------------------------------------- the happy path


async def test_photo_job_card_approve_points_and_message(scene: Scene) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    # The original as a document keeps EXIF: taken at the lake, during the meetup.
    original = corpus.camera_jpeg(
        21, orientation=6, taken=meetup_moment(bot), gps=corpus.SEOKCHON_LAKE
    )
    [reply] = await bot.act(
        guest.id, bot.emulator.send_document(guest.id, original, "IMG_2041.JPG", "image/jpeg")
    )
    assert reply["text"].startswith('Got it! Your photo for "Walk once round Seokchon Lake"')
    [row] = await evidence_rows(bot)
    assert row.status == "received" and row.as_document and row.attempt == 1
    assert not bot.calls("getFile")  # the handler downloads nothing

    assert await run_checks(bot) == 1
    [row] = await evidence_rows(bot)
    assert row.status == "in_review" and row.phash and row.storage_key
    assert row.exif_lat == pytest.approx(corpus.SEOKCHON_LAKE[0], abs=1e-4)
    checks = {c["check"]: c["reason"] for c in (row.signals or {})["checks"]}
    assert checks == {
        "source": "original", "time": "during", "place": "near", "duplicate": "unique"
    }  # fmt: skip
    assert (row.signals or {})["recommendation"] == "approve"
    stored = Path(bot.app.bot_data[SERVICES_KEY].settings.data_dir) / "photos"
    assert LocalFileStore(stored).path(row.storage_key).read_bytes() == original

    card = review_card(bot, scene.group_id)
    assert card["document"]["file_id"] == row.file_id
    caption = card["caption"]
    assert "Mina" in caption and "trust 50" in caption and "📍 Seokchon Lake" in caption
    assert "during the meetup" in caption and "m from the meeting point" in caption
    assert [label for label, _ in buttons(card)] == ["✅ Approve", "❌ Reject", "🔁 Ask again"]

    await bot.press(admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    # Answered at once, before the decision; the redrawn card says what was decided.
    assert not bot.calls("answerCallbackQuery")[-1].params.get("text")
    card = review_card(bot, scene.group_id)
    assert "✅ Approved by Admin Kim" in card["caption"] and not buttons(card)
    assert await balance_of(bot, guest.id) == scene.points
    await bot.run_outbox()
    told = bot.bot_messages(guest.id)[-1]["text"]
    assert told.startswith('Your photo for "Walk once round Seokchon Lake" was approved')
    assert f"+{scene.points} points" in told

    # Another photo for the same meetup: already approved, nothing is waiting.
    [again] = await send_photo(bot, guest, corpus.plain_jpeg(22))
    assert "No mission is waiting for a photo or video" in again["text"]


async def test_reject_then_ask_again_then_approve(scene: Scene) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    await send_photo(bot, guest, corpus.plain_jpeg(31))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_REJECT))
    card = review_card(bot, scene.group_id)
    labels = [label for label, _ in buttons(card)]
    assert labels == ["Blurry", "Wrong place", "Not the mission", "Duplicate", "Other", "← Back"]
    await bot.press(
        admin.user, card, callbacks.encode(Action.REVIEW_REASON, card_id(card), "blurry")
    )
    card = review_card(bot, scene.group_id)
    assert "❌ Rejected by Admin Kim: Blurry" in card["caption"] and not buttons(card)
    await bot.run_outbox()
    told = bot.bot_messages(guest.id)[-1]["text"]
    assert "was not accepted: the photo is blurry" in told and "(2 tries left)" in told

    [reply] = await send_photo(bot, guest, corpus.plain_jpeg(32))
    assert reply["text"].startswith("Got it!")
    await run_checks(bot)
    second = review_card(bot, scene.group_id)
    assert "try 2/3" in second["caption"]
    await bot.press(admin.user, second, action_data(second, Action.REVIEW_AGAIN))
    assert "🔁 Admin Kim asked for a new photo" in review_card(bot, scene.group_id)["caption"]
    await bot.run_outbox()
    assert "asks for another photo" in bot.bot_messages(guest.id)[-1]["text"]

    await send_photo(bot, guest, corpus.plain_jpeg(33))
    await run_checks(bot)
    third = review_card(bot, scene.group_id)
    assert "try 3/3" in third["caption"]
    assert [label for label, _ in buttons(third)] == ["✅ Approve", "❌ Reject"]  # last try
    await bot.press(admin.user, third, action_data(third, Action.REVIEW_APPROVE))
    assert [e.status for e in await evidence_rows(bot)] == ["rejected", "retry", "approved"]
    assert await balance_of(bot, guest.id) == scene.points
    async with bot.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Review)) == 3


def card_id(card: dict[str, Any]) -> int:
    """The evidence id a card is about (from its Approve/Reject buttons or the caption)."""
    for _, data in buttons(card):
        return callbacks.decode(data).int_arg(0)
    raise AssertionError("no buttons")


async def test_two_admins_pressing_at_once_give_one_decision_and_one_payment(
    scene: Scene,
) -> None:
    bot, guest, first = scene.bot, scene.guest, scene.admin
    second = await new_admin(bot, "Admin Lee")
    bot.emulator.add_member(scene.group_id, second.id, admin=True)
    await bot.deliver()
    await send_photo(bot, guest, corpus.plain_jpeg(41))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    approve = action_data(card, Action.REVIEW_APPROVE)
    reject = callbacks.encode(Action.REVIEW_REASON, card_id(card), "other")
    await bot.emulator.press_button(first.id, scene.group_id, card["message_id"], approve)
    await bot.emulator.press_button(
        second.id, scene.group_id, card["message_id"], reject, force=True
    )
    updates = [Update.de_json(u, bot.app.bot) for u in bot.emulator.pending_updates()]
    presses = [u for u in updates if u.callback_query is not None]
    assert len(presses) == 2
    await asyncio.gather(*(bot.app.process_update(u) for u in presses))

    [row] = await evidence_rows(bot)
    async with bot.sessions() as s:
        reviews = list(await s.scalars(select(Review)))
        entries = list(await s.scalars(select(LedgerEntry)))
    assert len(reviews) == 1 and row.status == reviews[0].decision
    paid = scene.points if row.status == "approved" else 0
    assert sum(e.amount for e in entries) == paid == await balance_of(bot, guest.id)
    # Both presses were answered at once; the later one is told in the group.
    told = [m.get("text", "") for m in bot.bot_messages(scene.group_id)]
    assert any("already decided" in text for text in told)
    await bot.run_outbox()
    outcomes = [
        m
        for m in bot.bot_messages(guest.id)
        if "was approved" in m.get("text", "") or "was not accepted" in m.get("text", "")
    ]
    assert len(outcomes) == 1


async def test_a_non_admin_press_changes_nothing(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    bystander = await bystander_with_a_card(scene, 51)
    card = review_card(bot, scene.group_id)
    for action in (Action.REVIEW_APPROVE, Action.REVIEW_REJECT, Action.REVIEW_AGAIN):
        await bot.press(bystander.user, card, action_data(card, action))
        assert "Only admins can review photos" in told_after_press(bot)
    # A forged reject with a reason, too.
    await bystander.press_data(card, callbacks.encode(Action.REVIEW_REASON, card_id(card), "other"))
    assert "Only admins" in told_after_press(bot)
    [row] = await evidence_rows(bot)
    assert row.status == "in_review" and await balance_of(bot, guest.id) == 0
    assert buttons(review_card(bot, scene.group_id))  # the card still has its buttons


async def test_review_command_shows_waiting_photos_to_admins_only(scene: Scene) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    [reply] = await guest.say("/review")
    assert reply["text"] == "Sorry, this command is for admins."
    [none] = await admin.say("/review")
    assert none["text"] == "No photos are waiting for review. 🎉"
    await send_photo(bot, guest, corpus.plain_jpeg(61))
    await run_checks(bot)
    answers = await admin.say("/review")
    assert answers[0]["text"] == "1 photo is waiting:"
    private_card = answers[1]
    assert "photo" in private_card and "Mina" in private_card["caption"]
    await bot.press(admin.user, private_card, action_data(private_card, Action.REVIEW_APPROVE))
    # Both the private card and the group's card now say who decided.
    assert "Approved by Admin Kim" in review_card(bot, admin.id)["caption"]
    assert "Approved by Admin Kim" in review_card(bot, scene.group_id)["caption"]
    assert await balance_of(bot, guest.id) == scene.points


# --------------------------------------------------------------------------- intake


async def test_photos_that_cannot_count_each_get_a_clear_answer(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    stranger = await Neighbour(bot, "Stranger", lang="en").register()
    [reply] = await send_photo(bot, stranger, corpus.plain_jpeg(71))
    assert "No mission is waiting for a photo or video from you" in reply["text"]

    text_file = b"just some notes"
    [reply] = await bot.act(
        guest.id, bot.emulator.send_document(guest.id, text_file, "notes.txt", "text/plain")
    )
    assert reply["text"].startswith("That file is not an image")

    huge = b"\xff\xd8\xff" + b"\x00" * (21 * 1024 * 1024)
    [reply] = await bot.act(
        guest.id, bot.emulator.send_document(guest.id, huge, "big.jpg", "image/jpeg")
    )
    assert "over 20 MB" in reply["text"]

    raw = b"IIRO\x08\x00\x00\x00"  # a camera's RAW file (an iPhone's HEIC is taken)
    [reply] = await bot.act(
        guest.id, bot.emulator.send_document(guest.id, raw, "IMG.ORF", "image/x-olympus-orf")
    )
    assert "can't read this image format" in reply["text"]

    # An album: several messages with one media_group_id get one answer.
    for seed in (72, 73, 74):
        message = await bot.emulator.send_photo(guest.id, corpus.plain_jpeg(seed))
        bot.emulator.chats[guest.id].messages[message["message_id"]].message["media_group_id"] = (
            "album-1"
        )
    pending = bot.emulator.pending_updates()
    for update in pending:
        update["message"]["media_group_id"] = "album-1"
        await bot.app.process_update(Update.de_json(update, bot.app.bot))
    albums = [m for m in bot.bot_messages(guest.id) if "not an album" in m.get("text", "")]
    assert len(albums) == 1
    assert await evidence_rows(bot) == []


async def test_two_pending_meetups_ask_which_one(scene: Scene) -> None:
    bot, guest, host = scene.bot, scene.guest, scene.host
    other = await new_meetup(bot, host, hours=1, key="olympic-park-lone-tree")
    bot.clock.advance(timedelta(minutes=50))
    await check_in_guest(bot, guest, other)
    bot.clock.advance(timedelta(minutes=15))
    [question] = await send_photo(bot, guest, corpus.plain_jpeg(81))
    assert question["text"] == "Which meetup is this photo for?"
    assert len(buttons(question)) == 2
    await bot.press(guest.user, question, callbacks.encode(Action.EVIDENCE_MEETUP, other))
    assert bot.bot_messages(guest.id)[-1]["text"].startswith("Got it!")
    [row] = await evidence_rows(bot)
    assert row.meeting_id == other and row.status == "received"
    # The other meetup still waits for its photo: no question this time.
    [reply] = await send_photo(bot, guest, corpus.plain_jpeg(82))
    assert reply["text"].startswith("Got it!")
    assert {e.meeting_id for e in await evidence_rows(bot)} == {other, scene.meeting_id}


async def test_a_second_photo_while_the_first_is_checked_waits(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    await send_photo(bot, guest, corpus.plain_jpeg(91))
    [reply] = await send_photo(bot, guest, corpus.plain_jpeg(92))
    assert "already being checked" in reply["text"]
    assert len(await evidence_rows(bot)) == 1


async def test_a_copy_of_someone_elses_photo_is_flagged_not_rejected(scene: Scene) -> None:
    bot, guest, host = scene.bot, scene.guest, scene.host
    await _checked_in_host(bot, host, scene.meeting_id)
    picture = corpus.camera_jpeg(95)
    await send_photo(bot, guest, picture)
    await run_checks(bot)
    await send_photo(bot, host, picture)
    await run_checks(bot)
    first, copy = await evidence_rows(bot)
    checks = {c["check"]: c for c in (copy.signals or {})["checks"]}
    assert checks["duplicate"]["reason"] == "near_duplicate"
    assert checks["duplicate"]["of"] == first.id and not checks["duplicate"]["same_person"]
    assert copy.status == "in_review" and "duplicate" in copy.flags
    assert f"Looks like photo #{first.id}" in review_card(bot, scene.group_id)["caption"]


async def _checked_in_host(bot: BotHarness, host: Neighbour, meeting_id: int) -> None:
    async with transaction(bot.sessions) as s:
        part = await meetings.participation(s, meeting_id, host.id)
        assert part is not None
        part.checked_in_at = bot.clock.now()


async def test_a_broken_file_reaches_the_reviewer_with_a_reason(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    await bot.act(
        guest.id,
        bot.emulator.send_document(guest.id, corpus.truncated_jpeg(), "cut.jpg", "image/jpeg"),
    )
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    assert row.status == "in_review" and row.phash is None
    assert (
        "Could not read the image: truncated image" in review_card(bot, scene.group_id)["caption"]
    )


async def test_photos_are_stored_in_s3_when_a_bucket_is_set(
    scene: Scene,
    moto_s3: S3Config,
) -> None:
    bot, guest = scene.bot, scene.guest
    await configure(
        bot, s3_bucket=moto_s3.bucket, s3_endpoint_url=moto_s3.endpoint_url,
        s3_region=moto_s3.region, s3_access_key_id="test", s3_secret_access_key=SecretStr("test"),
    )  # fmt: skip
    await send_photo(bot, guest, corpus.plain_jpeg(99))
    await run_checks(bot)
    [row] = await evidence_rows(bot)
    assert row.storage_key is not None
    store = bot.app.bot_data[CHECKER_KEY].store
    assert isinstance(store, S3FileStore)
    stored = await S3FileStore(moto_s3).get(row.storage_key)
    assert stored == bot.emulator.file_by_id(row.file_id).data  # type: ignore[union-attr]


async def test_a_review_card_queued_before_a_crash_is_still_posted(
    bot: BotHarness, tmp_path: Path
) -> None:
    """The verification job queues the card in the transaction that puts the photo in review
    (the outbox sends it): a process killed before the send loses no card, and the card the
    next process sends decides the photo."""
    scene = await evidence_scene(bot, tmp_path)
    await send_photo(bot, scene.guest, corpus.plain_jpeg(31))
    assert await _check_without_sending(bot) == 1
    assert _cards(bot, scene.group_id) == []  # queued, not sent: the process dies here
    await bot.crash()
    await bot.run_outbox()
    [card] = _cards(bot, scene.group_id)
    [row] = await evidence_rows(bot)
    assert (row.review_chat_id, row.review_message_id) == (scene.group_id, card["message_id"])
    await bot.press(scene.admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    assert (await evidence_rows(bot))[0].status == "approved"


async def test_a_photo_decided_before_its_card_went_out_gets_no_card(
    bot: BotHarness, tmp_path: Path
) -> None:
    scene = await evidence_scene(bot, tmp_path)
    await send_photo(bot, scene.guest, corpus.plain_jpeg(32))
    assert await _check_without_sending(bot) == 1
    [row] = await evidence_rows(bot)
    async with transaction(bot.sessions) as s:  # on /review, before the outbox ran
        await evidence.decide(
            s, evidence_id=row.id, reviewer_id=scene.admin.id, action=evidence.APPROVE,
            reason=None, now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
    await bot.run_outbox()
    assert _cards(bot, scene.group_id) == []


async def _check_without_sending(bot: BotHarness) -> int:
    svc = bot.app.bot_data[SERVICES_KEY]
    checker = checker_for(bot.app.bot_data, svc.settings)
    return await check_once(bot.app.bot, bot.sessions, bot.clock, svc.settings, checker)


def _cards(bot: BotHarness, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in bot.bot_messages(chat_id) if "photo" in m or "document" in m]
