"""Faults the photo pipeline must survive: the photo store failing (disk full, S3 unreachable)
keeps the evidence queued and loses nothing; once the store works again it is checked."""

from __future__ import annotations

import pytest

from handlers.context import SERVICES_KEY
from scheduler.evidence import checker_for
from tests import photo_corpus as corpus
from tests.test_evidence import Scene, _evidence, _send_photo, run_checks, scene  # noqa: F401

pytestmark = pytest.mark.usefixtures("seeded")


async def test_a_failing_photo_store_keeps_the_evidence_queued(
    scene: Scene,  # noqa: F811 — the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot, guest = scene.bot, scene.guest
    [ack] = await _send_photo(bot, guest, corpus.camera_jpeg(5))
    assert "Got it" in ack["text"]
    store = checker_for(bot.app.bot_data, bot.app.bot_data[SERVICES_KEY].settings).store

    async def disk_full(_data: bytes) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "put", disk_full)
    assert await run_checks(bot) == 0
    [waiting] = await _evidence(bot)
    assert waiting.status == "received"  # back in the queue, not lost, not half-checked
    monkeypatch.undo()
    assert await run_checks(bot) == 1
    [checked] = await _evidence(bot)
    assert checked.status == "in_review" and checked.storage_key
