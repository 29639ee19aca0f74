"""The verification job: claims received photos, downloads and stores them, runs the checks,
and queues a review card per photo for the admin group (sent by the outbox).

Claims are guarded UPDATEs (received → checking), so two workers never check one photo; a
download that fails for a passing reason puts the photo back. Each check gives a signal with
a reason for the human reviewer, with one exception (issue 21): a copy — the bytes (SHA-256)
or the picture (perceptual hash within `evidence.TWIN` bits) of an approved photo, or the
bytes of the sender's own photo that was not accepted — is refused here, without a card, and
its sender is told why (`storage.evidence.refuse_copy`); nearer misses stay a signal on the
card. The near-duplicate index lives in this process and catches up from the database before
each batch (new hashes above what it loaded, plus photos that were still unhashed then).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.services import photo_store
from bot.settings import Settings
from storage import evidence, proof_words
from storage.clock import Clock
from storage.db import SessionFactory, transaction
from storage.files import FileStore, content_key
from verification import ai_judge, photos, video
from verification import proof_words as words
from verification.duplicates import DuplicateIndex, hash_int

log = logging.getLogger(__name__)
CHECKER_KEY = "evidence_checker"
BATCH = 5
MAX_MATCHES = 3
# In the stored signals: the photo store keeps a JPEG of an original Telegram cannot show
# (HEIC), and the review card uploads that instead of the file.


@dataclass
class Checker:
    """What the job keeps between runs: where bytes go, the AI judge, the duplicate index."""

    store: FileStore
    judge: ai_judge.JudgeConfig | None
    index: DuplicateIndex = field(default_factory=DuplicateIndex)
    loaded_up_to: int = 0
    unhashed: set[int] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings) -> Checker:
        judge = None
        if settings.openai_api_key is not None and settings.evidence_ai_judge:
            judge = ai_judge.JudgeConfig(
                api_key=settings.openai_api_key.get_secret_value(),
                model=settings.openai_model,
                base_url=settings.openai_base_url,
                timeout_seconds=settings.openai_timeout_seconds,
            )
        return cls(photo_store(settings), judge)

    async def catch_up(self, sessions: SessionFactory) -> None:
        """Adds hashes stored since the last run (by this or any other worker)."""
        async with sessions() as session:
            fresh = await evidence.phashes_after(session, self.loaded_up_to)
            late = await evidence.phashes_of(session, sorted(self.unhashed))
            if fresh:
                self.loaded_up_to = fresh[-1][0]
            self.unhashed = set(await evidence.unhashed_up_to(session, self.loaded_up_to))
        self.index.add_many((i, hash_int(h)) for i, h in [*fresh, *late])


def checker_for(bot_data: dict[str, Any], settings: Settings) -> Checker:
    found = bot_data.get(CHECKER_KEY)
    if not isinstance(found, Checker):
        found = bot_data[CHECKER_KEY] = Checker.from_settings(settings)
    return found


async def check_once(
    bot: Bot, sessions: SessionFactory, clock: Clock, settings: Settings, checker: Checker
) -> int:
    """Checks a batch of received photos and posts due cards; returns how many were checked."""
    async with transaction(sessions) as session:
        claimed = await evidence.claim_for_checking(session, clock.now(), BATCH)
    if claimed:
        await checker.catch_up(sessions)
    checked = 0
    for evidence_id in claimed:
        try:
            checked += await _check(bot, sessions, clock, settings, checker, evidence_id)
        except StoreUnavailable as exc:
            # Disk full, S3 unreachable: the photo stays queued and its sender hears why.
            log.warning(
                "photo store failed (%s); evidence %s stays queued",
                type(exc.__cause__).__name__, evidence_id,
            )  # fmt: skip
            async with transaction(sessions) as session:
                await evidence.hold_for_storage(session, evidence_id, clock.now())
        except Exception:
            # The database failing, a bug: the photo goes back for the next run, the job carries on.
            log.exception("checking evidence %s failed; it will be retried", evidence_id)
            async with transaction(sessions) as session:
                await evidence.release(session, evidence_id)
    await post_cards(sessions, settings, clock.now())
    return checked


class StoreUnavailable(Exception):
    """The photo store refused a photo (disk full, S3 unreachable, no permission)."""


async def _download(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


async def _check(
    bot: Bot,
    sessions: SessionFactory,
    clock: Clock,
    settings: Settings,
    checker: Checker,
    evidence_id: int,
) -> int:
    """Checks one claimed photo and queues it for review (or refuses it as a copy); 0 when it
    went back to the queue."""
    async with sessions() as session:
        item = await evidence.check_item(session, evidence_id)
    signals: list[photos.Signal] = []
    data: bytes | None = None
    try:
        data = await _download(bot, item.file_id)
    except BadRequest as exc:  # too big, or an id Telegram no longer knows: retrying won't help
        detail = {"detail": exc.message}
        signals.append(photos.Signal("download", "warn", "download_failed", detail))
    except (RetryAfter, NetworkError):
        async with transaction(sessions) as session:
            await evidence.release(session, evidence_id)
        return 0
    # The bytes as downloaded (a video's own, not its frame's): the same file sent again.
    digest = content_key(data) if data is not None else None
    clip: video.VideoReport | None = None
    if data is not None and item.media_kind != evidence.PHOTO:
        # Issue 21: a video is checked, hashed, judged, stored and shown as one frame of it;
        # its own signals (live or not, when, how long) replace a photo's source/time/place.
        clip = await asyncio.to_thread(video.inspect, data)
        data = clip.frame
        signals += _video_signals(clip, item, settings)
    report, key, converted = photos.PhotoReport(error="not downloaded"), None, False
    if data is not None and digest is not None:
        report = await asyncio.to_thread(photos.inspect, data)
        copy = await _copy_of(sessions, checker, item, digest, report.phash)
        if copy is not None:
            return await _refuse(sessions, clock, settings, checker, item, copy, digest, report)
        key, converted = await _store(checker, data, report)
        signals += _meetup_signals(report, item, settings)
    if report.phash is not None:
        signals.append(await _duplicates(sessions, checker, item, report.phash))
    verdict = None
    if data is not None and report.error is None and checker.judge is not None:
        verdict = await _judge(checker.judge, data, item)
        signals += await _judge_signals(sessions, item, verdict)
    outcome = _result(report, key, signals, verdict, settings)
    outcome.sha256 = digest
    if converted:
        outcome.signals[evidence.SHOWN_AS_JPEG] = True
    if clip is not None and key is not None and item.media_kind == evidence.VIDEO_NOTE:
        # A round video cannot carry a caption: its card is the stored frame (issue 21).
        outcome.signals[evidence.SHOWN_AS_JPEG] = True
    async with transaction(sessions) as session:
        recorded = await evidence.record_checks(session, evidence_id, outcome)
    if report.phash is not None:
        checker.index.add(evidence_id, hash_int(report.phash))
    return int(recorded)


async def _store_and_inspect(checker: Checker, data: bytes) -> tuple[str, photos.PhotoReport, bool]:
    """Reads the image, then keeps it (a failing store stops here): as sent, or as a JPEG with
    its EXIF when Telegram cannot show the original (an iPhone's HEIC) — True then."""
    report = await asyncio.to_thread(photos.inspect, data)
    key, converted = await _store(checker, data, report)
    return key, report, converted


async def _store(checker: Checker, data: bytes, report: photos.PhotoReport) -> tuple[str, bool]:
    """Keeps an inspected image (a failing store stops here): as sent, or as a JPEG with its
    EXIF when Telegram cannot show the original (an iPhone's HEIC) — True then."""
    jpeg = await asyncio.to_thread(photos.viewable_jpeg, data, report)
    try:
        key = await checker.store.put(jpeg if jpeg is not None else data)
    except Exception as exc:
        raise StoreUnavailable from exc
    return key, jpeg is not None


async def _copy_of(
    sessions: SessionFactory,
    checker: Checker,
    item: evidence.CheckItem,
    digest: str,
    phash: str | None,
) -> evidence.Copy | None:
    """Whether the photo is a copy: of an approved photo (its bytes, or its picture within
    `evidence.TWIN` bits), or the bytes of the sender's photo that was not accepted."""
    twins: list[tuple[int, int]] = []
    if phash is not None:
        found = checker.index.search(hash_int(phash), evidence.TWIN)
        twins = [(m.evidence_id, m.distance) for m in found]
    async with sessions() as session:
        return await evidence.find_copy(session, item.evidence_id, digest, twins)


async def _refuse(
    sessions: SessionFactory,
    clock: Clock,
    settings: Settings,
    checker: Checker,
    item: evidence.CheckItem,
    copy: evidence.Copy,
    digest: str,
    report: photos.PhotoReport,
) -> int:
    """Refuses a copy (its sender is told why, no try used, no card); 1 when it was still ours."""
    rules = evidence.EvidenceRules.from_settings(settings)
    async with transaction(sessions) as session:
        refused = await evidence.refuse_copy(
            session, item.evidence_id, copy, sha256=digest, phash=report.phash,
            now=clock.now(), rules=rules,
        )  # fmt: skip
    if report.phash is not None:
        checker.index.add(item.evidence_id, hash_int(report.phash))
    return int(refused)


def _meetup_signals(
    report: photos.PhotoReport, item: evidence.CheckItem, settings: Settings
) -> list[photos.Signal]:
    """What the checks ran on (an original or a compressed photo), then time, place and
    format against the meetup, and a capture before check-in."""
    if item.media_kind != evidence.PHOTO:
        return []  # a video's frame has no EXIF: `_video_signals` says what it has (issue 21)
    source = photos.source_signal(item.as_document, report)
    signals = photos.meetup_signals(
        report, starts_at=item.starts_at, ends_at=item.ends_at, lat=item.lat, lon=item.lon,
        zone=settings.zone, expected=item.named_format,
    )  # fmt: skip
    early = photos.checkin_signal(report, item.checked_in_at, settings.zone)
    return [source, *signals, *([early] if early is not None else [])]


def _video_signals(
    clip: video.VideoReport, item: evidence.CheckItem, settings: Settings
) -> list[photos.Signal]:
    """A video's signals (issue 21): a live round video or a video file, when it was recorded
    (a round video: sent), its real length, and a round video that is not square."""
    return video.signals(
        clip, live=item.media_kind == evidence.VIDEO_NOTE, sent_at=item.submitted_at,
        starts_at=item.starts_at, ends_at=item.ends_at, zone=settings.zone,
    )  # fmt: skip


async def _judge_signals(
    sessions: SessionFactory, item: evidence.CheckItem, verdict: ai_judge.Judgement
) -> list[photos.Signal]:
    """The AI judge's verdict, and the proof word against what it read."""
    result = {"yes": "ok", "no": "warn"}.get(verdict.verdict, "unknown")
    signals = [photos.Signal("ai", result, verdict.verdict, {"detail": verdict.reason})]
    word = await _proof_word(sessions, item, verdict)
    return [*signals, word] if word is not None else signals


def _result(
    report: photos.PhotoReport,
    key: str | None,
    signals: list[photos.Signal],
    verdict: ai_judge.Judgement | None,
    settings: Settings,
) -> evidence.CheckResult:
    """What the checks found, as stored: every signal, and "look closely" on any warning."""
    flags = sorted({s.check for s in signals if s.result == "warn"})
    return evidence.CheckResult(
        storage_key=key,
        phash=report.phash,
        taken_at=photos.taken_at_utc(report, settings.zone),
        lat=report.gps.lat if report.gps else None,
        lon=report.gps.lon if report.gps else None,
        signals={
            "checks": [s.as_json() for s in signals],
            "recommendation": "look_closely" if flags else "approve",
        },
        flags=flags,
        ai_verdict=verdict.verdict if verdict else None,
        ai_reason=verdict.reason if verdict else None,
    )


async def _duplicates(
    sessions: SessionFactory, checker: Checker, item: evidence.CheckItem, phash: str
) -> photos.Signal:
    found = checker.index.search(hash_int(phash))
    matches = [m for m in found if m.evidence_id != item.evidence_id]
    if not matches:
        return photos.Signal("duplicate", "ok", "unique", {})
    nearest = matches[0]
    async with sessions() as session:
        owners = await evidence.senders(session, [m.evidence_id for m in matches[:MAX_MATCHES]])
    return photos.Signal(
        "duplicate", "warn", "near_duplicate",
        {"of": nearest.evidence_id, "distance": nearest.distance,
         "same_person": owners.get(nearest.evidence_id) == item.user_id,
         "others": [m.evidence_id for m in matches[1:MAX_MATCHES]]},
    )  # fmt: skip


async def _judge(
    config: ai_judge.JudgeConfig, data: bytes, item: evidence.CheckItem
) -> ai_judge.Judgement:
    try:
        preview = await asyncio.to_thread(ai_judge.preview_jpeg, data)
    except Exception:  # inspect() read it, so this is rare; the judge is optional anyway
        return ai_judge.Judgement(ai_judge.UNAVAILABLE, "could not prepare the image")
    return await ai_judge.judge(
        config, preview, item.mission_title, item.evidence_rule, item.proof_word
    )


async def _proof_word(
    sessions: SessionFactory, item: evidence.CheckItem, verdict: ai_judge.Judgement
) -> photos.Signal | None:
    """The proof word against what the AI judge read: seen, missing, or another meetup's."""
    if item.proof_word is None or verdict.verdict == ai_judge.UNAVAILABLE:
        return None
    async with sessions() as session:
        elsewhere = await proof_words.issued_elsewhere(
            session, item.meeting_id, words.candidates(verdict.visible_text)
        )
    return words.assess(item.proof_word, verdict.word_visible, verdict.visible_text, elsewhere)


async def post_cards(sessions: SessionFactory, settings: Settings, now: datetime) -> int:
    """Queues a card for each checked photo that has none yet; returns how many were queued.

    The outbox sends them (kind `review_card`, `bot/outbox_cards.py`): paced with every other
    send, tried again after an outage, followed to a supergroup, and never lost to a crash
    between queueing and sending (a claimed row is sent again once stale)."""
    chat_id = settings.admin_chat_id
    if chat_id is None:
        return 0  # no admin group: admins use /review
    async with sessions() as session:
        due = await evidence.cards_due(session)
    queued = 0
    for evidence_id in due:
        async with transaction(sessions) as session:
            queued += await evidence.queue_card(
                session, evidence_id, chat_id, settings.evidence_max_attempts, now
            )
    return queued
