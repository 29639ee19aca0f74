"""The photo store failing (the disk full, S3 unreachable): the evidence stays queued, its
sender is told once that it is safe and only delayed, and once the store works it is checked
and reaches the reviewers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from bot.services import SERVICES_KEY
from scheduler.evidence import checker_for
from storage.files import S3Config
from tests import photo_corpus as corpus
from tests.people import Scene, configure, evidence_rows, run_checks, send_photo
from tests.servers import free_port

pytestmark = pytest.mark.usefixtures("seeded")
DELAYED = "is safe with me, but checking it is taking longer than usual"


def _told(at: Scene) -> list[str]:
    return [text for text in at.guest.inbox() if DELAYED in text]


async def test_a_full_disk_keeps_the_evidence_queued_and_the_sender_is_told_once(
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot, guest = scene.bot, scene.guest
    [ack] = await send_photo(bot, guest, corpus.camera_jpeg(5))
    assert "Got it" in ack["text"]
    store = checker_for(bot.app.bot_data, bot.app.bot_data[SERVICES_KEY].settings).store

    async def disk_full(_data: bytes) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "put", disk_full)
    for _ in range(3):  # the job runs every few seconds while the disk stays full
        assert await run_checks(bot) == 0
        await bot.run_outbox()
    [waiting] = await evidence_rows(bot)
    assert waiting.status == "received"  # back in the queue, not lost, not half-checked
    assert len(_told(scene)) == 1
    monkeypatch.undo()
    assert await run_checks(bot) == 1
    [checked] = await evidence_rows(bot)
    assert checked.status == "in_review" and checked.storage_key


@pytest.fixture
def s3_that_goes_away() -> Iterator[tuple[S3Config, ThreadedMotoServer]]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    config = S3Config(
        bucket="halsaram-down", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1",
        access_key_id="test", secret_access_key="test",
    )  # fmt: skip
    yield config, server
    server.stop()


async def test_unreachable_s3_keeps_the_evidence_queued_until_it_is_back(
    scene: Scene,
    s3_that_goes_away: tuple[S3Config, ThreadedMotoServer],
) -> None:
    import boto3

    config, server = s3_that_goes_away
    bot, guest = scene.bot, scene.guest
    await configure(
        bot, s3_bucket=config.bucket, s3_endpoint_url=config.endpoint_url,
        s3_region=config.region, s3_access_key_id="test", s3_secret_access_key=SecretStr("test"),
    )  # fmt: skip
    server.stop()  # S3 is gone before the photo arrives
    await send_photo(bot, guest, corpus.camera_jpeg(6))
    assert await run_checks(bot) == 0
    await bot.run_outbox()
    [waiting] = await evidence_rows(bot)
    assert waiting.status == "received" and waiting.storage_key is None
    assert len(_told(scene)) == 1
    server.start()  # back (moto starts empty: the bucket is made again)
    boto3.client(
        "s3", endpoint_url=config.endpoint_url, region_name=config.region,
        aws_access_key_id="test", aws_secret_access_key="test",
    ).create_bucket(Bucket=config.bucket)  # fmt: skip
    assert await run_checks(bot) == 1
    [checked] = await evidence_rows(bot)
    assert checked.status == "in_review" and checked.storage_key
