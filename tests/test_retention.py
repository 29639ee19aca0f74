"""Retention (issue 20): a handled update keeps no raw payload, and the daily job deletes
handled inbox rows, finished outbox rows and old evidence photos (local disk and S3) with the
clock moved forward; what must stay (unhandled updates, recent rows, the photo's hash, its
decision, the ledger) stays."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import build_application
from bot.card_cleanup import PLACEHOLDER_SIZE
from bot.services import SERVICES_KEY
from handlers import errors
from scheduler import retention as job
from scheduler.jobs import retention_sweep
from storage import appeals, evidence, inbox, meetings, outbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction
from storage.files import LocalFileStore, S3Config
from storage.models import (
    InboxUpdate,
    LedgerEntry,
    Meeting,
    OutboxMessage,
    Review,
)
from tests import photo_corpus as corpus
from tests.harness import BotHarness, _JobContext, buttons, make_settings
from tests.people import (
    PHONE,
    SEOKCHON_LAKE,
    Person,
    Scene,
    action_data,
    balance_of,
    configure,
    evidence_rows,
    meetup_moment,
    new_admin,
    review_card,
    run_checks,
    send_photo,
    sign_up,
)
from ui import callbacks
from ui.callbacks import Action

pytestmark = pytest.mark.usefixtures("seeded")
DEFAULTS = job.Windows()  # 7, 30 and 180 days, as the settings' defaults


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "민지"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 0, "text": text,
            "chat": {"id": user_id, "type": "private"}, "from": person,
        },
    }  # fmt: skip


async def _inbox(sessions: SessionFactory) -> dict[int, InboxUpdate]:
    async with sessions() as s:
        return {r.update_id: r for r in await s.scalars(select(InboxUpdate))}


async def _outbox(sessions: SessionFactory) -> dict[str, str]:
    async with sessions() as s:
        return {r.dedupe_key: r.status for r in await s.scalars(select(OutboxMessage))}


def _dump(row: InboxUpdate) -> str:
    """Every column of an inbox row as text (what a person searching the table would see)."""
    columns = row.__table__.columns
    return json.dumps({c.name: getattr(row, c.key) for c in columns}, default=str)


async def _sweep(sessions: SessionFactory, clock: FrozenClock, tmp_path: Path) -> job.Swept:
    return await job.sweep(sessions, LocalFileStore(tmp_path), clock, DEFAULTS)


# --------------------------------------------------------------------------- the inbox


async def test_a_handled_update_keeps_no_phone_number_location_or_name(
    bot: BotHarness,
) -> None:
    bot.deliveries = 2  # through the durable inbox, as in production (and delivered twice)
    person = Person(bot, name="김민지")
    await sign_up(person)
    rows = await _inbox(bot.sessions)
    contacts = [r for r in rows.values() if r.kind == "message"]
    assert len(rows) > 10 and contacts
    lat, lon = SEOKCHON_LAKE
    for row in rows.values():
        assert row.status == "done" and row.payload is None and row.handled_at is not None
        assert row.user_id == person.id and row.chat_id == person.id
        assert row.kind in ("message", "callback_query")
        text = _dump(row)
        for secret in (PHONE, "2345", str(lat), str(lon), "김민지", "민지"):
            assert secret not in text, (secret, text)


async def test_an_unhandled_update_keeps_its_payload_until_handled(
    sessions: SessionFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    async with transaction(sessions) as s:
        await inbox.store(s, [_update(1, 42, "+82 10-2345-6789")], clock.now())
    [row] = (await _inbox(sessions)).values()
    assert row.payload is not None and row.payload["message"]["text"] == "+82 10-2345-6789"
    assert (row.kind, row.chat_id, row.user_id) == ("message", 42, 42)
    async with sessions() as s:  # a crash's replay reads it
        assert [u["update_id"] for u in await inbox.unfinished(s)] == [1]
    clock.advance(timedelta(days=400))
    assert (await _sweep(sessions, clock, tmp_path)).inbox == 0
    assert (await _inbox(sessions))[1].payload is not None
    async with transaction(sessions) as s:
        await inbox.mark_done(s, 1, clock.now())
    row = (await _inbox(sessions))[1]
    assert row.payload is None and (row.kind, row.chat_id, row.user_id) == ("message", 42, 42)
    # A repeat delivery (a day after it arrived) is still recognised; later, the id is new.
    redelivered = clock.now() - timedelta(days=399)
    async with transaction(sessions) as s:
        assert await inbox.store(s, [_update(1, 42, "again")], redelivered) == []


async def test_handled_inbox_rows_go_after_seven_days_unhandled_ones_stay(
    sessions: SessionFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    start = clock.now()
    async with transaction(sessions) as s:
        await inbox.store(s, [_update(i, 42, f"m{i}") for i in range(1, 8)], start)
        for update_id in (1, 2, 3, 4, 5):
            await inbox.mark_done(s, update_id, start)
    clock.advance(timedelta(days=6))
    async with transaction(sessions) as s:
        await inbox.mark_done(s, 6, clock.now())  # handled late: its window starts now
    # Update 7 is never handled (the process died before).

    clock.set(start + timedelta(days=7) - timedelta(minutes=1))
    assert (await _sweep(sessions, clock, tmp_path)).inbox == 0
    clock.set(start + timedelta(days=7, minutes=1))
    swept = await job.sweep(sessions, LocalFileStore(tmp_path), clock, DEFAULTS, batch=2)
    assert swept.inbox == 5  # in batches of two
    assert sorted(await _inbox(sessions)) == [6, 7]
    clock.set(start + timedelta(days=13, minutes=1))
    assert (await _sweep(sessions, clock, tmp_path)).inbox == 1
    rows = await _inbox(sessions)
    assert sorted(rows) == [7] and rows[7].payload is not None
    assert (await _sweep(sessions, clock, tmp_path)).inbox == 0  # idempotent


# --------------------------------------------------------------------------- the outbox


async def _notice(
    sessions: SessionFactory, key: str, now: datetime, not_before: datetime | None = None
) -> int:
    """A notice naming a person, queued at `now`."""
    async with transaction(sessions) as s:
        await outbox.enqueue(
            s, key=key, chat_id=42, kind="meetup_joined", values={"name": "김민지"},
            now=now, not_before=not_before,
        )  # fmt: skip
        found = await s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
    assert found is not None
    return found


async def test_finished_outbox_rows_go_thirty_days_after_their_last_try(
    sessions: SessionFactory, clock: FrozenClock, tmp_path: Path
) -> None:
    start = clock.now()
    ids = {k: await _notice(sessions, k, start) for k in ("sent", "failed", "skipped", "stuck")}
    await _notice(sessions, "later", start, not_before=start + timedelta(days=1000))
    async with transaction(sessions) as s:
        assert len(await outbox.claim(s, "w", start)) == 4  # "later" is not due
        await outbox.mark_sent(s, ids["sent"], 1)
        await outbox.mark_failed(s, ids["failed"], "400")
        await outbox.mark_skipped(s, [ids["skipped"]], "blocked")
    # "stuck": its worker died; ten days later another claims it again and sends it.
    # "flying": queued then, claimed, in flight (not finished).
    clock.set(start + timedelta(days=10))
    ids["flying"] = await _notice(sessions, "flying", clock.now())
    async with transaction(sessions) as s:
        claimed = await outbox.claim(s, "w2", clock.now())
        assert {c.id for c in claimed} == {ids["stuck"], ids["flying"]}
        await outbox.mark_sent(s, ids["stuck"], 2)

    clock.set(start + timedelta(days=30) - timedelta(minutes=1))
    assert (await _sweep(sessions, clock, tmp_path)).outbox == 0
    clock.set(start + timedelta(days=30, minutes=1))
    assert (await _sweep(sessions, clock, tmp_path)).outbox == 3
    assert await _outbox(sessions) == {"stuck": "sent", "later": "pending", "flying": "sending"}
    clock.set(start + timedelta(days=40, minutes=1))
    assert (await _sweep(sessions, clock, tmp_path)).outbox == 1
    assert await _outbox(sessions) == {"later": "pending", "flying": "sending"}
    clock.set(start + timedelta(days=400))
    assert (await _sweep(sessions, clock, tmp_path)).outbox == 0
    assert await _outbox(sessions) == {"later": "pending", "flying": "sending"}


# --------------------------------------------------------------------------- evidence photos


def _s3_keys(config: S3Config) -> set[str]:
    client = boto3.client(
        "s3", endpoint_url=config.endpoint_url, region_name=config.region,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    listed = client.list_objects_v2(Bucket=config.bucket, Prefix=config.prefix)
    return {o["Key"].removeprefix(config.prefix) for o in listed.get("Contents", [])}


async def _use_s3(bot: BotHarness, config: S3Config) -> None:
    await configure(
        bot, s3_bucket=config.bucket, s3_endpoint_url=config.endpoint_url,
        s3_region=config.region, s3_access_key_id="test", s3_secret_access_key=SecretStr("test"),
    )  # fmt: skip


async def _stored(bot: BotHarness, key: str) -> bool:
    try:
        await bot.app.bot_data[SERVICES_KEY].photos.get(key)
    except KeyError:
        return False
    return True


async def _decide(scene: Scene, action: str) -> None:
    card = review_card(scene.bot, scene.group_id)
    await scene.bot.press(scene.admin.user, card, action_data(card, action))


async def _checked_in_host(scene: Scene) -> None:
    async with transaction(scene.bot.sessions) as s:
        found = await meetings.participation(s, scene.meeting_id, scene.host.id)
        assert found is not None
        found.checked_in_at = scene.bot.clock.now()


async def _ends_at(scene: Scene) -> datetime:
    async with scene.bot.sessions() as s:
        meeting = await s.get(Meeting, scene.meeting_id)
        assert meeting is not None
        return meeting.ends_at


async def _ledger(bot: BotHarness) -> list[tuple[Any, ...]]:
    async with bot.sessions() as s:
        rows = await s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        return [(r.id, r.user_id, r.amount, r.balance_after, r.kind, r.reference) for r in rows]


@pytest.mark.parametrize("where", ["disk", "s3"])
async def test_old_photos_are_deleted_keeping_hash_decision_and_ledger(
    scene: Scene, moto_s3: S3Config, tmp_path: Path, where: str
) -> None:
    bot, guest = scene.bot, scene.guest
    if where == "s3":
        await _use_s3(bot, moto_s3)
    # The guest's original keeps EXIF: taken at the lake during the meetup; it is approved.
    original = corpus.camera_jpeg(
        71, taken=meetup_moment(bot), gps=corpus.SEOKCHON_LAKE, size=(640, 480)
    )
    await bot.act(
        guest.id, bot.emulator.send_document(guest.id, original, "IMG_7.JPG", "image/jpeg")
    )
    await run_checks(bot)
    await _decide(scene, Action.REVIEW_APPROVE)
    # The host's photo waits for an admin: undecided, its file stays however old.
    await _checked_in_host(scene)
    await send_photo(bot, scene.host, corpus.plain_jpeg(72, size=(640, 480)))
    await run_checks(bot)
    guest_row, host_row = await evidence_rows(bot)
    assert guest_row.status == "approved" and host_row.status == "in_review"
    assert guest_row.exif_lat is not None and guest_row.storage_key and host_row.storage_key
    guest_key, host_key = guest_row.storage_key, host_row.storage_key
    assert await _stored(bot, guest_key) and await _stored(bot, host_key)
    if where == "s3":
        assert {guest_key, host_key} <= _s3_keys(moto_s3)
    ledger_before, balance = await _ledger(bot), await balance_of(bot, guest.id)
    assert balance == scene.points and ledger_before

    ends = await _ends_at(scene)
    bot.clock.set(ends + timedelta(days=180) - timedelta(minutes=1))
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    assert [r.storage_key for r in await evidence_rows(bot)] == [guest_key, host_key]
    assert await _stored(bot, guest_key)

    bot.clock.set(ends + timedelta(days=180, minutes=1))
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    gone, waiting = await evidence_rows(bot)
    # Gone: the file (from the store: disk or bucket) and what the photo told of the person.
    assert not await _stored(bot, guest_key)
    if where == "s3":
        assert guest_key not in _s3_keys(moto_s3)
    else:
        assert not LocalFileStore(tmp_path / "photos").path(guest_key).exists()
    assert gone.storage_key is None and gone.file_id == ""
    assert gone.exif_lat is None and gone.exif_lon is None and gone.exif_taken_at is None
    assert gone.photo_deleted_at == bot.clock.now()
    # Stays: the hash (duplicates), the verdicts, the decision, the money.
    assert gone.phash == guest_row.phash and gone.status == "approved"
    assert gone.flags == guest_row.flags and gone.file_unique_id == guest_row.file_unique_id
    checks = {c["check"]: c["reason"] for c in (gone.signals or {})["checks"]}
    assert checks["place"] == "near" and checks["time"] == "during"
    async with bot.sessions() as s:
        review = await s.scalar(select(Review).where(Review.evidence_id == gone.id))
    assert review is not None and review.decision == "approved"
    assert await _ledger(bot) == ledger_before and await balance_of(bot, guest.id) == balance
    # The undecided photo is untouched.
    assert waiting.storage_key == host_key and waiting.photo_deleted_at is None
    assert await _stored(bot, host_key)

    # Idempotent: a second run finds nothing; once decided, the host's photo goes too.
    assert (await _sweep_bot(bot)).photos == 0
    await _decide(scene, Action.REVIEW_APPROVE)
    assert (await _sweep_bot(bot)).photos == 1
    assert not await _stored(bot, host_key)


async def _sweep_bot(bot: BotHarness) -> job.Swept:
    svc = bot.app.bot_data[SERVICES_KEY]
    return await job.sweep(bot.sessions, svc.photos, bot.clock, DEFAULTS)


async def test_a_file_another_photo_still_needs_stays(scene: Scene) -> None:
    """Keys are content hashes: the same bytes sent by two people are one file. (Both are
    checked before either is approved: a copy of an approved photo is refused unstored.)"""
    bot = scene.bot
    same = corpus.plain_jpeg(81, size=(640, 480))
    await send_photo(bot, scene.guest, same)
    await run_checks(bot)
    first_card = review_card(bot, scene.group_id)
    await _checked_in_host(scene)
    await send_photo(bot, scene.host, same)
    await run_checks(bot)
    await bot.press(scene.admin.user, first_card, action_data(first_card, Action.REVIEW_APPROVE))
    first, second = await evidence_rows(bot)
    assert first.storage_key == second.storage_key and first.storage_key is not None
    key = first.storage_key

    bot.clock.set(await _ends_at(scene) + timedelta(days=181))
    swept = await _sweep_bot(bot)
    assert (swept.photos, swept.files) == (1, 0)
    first, second = await evidence_rows(bot)
    assert first.storage_key is None and second.storage_key == key
    assert await _stored(bot, key)
    await _decide(scene, Action.REVIEW_REJECT)  # the same bytes pay once: a duplicate
    copy = review_card(bot, scene.group_id)
    await bot.press(
        scene.admin.user, copy, callbacks.encode(Action.REVIEW_REASON, second.id, "duplicate")
    )
    swept = await _sweep_bot(bot)
    assert (swept.photos, swept.files) == (1, 1)
    assert not await _stored(bot, key)


async def test_an_expired_photo_leaves_its_review_card_with_the_placeholder(scene: Scene) -> None:
    """The photo's review card in the admin group showed the photo: when the photo's retention
    ends, the card's photo becomes the grey placeholder (an edit queued with the deletion, sent
    by the outbox) and its caption, name and decision stay as the admins saw them."""
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.plain_jpeg(91, size=(640, 480)))
    await run_checks(bot)
    await _decide(scene, Action.REVIEW_APPROVE)
    decided = review_card(bot, scene.group_id)
    assert "Approved by Admin Kim" in decided["caption"] and "Mina" in decided["caption"]

    bot.clock.set(await _ends_at(scene) + timedelta(days=180, minutes=1))
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    async with bot.sessions() as s:  # queued in the transaction that recorded the deletion
        queued = (await s.scalars(select(OutboxMessage))).all()
    [edit] = [r for r in queued if r.dedupe_key.startswith("card:review:")]
    assert edit.status == "pending" and edit.chat_id == scene.group_id
    await bot.run_outbox()

    [card] = [
        m for m in bot.emulator.transcript(scene.group_id)
        if m["message_id"] == decided["message_id"]
    ]  # fmt: skip
    before = {p["file_unique_id"] for p in decided["photo"]}
    assert not before & {p["file_unique_id"] for p in card["photo"]}
    assert max(p["width"] for p in card["photo"]) == PLACEHOLDER_SIZE[0]
    assert card["caption"] == decided["caption"] and not buttons(card)
    # Once: a second run of the job queues nothing more.
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    assert await bot.run_outbox() == 0


async def test_an_expired_photo_leaves_its_appeal_card_with_the_placeholder(
    scene: Scene,
) -> None:
    """An appeal's card shows the photo too: it gets the same placeholder, its caption (the
    reason and the final outcome) as it was."""
    bot = scene.bot
    await send_photo(bot, scene.guest, corpus.plain_jpeg(92, size=(640, 480)))
    await run_checks(bot)
    card = review_card(bot, scene.group_id)
    photo = callbacks.decode(action_data(card, Action.REVIEW_APPROVE)).int_arg(0)
    second = await new_admin(bot, "Admin Lee")
    async with transaction(bot.sessions) as s:
        await evidence.decide(
            s, evidence_id=photo, reviewer_id=scene.admin.id, action=evidence.REJECT,
            reason="blurry", now=bot.clock.now(), rules=evidence.EvidenceRules(),
        )  # fmt: skip
        await appeals.file_for_card(
            s, evidence_id=photo, user_id=scene.guest.id, reason="it is just dark",
            now=bot.clock.now(), retention=timedelta(days=180), admin_chat_id=scene.group_id,
            max_attempts=3,
        )  # fmt: skip
    await bot.run_outbox()
    [posted] = [m for m in bot.bot_messages(scene.group_id) if "just dark" in m.get("caption", "")]
    async with transaction(bot.sessions) as s:
        await appeals.decide(
            s, evidence_id=photo, reviewer_id=second.id, approve=False, now=bot.clock.now(),
            rules=evidence.EvidenceRules(),
        )  # fmt: skip

    bot.clock.set(await _ends_at(scene) + timedelta(days=180, minutes=1))
    await retention_sweep(_JobContext(bot.app))  # type: ignore[arg-type]
    await bot.run_outbox()
    chat = bot.emulator.transcript(scene.group_id)
    [now] = [m for m in chat if m["message_id"] == posted["message_id"]]
    assert max(p["width"] for p in now["photo"]) == PLACEHOLDER_SIZE[0]
    assert "just dark" in now["caption"] and "Mina" in now["caption"] and not buttons(now)


async def test_the_job_runs_daily_and_soon_after_start(db_url: str) -> None:
    application = build_application(
        make_settings(database_url=db_url), rate_limited=False, handle_updates=False
    )
    queue = application.job_queue
    assert queue is not None
    [found] = queue.get_jobs_by_name("retention")
    assert found.job.trigger.interval == timedelta(days=1)


async def test_a_worker_logs_a_failing_job_through_the_error_handler(db_url: str) -> None:
    """`halsaram worker` handles no updates but runs jobs: one that raises goes to the
    project's error handler (type and update id, no personal data), not PTB's fallback."""
    application = build_application(
        make_settings(database_url=db_url), rate_limited=False, handle_updates=False
    )
    assert list(application.error_handlers) == [errors.on_error]
