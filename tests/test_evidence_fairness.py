"""Evidence belongs to the people who were there (issue 21), and survives redelivery (issue 22).

Photos count from check-in on (before the start too) until the same deadline as before; someone
not checked in hears how and from when they can check in, the host included. A copy is refused
by the checks with the reason and no reviewer: the bytes or the picture (within 2 bits) of an
approved photo, or the bytes of the sender's own photo that was not accepted; it uses no try and
gets no card, while nearer misses stay a signal on the card. The same bytes pay once even when
two copies wait at once. Nobody decides on their own photo or on one of a meetup they hosted,
joined or checked in to. The same photo message and the same approval press handled twice act
once. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from telegram import Update

from bot.services import services_of
from storage import errors, evidence, meetings
from storage.db import transaction
from storage.models import Evidence, LedgerEntry, Meeting
from tests import photo_corpus as corpus
from tests.harness import BotHarness, RecordedCall, buttons
from tests.people import (
    RULES,
    SEOUL,
    Neighbour,
    Scene,
    action_data,
    assert_money_is_sound,
    balance_of,
    check_in_guest,
    evidence_rows,
    new_admin,
    new_meetup,
    review_card,
    run_checks,
    send_photo,
    told_after_press,
)
from ui import callbacks
from ui.callbacks import Action
from verification import photos

pytestmark = pytest.mark.usefixtures("seeded")
TITLE = "Walk once round Seokchon Lake"


# --------------------------------------------------------------------------- helpers


def _cards(bot: BotHarness, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in bot.bot_messages(chat_id) if "photo" in m or "document" in m]


def _card_of(bot: BotHarness, chat_id: int, evidence_id: int) -> dict[str, Any]:
    """The newest card about photo `evidence_id` (by its caption's first line)."""
    for card in reversed(_cards(bot, chat_id)):
        if card.get("caption", "").startswith(f"📸 Photo #{evidence_id} ("):
            return card
    raise AssertionError(f"no card for photo {evidence_id}")


async def _approve(bot: BotHarness, admin: Neighbour, card: dict[str, Any]) -> None:
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_APPROVE))


async def _reject(bot: BotHarness, admin: Neighbour, card: dict[str, Any], reason: str) -> None:
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_REJECT))
    evidence_id = callbacks.decode(action_data(card, Action.REVIEW_REJECT)).int_arg(0)
    card = _card_of(bot, card["chat"]["id"], evidence_id)
    await bot.press(admin.user, card, callbacks.encode(Action.REVIEW_REASON, evidence_id, reason))


async def _second_meetup(scene: Scene, guest_name: str = "Jun") -> tuple[Neighbour, int]:
    """Another host's meetup starting in 12 minutes, with a guest checked in just now."""
    bot = scene.bot
    host = await Neighbour(bot, f"호스트 {guest_name}").register()
    guest = await Neighbour(bot, guest_name, lang="en").register()
    meeting_id = await new_meetup(bot, host, hours=0.2)
    await check_in_guest(bot, guest, meeting_id)
    return guest, meeting_id


async def _row(bot: BotHarness, meeting_id: int, user_id: int) -> Evidence:
    [row] = [
        r for r in await evidence_rows(bot) if (r.meeting_id, r.user_id) == (meeting_id, user_id)
    ]
    return row


def _phash(data: bytes) -> str:
    found = photos.inspect(data).phash
    assert found is not None
    return found


def _bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


async def _told(bot: BotHarness, person: Neighbour) -> str:
    """What the outbox told `person` last."""
    await bot.run_outbox()
    return str(bot.bot_messages(person.id)[-1].get("text", ""))


async def _handled_twice(
    bot: BotHarness, action: Awaitable[Any]
) -> tuple[list[RecordedCall], list[RecordedCall]]:
    """The person's action reaches the bot, which handles it and dies before marking it done;
    after a restart the same update is handled again (issue 22). Returns each handling's calls."""
    await action
    [data] = bot.emulator.pending_updates()
    start = len(bot.request.calls)
    await bot.app.process_update(Update.de_json(data, bot.app.bot))
    middle = len(bot.request.calls)
    bot.settings = services_of(bot.app.bot_data).settings  # the running configuration stays
    await bot.restart()
    await bot.app.process_update(Update.de_json(data, bot.app.bot))
    return bot.request.calls[start:middle], bot.request.calls[middle:]


def _shown(calls: list[RecordedCall]) -> list[tuple[str, str]]:
    said = ("sendMessage", "editMessageCaption", "editMessageText", "answerCallbackQuery")
    return [
        (c.method, str(c.params.get("text") or c.params.get("caption") or ""))
        for c in calls
        if c.method in said
    ]


# --------------------------------------------------------------------------- from check-in on


async def test_a_photo_right_after_check_in_counts_before_the_start(scene: Scene) -> None:
    bot = scene.bot
    guest, meeting_id = await _second_meetup(scene)  # starts in 12 minutes
    [reply] = await send_photo(bot, guest, corpus.plain_jpeg(201))
    assert reply["text"].startswith(f'Got it! Your photo for "{TITLE}"')
    row = await _row(bot, meeting_id, guest.id)
    assert row.status == "received" and row.attempt == 1
    await run_checks(bot)
    assert "Mina" not in review_card(bot, scene.group_id)["caption"]  # Jun's card


async def test_the_review_card_shows_how_the_sender_checked_in(scene: Scene) -> None:
    """A check-in with the location step skipped is "location unverified" for the reviewer
    too, as the sender was told (ui/checkin.py)."""
    bot = scene.bot
    guest, meeting_id = await _second_meetup(scene)
    async with transaction(bot.sessions) as s:  # as the code and a skipped location leave it
        seat = await meetings.participation(s, meeting_id, guest.id)
        assert seat is not None
        seat.checkin_method, seat.checkin_location = "code", "unverified"
    await send_photo(bot, guest, corpus.plain_jpeg(202))
    await run_checks(bot)
    caption = review_card(bot, scene.group_id)["caption"]
    assert caption.startswith("📸 Photo #") and "Jun" in caption
    assert "🙋 Checked in: code · ⚠️ location unverified" in caption


async def test_someone_not_checked_in_is_told_how_and_when_to_check_in(scene: Scene) -> None:
    bot = scene.bot
    host = await Neighbour(bot, "서준").register()
    guest = await Neighbour(bot, "Ara", lang="en").register()
    meeting_id = await new_meetup(bot, host, hours=3)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, guest.id, RULES, bot.clock.now())
    starts = bot.clock.now() + timedelta(hours=3)
    opens = (starts - timedelta(minutes=15)).astimezone(SEOUL)

    [early] = await send_photo(bot, guest, corpus.plain_jpeg(211))
    assert early["text"].startswith("Photos count from your check-in on. Check-in for your meetup")
    assert f"opens at {opens:%H:%M}" in early["text"] and "scan the host's QR code" in early["text"]

    bot.clock.advance(timedelta(hours=2, minutes=50))  # check-in is open
    [now_open] = await send_photo(bot, guest, corpus.plain_jpeg(212))
    assert now_open["text"].startswith("You haven't checked in to your meetup on")
    assert "/checkin" in now_open["text"]

    bot.clock.advance(timedelta(minutes=45))  # it closed 30 minutes after the start
    [missed] = await send_photo(bot, guest, corpus.plain_jpeg(213))
    assert missed["text"].startswith("You didn't check in to your meetup on")
    assert [r for r in await evidence_rows(bot) if r.meeting_id == meeting_id] == []


async def test_the_host_sends_a_photo_only_once_checked_in(scene: Scene) -> None:
    bot, host = scene.bot, scene.host  # 지훈 hosts the meetup under way, in Korean
    [refused] = await send_photo(bot, host, corpus.plain_jpeg(215))
    assert refused["text"].startswith("아직 ") and "체크인 QR을 띄우면" in refused["text"]
    async with transaction(bot.sessions) as s:  # the storage call refuses, not the handler
        with pytest.raises(errors.NotCheckedIn) as caught:
            await evidence.submit(
                s, user_id=host.id, meeting_id=scene.meeting_id,
                upload=evidence.Upload("f", "u-host", False), now=bot.clock.now(),
                rules=evidence.EvidenceRules(),
            )  # fmt: skip
    assert caught.value.reason == "host_open"
    assert [r for r in await evidence_rows(bot) if r.user_id == host.id] == []

    async with transaction(bot.sessions) as s:  # the host shows the check-in QR
        await meetings.open_checkin(s, scene.meeting_id, host.id, RULES, bot.clock.now())
    [taken] = await send_photo(bot, host, corpus.plain_jpeg(216))
    assert taken["text"].startswith("받았어요!")


async def test_photos_are_taken_until_the_same_deadline_as_before(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    async with bot.sessions() as s:
        meeting = await s.get(Meeting, scene.meeting_id)
        assert meeting is not None
        deadline = meeting.ends_at + timedelta(hours=48)
    bot.clock.set(deadline + timedelta(minutes=1))
    [late] = await send_photo(bot, guest, corpus.plain_jpeg(218))
    assert "No mission is waiting for a photo or video" in late["text"]
    bot.clock.set(deadline - timedelta(minutes=1))
    [taken] = await send_photo(bot, guest, corpus.plain_jpeg(219))
    assert taken["text"].startswith("Got it!")


# --------------------------------------------------------------------------- copies


async def test_the_same_bytes_again_after_a_rejection_are_refused_and_use_no_try(
    scene: Scene,
) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    picture = corpus.plain_jpeg(221)
    await send_photo(bot, guest, picture)
    await run_checks(bot)
    await _reject(bot, admin, review_card(bot, scene.group_id), "blurry")
    assert "(2 tries left)" in await _told(bot, guest)

    [reply] = await send_photo(bot, guest, picture)  # a new message with the same bytes
    assert reply["text"].startswith("Got it!")
    cards = len(_cards(bot, scene.group_id))
    assert await run_checks(bot) == 1
    assert len(_cards(bot, scene.group_id)) == cards  # no card: nobody needs to look
    first, again = await evidence_rows(bot)
    assert again.status == "retry" and again.sha256 == first.sha256
    assert (again.signals or {})[evidence.COPY] == {"why": "repeat", "of": first.id, "distance": 0}
    told = await _told(bot, guest)
    assert told.startswith(f'This is the same photo as the one for "{TITLE}" that was not accepted')
    assert "used none of your tries (2 left)" in told

    await send_photo(bot, guest, corpus.plain_jpeg(222))  # a new photo: the second try
    await run_checks(bot)
    assert "try 2/3" in review_card(bot, scene.group_id)["caption"]


async def test_the_same_bytes_for_another_meetup_are_refused_and_paid_once(scene: Scene) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    picture = corpus.plain_jpeg(231)
    await send_photo(bot, guest, picture)
    await run_checks(bot)
    await _approve(bot, admin, review_card(bot, scene.group_id))
    assert await balance_of(bot, guest.id) == scene.points

    other, meeting_id = await _second_meetup(scene)
    bot.clock.advance(timedelta(minutes=15))  # their meetup is under way
    [reply] = await send_photo(bot, other, picture)
    assert reply["text"].startswith("Got it!")
    cards = len(_cards(bot, scene.group_id))
    assert await run_checks(bot) == 1
    assert len(_cards(bot, scene.group_id)) == cards
    first = await _row(bot, scene.meeting_id, guest.id)
    copy = await _row(bot, meeting_id, other.id)
    assert copy.status == "retry" and copy.storage_key is None  # refused before it was stored
    assert (copy.signals or {})[evidence.COPY] == {"why": "approved", "of": first.id, "distance": 0}
    told = await _told(bot, other)
    assert (
        "it is the same as a photo already accepted as proof" in told
        and "none of your tries (3 left)" in told
    )
    assert await balance_of(bot, other.id) == 0
    await assert_money_is_sound(bot.sessions)


async def test_the_same_bytes_of_a_file_no_checks_could_read_are_refused(scene: Scene) -> None:
    """No perceptual hash without a readable picture: the bytes alone find the copy."""
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    broken = corpus.truncated_jpeg(243)
    await bot.act(guest.id, bot.emulator.send_document(guest.id, broken, "a.jpg", "image/jpeg"))
    await run_checks(bot)
    await _approve(bot, admin, review_card(bot, scene.group_id))
    other, meeting_id = await _second_meetup(scene)
    await bot.act(other.id, bot.emulator.send_document(other.id, broken, "b.jpg", "image/jpeg"))
    await run_checks(bot)
    row = await _row(bot, meeting_id, other.id)
    assert row.phash is None and row.status == "retry"
    assert (row.signals or {})[evidence.COPY]["why"] == "approved"
    assert await balance_of(bot, other.id) == 0


async def test_a_re_encoded_copy_of_an_approved_photo_is_refused(scene: Scene) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    picture = corpus.camera_jpeg(241)
    copy = corpus.camera_jpeg(image=Image.open(io.BytesIO(picture)), quality=60)
    assert copy != picture and _bits_apart(_phash(picture), _phash(copy)) <= evidence.TWIN
    await send_photo(bot, guest, picture)
    await run_checks(bot)
    await _approve(bot, admin, review_card(bot, scene.group_id))
    other, meeting_id = await _second_meetup(scene)
    await send_photo(bot, other, copy)
    await run_checks(bot)
    row = await _row(bot, meeting_id, other.id)
    assert row.status == "retry" and (row.signals or {})[evidence.COPY]["why"] == "approved"
    assert "already accepted as proof" in await _told(bot, other)


@pytest.mark.parametrize(("distance", "refused"), [(2, True), (3, False), (8, False)])
async def test_only_a_near_exact_match_of_an_approved_photo_is_refused(
    scene: Scene, distance: int, refused: bool
) -> None:
    """Within 2 bits of an approved photo is that photo; 3 bits and more is a signal on the card
    for the reviewer (up to the index's 8 bits)."""
    bot, guest = scene.bot, scene.guest
    picture = corpus.plain_jpeg(251)
    near = f"{int(_phash(picture), 16) ^ ((1 << distance) - 1):016x}"
    async with transaction(bot.sessions) as s:  # an approved photo of the host, long ago
        seat = await meetings.participation(s, scene.meeting_id, scene.host.id)
        assert seat is not None
        planted = Evidence(
            participation_id=seat.id, meeting_id=scene.meeting_id, user_id=scene.host.id,
            file_id="old", file_unique_id="old", flags=[], signals={}, attempt=1,
            status="approved", phash=near, sha256="0" * 64, submitted_at=bot.clock.now(),
        )  # fmt: skip
        s.add(planted)
        await s.flush()
        planted_id = planted.id
    cards = len(_cards(bot, scene.group_id))
    await send_photo(bot, guest, picture)
    await run_checks(bot)
    row = await _row(bot, scene.meeting_id, guest.id)
    if refused:
        assert row.status == "retry" and len(_cards(bot, scene.group_id)) == cards
        assert (row.signals or {})[evidence.COPY] == {
            "why": "approved", "of": planted_id, "distance": distance
        }  # fmt: skip
        return
    assert row.status == "in_review" and evidence.COPY not in (row.signals or {})
    caption = review_card(bot, scene.group_id)["caption"]
    assert f"Looks like photo #{planted_id} ({distance}/64 bits apart, another person)" in caption
    await _approve(bot, scene.admin, review_card(bot, scene.group_id))
    assert await balance_of(bot, guest.id) == scene.points


async def test_two_copies_waiting_at_once_pay_once(scene: Scene) -> None:
    """Both checked before either was approved (so both have a card): the second approval is
    refused, politely, and the admin can reject it as a duplicate."""
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    picture = corpus.plain_jpeg(261)
    await send_photo(bot, guest, picture)
    other, meeting_id = await _second_meetup(scene)
    await send_photo(bot, other, picture)
    await run_checks(bot)
    first = await _row(bot, scene.meeting_id, guest.id)
    copy = await _row(bot, meeting_id, other.id)
    assert (first.status, copy.status) == ("in_review", "in_review")
    await _approve(bot, admin, _card_of(bot, scene.group_id, first.id))
    await _approve(bot, admin, _card_of(bot, scene.group_id, copy.id))
    assert "same as one already approved" in told_after_press(bot)
    assert await balance_of(bot, guest.id) == scene.points and await balance_of(bot, other.id) == 0
    assert (await _row(bot, meeting_id, other.id)).status == "in_review"
    assert buttons(_card_of(bot, scene.group_id, copy.id))  # still to be decided
    async with transaction(bot.sessions) as s:  # the storage call refuses it too
        with pytest.raises(errors.CopyOfApproved):
            await evidence.decide(
                s, evidence_id=copy.id, reviewer_id=admin.id, action=evidence.APPROVE,
                reason=None, now=bot.clock.now(), rules=evidence.EvidenceRules(),
            )  # fmt: skip
    await _reject(bot, admin, _card_of(bot, scene.group_id, copy.id), "duplicate")
    assert (await _row(bot, meeting_id, other.id)).status == "rejected"
    await assert_money_is_sound(bot.sessions)


async def test_two_admins_approving_two_near_copies_at_once_pay_once(scene: Scene) -> None:
    """Different bytes, one picture (within 2 bits), each approved by another admin at the same
    moment: approvals take turns, so the second sees the first and is refused."""
    bot, guest, first_admin = scene.bot, scene.guest, scene.admin
    second_admin = await new_admin(bot, "Admin Lee")
    bot.emulator.add_member(scene.group_id, second_admin.id, admin=True)
    await bot.deliver()
    picture = corpus.camera_jpeg(271)
    await send_photo(bot, guest, picture)
    other, meeting_id = await _second_meetup(scene)
    await send_photo(
        bot, other, corpus.camera_jpeg(image=Image.open(io.BytesIO(picture)), quality=60)
    )
    await run_checks(bot)
    first = await _row(bot, scene.meeting_id, guest.id)
    copy = await _row(bot, meeting_id, other.id)
    for admin, row in ((first_admin, first), (second_admin, copy)):
        card = _card_of(bot, scene.group_id, row.id)
        await bot.emulator.press_button(
            admin.id, scene.group_id, card["message_id"], action_data(card, Action.REVIEW_APPROVE)
        )
    presses = [Update.de_json(u, bot.app.bot) for u in bot.emulator.pending_updates()]
    assert len(presses) == 2
    await asyncio.gather(*(bot.app.process_update(u) for u in presses))
    async with bot.sessions() as s:
        paid = (await s.scalars(select(LedgerEntry.user_id))).all()
        approved = await s.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.status == "approved")
        )
    assert len(paid) == 1 and approved == 1
    await assert_money_is_sound(bot.sessions)


# --------------------------------------------------------------------------- impartiality


async def test_an_admin_cannot_decide_on_their_own_photo(scene: Scene) -> None:
    bot, admin = scene.bot, scene.admin
    host = await Neighbour(bot, "하준").register()
    meeting_id = await new_meetup(bot, host, hours=0.2)
    await check_in_guest(bot, admin, meeting_id)  # Admin Kim takes part, and sends a photo
    await send_photo(bot, admin, corpus.plain_jpeg(281))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    for action in (Action.REVIEW_APPROVE, Action.REVIEW_REJECT, Action.REVIEW_AGAIN):
        await bot.press(admin.user, card, action_data(card, action))
        assert (
            told_after_press(bot)
            == "This is your own photo: another admin has to review it. Nothing was changed."
        )
        card = review_card(bot, scene.group_id)
    row = await _row(bot, meeting_id, admin.id)
    assert row.status == "in_review" and await balance_of(bot, admin.id) == 0
    assert buttons(card)
    async with transaction(bot.sessions) as s:  # the storage call refuses, not the handler
        with pytest.raises(errors.NotImpartial) as caught:
            await evidence.decide(
                s, evidence_id=row.id, reviewer_id=admin.id, action=evidence.APPROVE,
                reason=None, now=bot.clock.now(), rules=evidence.EvidenceRules(),
            )  # fmt: skip
    assert caught.value.reason == "own"
    [none] = await admin.say("/review")
    assert none["text"] == "No photos are waiting for review. 🎉"

    other_admin = await new_admin(bot, "Admin Lee")
    bot.emulator.add_member(scene.group_id, other_admin.id, admin=True)
    await bot.deliver()
    await _approve(bot, other_admin, card)
    assert await balance_of(bot, admin.id) == scene.points


@pytest.mark.parametrize("part", ["checked_in", "joined", "hosted"])
async def test_an_admin_cannot_decide_on_a_meetup_they_took_part_in(
    scene: Scene, part: str
) -> None:
    bot, admin = scene.bot, scene.admin
    host = admin if part == "hosted" else await Neighbour(bot, "하준").register()
    meeting_id = await new_meetup(bot, host, hours=0.2)
    if part != "hosted":
        async with transaction(bot.sessions) as s:
            await meetings.join(s, meeting_id, admin.id, RULES, bot.clock.now())
    if part == "checked_in":
        async with transaction(bot.sessions) as s:
            await meetings.check_in(s, meeting_id, admin.id, RULES, bot.clock.now())
    guest = await Neighbour(bot, "Jun", lang="en").register()
    await check_in_guest(bot, guest, meeting_id)
    await send_photo(bot, guest, corpus.plain_jpeg(291))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    await bot.press(admin.user, card, action_data(card, Action.REVIEW_APPROVE))
    assert told_after_press(bot) == (
        "You took part in this meetup, so another admin has to review its photos. Nothing was "
        "changed."
    )
    assert (await _row(bot, meeting_id, guest.id)).status == "in_review"
    assert await balance_of(bot, guest.id) == 0
    async with transaction(bot.sessions) as s:
        with pytest.raises(errors.NotImpartial) as caught:
            await evidence.decide(
                s, evidence_id=(await _row(bot, meeting_id, guest.id)).id, reviewer_id=admin.id,
                action=evidence.REJECT, reason="other", now=bot.clock.now(),
                rules=evidence.EvidenceRules(),
            )  # fmt: skip
    assert caught.value.reason == "attended"
    [none] = await admin.say("/review")
    assert none["text"] == "No photos are waiting for review. 🎉"


async def test_an_admin_who_left_before_the_start_may_decide(scene: Scene) -> None:
    """Leaving before the start is not taking part: their decision counts."""
    bot, admin = scene.bot, scene.admin
    host = await Neighbour(bot, "하준").register()
    meeting_id = await new_meetup(bot, host, hours=0.2)
    async with transaction(bot.sessions) as s:
        await meetings.join(s, meeting_id, admin.id, RULES, bot.clock.now())
    async with transaction(bot.sessions) as s:
        await meetings.leave(s, meeting_id, admin.id, bot.clock.now())
    guest = await Neighbour(bot, "Jun", lang="en").register()
    await check_in_guest(bot, guest, meeting_id)
    await send_photo(bot, guest, corpus.plain_jpeg(295))
    await run_checks(bot)
    await _approve(bot, admin, review_card(bot, scene.group_id))
    assert await balance_of(bot, guest.id) == scene.points


# --------------------------------------------------------------------------- redelivery


async def test_the_same_photo_message_handled_twice_is_one_photo(scene: Scene) -> None:
    bot, guest = scene.bot, scene.guest
    first, second = await _handled_twice(
        bot, bot.emulator.send_photo(guest.id, corpus.plain_jpeg(301))
    )
    [(method, text)] = _shown(first)
    assert method == "sendMessage" and text.startswith(f'Got it! Your photo for "{TITLE}"')
    assert _shown(second) == _shown(first)  # the same answer, no refusal
    [row] = await evidence_rows(bot)
    assert row.status == "received" and row.attempt == 1
    assert await run_checks(bot) == 1
    assert len(_cards(bot, scene.group_id)) == 1


async def test_the_same_approval_handled_twice_pays_once_and_refuses_nothing(
    scene: Scene,
) -> None:
    bot, guest, admin = scene.bot, scene.guest, scene.admin
    await send_photo(bot, guest, corpus.plain_jpeg(311))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    press = bot.emulator.press_button(
        admin.id, scene.group_id, card["message_id"], action_data(card, Action.REVIEW_APPROVE)
    )
    first, second = await _handled_twice(bot, press)
    said = [text for _, text in _shown(first) + _shown(second)]
    assert not any("already decided" in text for text in said)
    assert await balance_of(bot, guest.id) == scene.points
    caption = review_card(bot, scene.group_id)["caption"]
    assert f"✅ Approved by Admin Kim: +{scene.points} points" in caption
    assert not buttons(review_card(bot, scene.group_id))
    # The second handling draws the card as the first did (Telegram: "not modified").
    edits = [text for method, text in _shown(second) if method == "editMessageCaption"]
    assert all(text == caption for text in edits)
    await bot.run_outbox()
    approvals = [m for m in bot.bot_messages(guest.id) if "was approved" in m.get("text", "")]
    assert len(approvals) == 1
    await assert_money_is_sound(bot.sessions)
