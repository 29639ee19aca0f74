"""An appeal, once (issue 23): a rejected photo's sender asks a second admin to look again.

In process, on both databases: the whole journey through the bot (the button on the rejection
notice, the reason step, the card in the admin group, the second admin's press, the sender's
final notice, `/review`); the money (an appeal approval pays once, pressed twice or by two
admins at once); who may decide (never the admin who rejected the photo); and every refusal
(a second appeal, an approved or undecided photo, after the retention period, a forged button),
each of which changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from telegram import Update

from storage import appeals, erasure, errors, evidence, export, ledger, outbox
from storage.db import transaction
from storage.models import Appeal, Evidence, LedgerEntry, Meeting, Mission, OutboxMessage
from tests import photo_corpus as corpus
from tests.harness import buttons
from tests.people import (
    Neighbour,
    Scene,
    new_admin,
    review_card,
    run_checks,
    send_photo,
)
from tests.test_mutants_evidence import _decide, _photo
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
RULES = evidence.EvidenceRules(max_attempts=3)
KEEP = timedelta(days=180)


async def _rejected(scene: Scene) -> int:
    """A photo of the guest, rejected by Admin Kim (the scene's admin)."""
    photo = await _photo(scene)
    await _decide(scene, photo, evidence.REJECT, "blurry")
    return photo


async def _file(scene: Scene, photo: int, reason: str = "It was us!", *, user_id: int = 0) -> None:
    async with transaction(scene.bot.sessions) as s:
        await appeals.file(
            s, evidence_id=photo, user_id=user_id or scene.guest.id, reason=reason,
            now=scene.bot.clock.now(), retention=KEEP,
        )  # fmt: skip


async def _decide_appeal(
    scene: Scene, photo: int, admin_id: int, approve: bool = True
) -> appeals.AppealDecision:
    async with transaction(scene.bot.sessions) as s:
        return await appeals.decide(
            s, evidence_id=photo, reviewer_id=admin_id, approve=approve,
            now=scene.bot.clock.now(), rules=RULES,
        )  # fmt: skip


async def _money(scene: Scene) -> tuple[int, int]:
    async with scene.bot.sessions() as s:
        entries = int(await s.scalar(select(func.count()).select_from(LedgerEntry)) or 0)
        return entries, await ledger.balance(s, scene.guest.id)


def _now(scene: Scene, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the chat shows it now (edits applied)."""
    chat = scene.bot.emulator.transcript(message["chat"]["id"])
    return next(m for m in chat if m["message_id"] == message["message_id"])


async def _appeals(scene: Scene) -> list[Appeal]:
    async with scene.bot.sessions() as s:
        return list(await s.scalars(select(Appeal)))


# --------------------------------------------------------------------------- the journey


async def test_the_sender_appeals_from_the_notice_and_a_second_admin_approves(
    scene: Scene,
) -> None:
    bot, guest, first = scene.bot, scene.guest, scene.admin
    second = await new_admin(bot, "Admin Lee")
    bot.emulator.add_member(scene.group_id, second.id, admin=True)
    await bot.deliver()
    await send_photo(bot, guest, corpus.plain_jpeg(61))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    photo = callbacks.decode(buttons(card)[0][1]).int_arg(0)
    await first.press_data(card, callbacks.encode(Action.REVIEW_REASON, photo, "blurry"))
    await bot.run_outbox()
    notice = [m for m in bot.bot_messages(guest.id) if "was not accepted" in m.get("text", "")][-1]
    appeal_data = callbacks.encode(Action.APPEAL, photo)
    assert appeal_data in [d for _, d in buttons(notice)]

    asked = await guest.press_data(notice, appeal_data)
    question = asked[-1]
    assert "one short message" in question["text"]
    assert [label for label, _ in buttons(question)] == ["Cancel"]
    too_long = await guest.say("x" * (appeals.MAX_REASON + 1))
    assert "under 300 characters" in too_long[-1]["text"]
    assert buttons(_now(scene, question)) != []  # asked again: the question stays open
    filed = await guest.say("We were at the lake, the photo is just dark.")
    assert "Your appeal went to an admin" in filed[-1]["text"]
    # The question shows the reason's start and loses its "Cancel".
    answered = _now(scene, question)
    assert answered["text"].endswith("\n→ We were at the lake, the photo is just … ✓")
    assert buttons(answered) == []
    # The card is queued with the appeal and goes out with the outbox (issue 23).
    assert not [m for m in bot.bot_messages(scene.group_id) if "Appeal by" in m.get("caption", "")]
    await bot.run_outbox()

    appeal_card = [
        m
        for m in bot.bot_messages(scene.group_id)
        if "Appeal by the sender" in m.get("caption", "")
    ][-1]
    assert "the photo is just dark" in appeal_card["caption"]
    # The first reviewer may not decide it; nothing changes.
    approve = callbacks.encode(Action.APPEAL_DECIDE, photo, appeals.OVERTURN)
    await first.press_data(appeal_card, approve)
    assert "You rejected this photo" in first.alert()
    assert [a.status for a in await _appeals(scene)] == ["pending"]
    # /review shows it to the second admin, not to the first.
    assert any("1 appeal is waiting" in m.get("text", "") for m in await second.say("/review"))
    assert not any("appeal" in m.get("text", "") for m in await first.say("/review"))

    await second.press_data(appeal_card, approve)
    await bot.run_outbox()
    assert await _money(scene) == (1, scene.points)
    [row] = [r for r in await _appeals(scene)]
    assert (row.status, row.reviewer_id) == ("approved", second.id)
    told = [
        m["text"]
        for m in bot.bot_messages(guest.id)
        if "looked at your appeal" in m.get("text", "")
    ]
    assert len(told) == 1 and f"+{scene.points} points" in told[0]
    # A second appeal, from the same (old) button: refused, nothing changes.
    await guest.press_data(notice, appeal_data)
    assert "once per photo" in guest.alert() or "is not (any more)" in guest.alert()
    assert len(await _appeals(scene)) == 1


async def test_a_cancelled_appeal_sends_nothing_and_its_question_says_so(scene: Scene) -> None:
    """ "Cancel" under the question and /cancel: nothing filed, the question shows "Cancelled"
    without buttons, and the notice's appeal button still works."""
    bot, guest = scene.bot, scene.guest
    photo = await _rejected(scene)
    await bot.run_outbox()
    notice = [m for m in bot.bot_messages(guest.id) if "was not accepted" in m.get("text", "")][-1]
    appeal_data = callbacks.encode(Action.APPEAL, photo)
    for how in ("button", "/cancel"):
        question = (await guest.press_data(notice, appeal_data))[-1]
        assert "one short message" in question["text"]
        if how == "button":
            await guest.press(question, "Cancel")
        else:
            await guest.say("/cancel")
        assert guest.inbox()[-1].startswith("Okay, no appeal was sent.")
        cancelled = _now(scene, question)
        assert cancelled["text"].endswith("\n→ Cancelled ✓") and buttons(cancelled) == [], how
        await guest.say("It was us!")  # the conversation is over: not a reason
        assert await _appeals(scene) == []


async def test_a_kept_rejection_is_final_and_told(scene: Scene) -> None:
    photo = await _rejected(scene)
    await _file(scene, photo)
    second = await new_admin(scene.bot, "Admin Lee")
    decided = await _decide_appeal(scene, photo, second.id, approve=False)
    assert (decided.status, decided.points, decided.first) == ("rejected", 0, True)
    await scene.bot.run_outbox()
    assert any("This decision is final" in text for text in scene.guest.inbox())
    assert await _money(scene) == (0, 0)
    with pytest.raises(errors.AppealRefused, match="once"):
        await _file(scene, photo)


# --------------------------------------------------------------------------- money


async def test_an_appeal_approval_pays_once_pressed_twice(scene: Scene) -> None:
    photo = await _rejected(scene)
    await _file(scene, photo)
    second = await new_admin(scene.bot, "Admin Lee")
    first = await _decide_appeal(scene, photo, second.id)
    again = await _decide_appeal(scene, photo, second.id)
    assert (first.first, first.points) == (True, scene.points)
    # Without the guard (WHERE status = 'pending') the second press decides again.
    assert (again.first, again.repeat, again.points) == (False, True, 0)
    assert await _money(scene) == (1, scene.points)


async def test_a_no_point_appeal_approval_tells_the_balance_the_sender_holds(
    scene: Scene,
) -> None:
    """Overturned for a mission worth nothing: no entry, and the notice tells the 40 points
    the sender holds (before: 0)."""
    async with transaction(scene.bot.sessions) as s:
        meeting = await s.get(Meeting, scene.meeting_id)
        assert meeting is not None
        await s.execute(update(Mission).where(Mission.id == meeting.mission_id).values(points=0))
        await ledger.post(
            s, user_id=scene.guest.id, amount=40, kind=ledger.BONUS, reference="held:40",
            now=scene.bot.clock.now(),
        )  # fmt: skip
    photo = await _rejected(scene)
    await _file(scene, photo)
    second = await new_admin(scene.bot, "Admin Lee")
    decided = await _decide_appeal(scene, photo, second.id)
    assert (decided.status, decided.points, decided.balance) == ("approved", 0, 40)
    async with scene.bot.sessions() as s:
        row = await s.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"appeal_outcome:{photo}")
        )
    assert row is not None and dict(row.payload)["balance"] == 40
    assert await _money(scene) == (1, 40)


async def test_two_admins_approving_an_appeal_at_once_pay_once(scene: Scene) -> None:
    bot = scene.bot
    lee, park = await new_admin(bot, "Admin Lee"), await new_admin(bot, "Admin Park")
    for admin in (lee, park):
        bot.emulator.add_member(scene.group_id, admin.id, admin=True)
    await bot.deliver()
    await send_photo(bot, scene.guest, corpus.plain_jpeg(62))
    await run_checks(bot)
    message = review_card(bot, scene.group_id)
    photo = callbacks.decode(buttons(message)[0][1]).int_arg(0)
    await _decide(scene, photo, evidence.REJECT, "blurry")
    await _file(scene, photo)
    data = callbacks.encode(Action.APPEAL_DECIDE, photo, appeals.OVERTURN)
    for admin in (lee, park):
        await bot.emulator.press_button(
            admin.id, scene.group_id, message["message_id"], data, force=True
        )
    updates = [Update.de_json(u, bot.app.bot) for u in bot.emulator.pending_updates()]
    presses = [u for u in updates if u.callback_query is not None]
    assert len(presses) == 2
    await asyncio.gather(*(bot.app.process_update(u) for u in presses))
    assert await _money(scene) == (1, scene.points)
    [row] = await _appeals(scene)
    assert row.status == "approved" and row.reviewer_id in (lee.id, park.id)
    # One decision: the later press is told (without the guard both would decide, the ledger's
    # unique `evidence:<id>` reference being then the only thing between them and paying twice).
    told = [m.get("text", "") for m in bot.bot_messages(scene.group_id)]
    assert sum("already decided this appeal" in text for text in told) == 1


# --------------------------------------------------------------------------- who decides


async def test_the_first_reviewer_cannot_decide_the_appeal(scene: Scene) -> None:
    photo = await _rejected(scene)
    await _file(scene, photo)
    with pytest.raises(errors.NotImpartial, match="first_reviewer"):
        await _decide_appeal(scene, photo, scene.admin.id)
    assert [a.status for a in await _appeals(scene)] == ["pending"]
    assert await _money(scene) == (0, 0)
    # Nor the sender (not an admin), nor the host who attended.
    with pytest.raises(errors.NotAdmin):
        await _decide_appeal(scene, photo, scene.guest.id)


# --------------------------------------------------------------------------- refusals


async def test_only_a_rejected_photo_of_ones_own_kept_photo_is_appealed_once(
    scene: Scene,
) -> None:
    bot = scene.bot
    waiting = await _photo(scene)  # not decided yet
    with pytest.raises(errors.AppealRefused, match="not_rejected"):
        await _file(scene, waiting)
    await _decide(scene, waiting, evidence.APPROVE)
    with pytest.raises(errors.AppealRefused, match="not_rejected"):
        await _file(scene, waiting)  # approved
    other = await Neighbour(bot, "Other", lang="en").register()
    rejected = await _photo(scene, status=evidence.IN_REVIEW)
    async with transaction(bot.sessions) as s:  # the approved one would block it: set aside
        row = await s.get(Evidence, waiting)
        assert row is not None
        row.status = evidence.REJECTED
    await _decide(scene, rejected, evidence.REJECT, "place")
    with pytest.raises(errors.AppealRefused, match="not_yours"):  # a forged button
        await _file(scene, rejected, user_id=other.id)
    bot.clock.advance(KEEP + timedelta(days=1))
    with pytest.raises(errors.AppealRefused, match="expired"):
        await _file(scene, rejected)
    assert await _appeals(scene) == []
    assert await _money(scene) == (1, scene.points)


async def test_a_waiting_appeal_takes_no_new_photo_for_that_meetup(scene: Scene) -> None:
    photo = await _rejected(scene)
    await _file(scene, photo)
    async with transaction(scene.bot.sessions) as s:
        with pytest.raises(errors.NothingPending, match="in_review"):
            await evidence.submit(
                s, user_id=scene.guest.id, meeting_id=scene.meeting_id,
                upload=evidence.Upload("f-new", "u-new", as_document=False),
                now=scene.bot.clock.now(), rules=RULES,
            )  # fmt: skip


async def test_a_forged_appeal_decision_changes_nothing(scene: Scene) -> None:
    """A decision button for a photo nobody appealed (forged, or an old card): refused."""
    photo = await _rejected(scene)
    second = await new_admin(scene.bot, "Admin Lee")
    with pytest.raises(errors.AppealRefused, match="none"):
        await _decide_appeal(scene, photo, second.id)
    with pytest.raises(errors.AppealRefused, match="none"):
        await _decide_appeal(scene, 987_654_321, second.id)
    assert await _appeals(scene) == []
    assert await _money(scene) == (0, 0)
    async with scene.bot.sessions() as s:
        row = await s.get(Evidence, photo)
        assert row is not None and row.status == evidence.REJECTED


async def test_an_erased_sender_keeps_no_words_in_an_appeal_and_gets_them_in_mydata(
    scene: Scene,
) -> None:
    """/mydata gives the sender their appeal's reason; /deleteme erases it (docs/privacy.md:
    the appeal stays for the books under the anonymous id, without the person's words)."""
    photo = await _rejected(scene)
    await _file(scene, photo, "우리 진짜 같이 걸었어요")
    async with transaction(scene.bot.sessions) as s:
        data = await export.everything(s, scene.guest.id, scene.bot.clock.now(), photo_days=180)
    assert [a["reason"] for a in data["appeals"]] == ["우리 진짜 같이 걸었어요"]
    async with transaction(scene.bot.sessions) as s:
        await erasure.erase(s, scene.guest.id, scene.bot.clock.now())
    [appeal] = await _appeals(scene)
    assert appeal.user_id < 0 and appeal.reason == ""


# --------------------------------------------------------------------------- the card, by outbox


def shown(message: dict[str, Any]) -> str:
    return str(message.get("caption") or message.get("text") or "")


async def _card_rows(scene: Scene) -> list[OutboxMessage]:
    async with scene.bot.sessions() as s:
        query = select(OutboxMessage).where(OutboxMessage.dedupe_key.like("appeal_card:%"))
        return list(await s.scalars(query))


async def _file_with_card(scene: Scene, photo: int) -> None:
    async with transaction(scene.bot.sessions) as s:
        await appeals.file_for_card(
            s, evidence_id=photo, user_id=scene.guest.id, reason="It was us!",
            now=scene.bot.clock.now(), retention=KEEP, admin_chat_id=scene.group_id,
            max_attempts=RULES.max_attempts,
        )  # fmt: skip


async def test_the_appeal_card_is_queued_in_the_appeals_own_transaction(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: the admin group's card is an outbox row written with the appeal: a failure
    after filing leaves neither, a failure queueing the card leaves no appeal."""
    photo = await _rejected(scene)
    with pytest.raises(RuntimeError):
        async with transaction(scene.bot.sessions) as s:
            await appeals.file_for_card(
                s, evidence_id=photo, user_id=scene.guest.id, reason="It was us!",
                now=scene.bot.clock.now(), retention=KEEP, admin_chat_id=scene.group_id,
                max_attempts=RULES.max_attempts,
            )  # fmt: skip
            raise RuntimeError("the process dies before the commit")
    assert (await _appeals(scene), await _card_rows(scene)) == ([], [])
    real_enqueue = outbox.enqueue

    async def broken(session: Any, **row: Any) -> bool:
        if row["kind"] == "appeal_card":
            raise RuntimeError("the card cannot be queued")
        return await real_enqueue(session, **row)

    monkeypatch.setattr(outbox, "enqueue", broken)
    with pytest.raises(RuntimeError):
        await _file_with_card(scene, photo)
    assert (await _appeals(scene), await _card_rows(scene)) == ([], [])
    monkeypatch.setattr(outbox, "enqueue", real_enqueue)
    await _file_with_card(scene, photo)
    [row] = await _card_rows(scene)
    assert (row.chat_id, row.status, row.payload["kind"]) == (
        scene.group_id,
        "pending",
        "appeal_card",
    )
    assert len(await _appeals(scene)) == 1


async def test_the_appeal_card_survives_a_crash_and_an_outage_and_its_buttons_work(
    scene: Scene,
) -> None:
    """Filed through the bot, the bot dies right after the commit and Telegram is unreachable
    at the first try: the dispatcher posts the card later, records where it went, and a
    decision taken on /review redraws it there."""
    bot, guest = scene.bot, scene.guest
    second = await new_admin(bot, "Admin Lee")
    photo = await _rejected(scene)
    await bot.run_outbox()
    notice = [m for m in bot.bot_messages(guest.id) if "was not accepted" in m.get("text", "")][-1]
    await guest.press_data(notice, callbacks.encode(Action.APPEAL, photo))
    filed = await guest.say("We were at the lake, the photo is just dark.")
    assert "Your appeal went to an admin" in filed[-1]["text"]

    def cards() -> list[dict[str, Any]]:
        return [m for m in bot.bot_messages(scene.group_id) if "Appeal by" in shown(m)]

    assert cards() == []  # not sent by the handler: queued with the appeal
    await bot.crash()
    bot.emulator.faults.refuse["sendPhoto"] = 1
    await bot.run_outbox()
    assert cards() == [] and [r.status for r in await _card_rows(scene)] == ["pending"]
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_outbox()
    [card] = cards()
    assert "the photo is just dark" in shown(card)
    [row] = await _appeals(scene)
    assert (row.card_chat_id, row.card_message_id) == (scene.group_id, card["message_id"])
    # Decided from /review in a private chat: the group's card is redrawn where it was posted.
    listed = [m for m in await second.say("/review") if "Appeal by" in shown(m)]
    approve = callbacks.encode(Action.APPEAL_DECIDE, photo, appeals.OVERTURN)
    await second.press_data(listed[-1], approve)
    assert await _money(scene) == (1, scene.points)
    redrawn = next(m for m in bot.emulator.transcript(scene.group_id)
                   if m["message_id"] == card["message_id"])  # fmt: skip
    assert shown(redrawn) != shown(card) and "Admin Lee" in shown(redrawn)
    assert not buttons(redrawn)
