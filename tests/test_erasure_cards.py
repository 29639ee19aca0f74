"""After `/deleteme`, the bot's cards about the person in the admin group go (issue 20).

Mina sends a meetup photo (its review card shows the photo and her name), the host reports
her (a card naming her) and she reports the host with words of her own (a card with her
text). When she deletes her account, the erasure queues one outbox row per card in its own
transaction (`storage.admin_cards`), and the dispatcher, after the commit, deletes the cards
that name her; a card 48 hours old or older, which Telegram will not delete, is edited: a grey
placeholder instead of her photo and "a deleted account" instead of her name. The card of the
report she filed stays for the moderators, buttons and all, without her words. On SQLite and
PostgreSQL, against the sandbox's transcript of the admin group.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.card_cleanup import PLACEHOLDER_SIZE
from scheduler.jobs import retention_sweep
from storage import appeals, evidence, moderation
from storage.db import transaction
from storage.models import OutboxMessage
from tests import photo_corpus as corpus
from tests.harness import _JobContext, buttons
from tests.people import Scene, action_data, review_card, run_checks, send_photo
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")

ABOUT_HER = "she left before the game and laughed at us 5521"
HER_WORDS = "the host shouted at the court 6634"


def _report_cards(scene: Scene) -> list[dict[str, Any]]:
    return [m for m in scene.bot.bot_messages(scene.group_id) if "Report #" in m.get("text", "")]


def _shown(message: dict[str, Any]) -> str:
    return str(message.get("caption") or message.get("text") or "")


async def _cards(scene: Scene) -> dict[str, dict[str, Any]]:
    """Mina's photo under review, a report about her and one by her, all posted."""
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.plain_jpeg(41))
    assert await run_checks(bot) == 1
    async with transaction(bot.sessions) as s:
        for reporter, reported, details in (
            (scene.host.id, scene.guest.id, ABOUT_HER), (scene.guest.id, scene.host.id, HER_WORDS)
        ):  # fmt: skip
            await moderation.file_report(
                s, reporter_id=reporter, reported_id=reported, meeting_id=scene.meeting_id,
                reason="other", details=details, admin_chat_id=scene.group_id,
                now=bot.clock.now(),
            )  # fmt: skip
    await bot.run_outbox()
    about, by = _report_cards(scene)
    review = review_card(bot, scene.group_id)
    assert "Mina" in _shown(review) and "Mina" in about["text"] and ABOUT_HER in about["text"]
    assert HER_WORDS in by["text"] and buttons(by)
    return {"review": review, "about": about, "by": by}


async def _delete_account(scene: Scene) -> None:
    [question] = await scene.guest.say("/deleteme")
    await scene.guest.press(question, "Yes, delete my account")


def _now_in_group(scene: Scene, message_id: int) -> dict[str, Any] | None:
    found = [
        m for m in scene.bot.emulator.transcript(scene.group_id) if m["message_id"] == message_id
    ]
    return found[0] if found else None


async def test_young_cards_naming_the_person_are_deleted(scene: Scene) -> None:
    bot = scene.bot
    cards = await _cards(scene)
    await _delete_account(scene)
    async with bot.sessions() as s:  # queued with the erasure, in its transaction
        queued = (
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("card:"))
            )
        ).all()
    assert sorted(r.dedupe_key.split(":")[1] for r in queued) == ["report", "report", "review"]
    assert all(r.status == "pending" for r in queued)
    assert _now_in_group(scene, cards["review"]["message_id"]) is not None  # not yet: after commit

    await bot.run_outbox()
    assert _now_in_group(scene, cards["review"]["message_id"]) is None
    assert _now_in_group(scene, cards["about"]["message_id"]) is None
    by = _now_in_group(scene, cards["by"]["message_id"])
    assert by is not None and HER_WORDS not in by["text"] and "지훈" in by["text"]
    assert buttons(by) == buttons(cards["by"])  # the moderators can still decide on it
    shown = [_shown(m) for m in bot.emulator.transcript(scene.group_id)]
    assert not any("Mina" in text or ABOUT_HER in text or HER_WORDS in text for text in shown)


async def test_cards_too_old_to_delete_lose_the_name_and_the_photo(scene: Scene) -> None:
    bot = scene.bot
    cards = await _cards(scene)
    review = cards["review"]
    await bot.press(scene.admin.user, review, action_data(review, Action.REVIEW_APPROVE))
    bot.clock.advance(timedelta(hours=48))  # Telegram deletes nothing this old
    await _delete_account(scene)
    await bot.run_outbox()

    card = _now_in_group(scene, review["message_id"])
    assert card is not None and "photo" in card
    before = {p["file_unique_id"] for p in review["photo"]}
    assert not before & {p["file_unique_id"] for p in card["photo"]}
    assert max(p["width"] for p in card["photo"]) == PLACEHOLDER_SIZE[0]
    assert "Mina" not in card["caption"] and "a deleted account" in card["caption"]
    assert "Approved by Admin Kim" in card["caption"] and not buttons(card)
    about = _now_in_group(scene, cards["about"]["message_id"])
    assert about is not None and "a deleted account" in about["text"]
    assert "Mina" not in about["text"] and ABOUT_HER not in about["text"] and not buttons(about)
    by = _now_in_group(scene, cards["by"]["message_id"])
    assert by is not None and HER_WORDS not in by["text"] and buttons(by)
    shown = [_shown(m) for m in bot.emulator.transcript(scene.group_id)]
    assert not any("Mina" in text or ABOUT_HER in text or HER_WORDS in text for text in shown)


async def test_a_failed_cleanup_is_retried_like_any_notice(scene: Scene) -> None:
    bot = scene.bot
    cards = await _cards(scene)
    await _delete_account(scene)
    bot.emulator.faults.refuse["deleteMessage"] = 1  # Telegram unreachable once
    await bot.run_outbox()
    async with bot.sessions() as s:
        waiting = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        ).all()
    assert [r.dedupe_key.split(":")[1] for r in waiting] == ["review"]
    assert _now_in_group(scene, cards["review"]["message_id"]) is not None
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_outbox()
    assert _now_in_group(scene, cards["review"]["message_id"]) is None


async def test_a_card_blanked_for_its_reporter_goes_when_the_person_reported_leaves(
    scene: Scene,
) -> None:
    """The card of Mina's report lost her words when she left; when the host she reported
    leaves too, the card (which names him) is found again through that cleanup and deleted."""
    bot = scene.bot
    cards = await _cards(scene)
    await _delete_account(scene)
    await bot.run_outbox()
    by = _now_in_group(scene, cards["by"]["message_id"])
    assert by is not None and "지훈" in by["text"] and HER_WORDS not in by["text"]
    [question] = await scene.host.say("/deleteme")
    await scene.host.press(question, "네, 삭제할게요")
    await bot.run_outbox()
    assert _now_in_group(scene, cards["by"]["message_id"]) is None


async def test_a_report_card_is_found_after_its_notice_row_is_deleted(scene: Scene) -> None:
    """The report's notice row goes `outbox_retention_days` after it was sent; the card it
    posted stays in the group. The report row records where the card is, so a month later
    `/deleteme` still finds and blanks it."""
    bot = scene.bot
    cards = await _cards(scene)
    bot.clock.advance(timedelta(days=31))
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    async with bot.sessions() as s:
        notices = await s.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("report:"))
        )
        assert notices.all() == []  # the notices are gone; the cards are not
    await _delete_account(scene)
    await bot.run_outbox()

    about = _now_in_group(scene, cards["about"]["message_id"])
    assert about is not None and "a deleted account" in about["text"]
    assert "Mina" not in about["text"] and ABOUT_HER not in about["text"]
    by = _now_in_group(scene, cards["by"]["message_id"])
    assert by is not None and HER_WORDS not in by["text"] and buttons(by)
    shown = [_shown(m) for m in bot.emulator.transcript(scene.group_id)]
    assert not any("Mina" in text or ABOUT_HER in text or HER_WORDS in text for text in shown)


APPEAL_REASON = "we were at the lake, it is just dark 7719"


async def appeal_card(scene: Scene) -> dict[str, Any]:
    """Mina's photo rejected, her appeal filed: its card (the photo, her name and reason)."""
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.plain_jpeg(43))
    assert await run_checks(bot) == 1
    card = review_card(bot, scene.group_id)
    photo = callbacks.decode(action_data(card, Action.REVIEW_APPROVE)).int_arg(0)
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=photo, reviewer_id=scene.admin.id, action=evidence.REJECT,
            reason="blurry", now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
        await appeals.file_for_card(
            s, evidence_id=photo, user_id=scene.guest.id, reason=APPEAL_REASON,
            now=bot.clock.now(), retention=timedelta(days=180), admin_chat_id=scene.group_id,
            max_attempts=3,
        )  # fmt: skip
    await bot.run_outbox()
    [shown] = [m for m in bot.bot_messages(scene.group_id) if APPEAL_REASON in _shown(m)]
    assert "Mina" in _shown(shown) and "photo" in shown
    return shown


@pytest.mark.parametrize("hours", [1, 48])
async def test_an_appeal_card_goes_with_the_person(scene: Scene, hours: int) -> None:
    """The appeal's card showed her photo, name and reason: deleted, or (48 hours old) the
    placeholder for the photo and nothing of hers in the caption."""
    bot = scene.bot
    card = await appeal_card(scene)
    bot.clock.advance(timedelta(hours=hours))
    await _delete_account(scene)
    await bot.run_outbox()
    now = _now_in_group(scene, card["message_id"])
    if hours < 48:
        assert now is None
    else:
        assert now is not None and max(p["width"] for p in now["photo"]) == PLACEHOLDER_SIZE[0]
        assert "a deleted account" in now["caption"] and not buttons(now)
    shown = [_shown(m) for m in bot.emulator.transcript(scene.group_id)]
    assert not any("Mina" in text or APPEAL_REASON in text for text in shown)
