"""Step 5, the checks: a corpus of camera JPEGs the tests make (rotated, GPS, no EXIF, broken
EXIF, truncated, PNG named .jpg, a decompression bomb), the near-duplicate index against brute
force, `halsaram inspect-photo`, photo storage on local disk and on a moto S3 server, and the
AI judge against a local fake OpenAI-compatible server (yes / no / malformed / timeout). The
`moto_s3` and `fake_judge` fixtures live in tests/conftest.py."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import imagehash
import pytest
from PIL import Image

from storage.files import LocalFileStore, S3Config, S3FileStore, content_key
from tests import photo_corpus as corpus
from tests.people import SEOUL
from tests.servers import FakeJudge
from verification import ai_judge, photos
from verification.duplicates import DuplicateIndex

ROOT = Path(__file__).resolve().parents[1]
STARTS = datetime(2026, 11, 25, 12, 0, tzinfo=SEOUL)
ENDS = STARTS + timedelta(minutes=40)
LAKE = corpus.SEOKCHON_LAKE


def _distance(a: str | None, b: str | None) -> int:
    assert a is not None and b is not None
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _signals(report: photos.PhotoReport, expected: str | None = None) -> dict[str, str]:
    found = photos.meetup_signals(
        report, starts_at=STARTS, ends_at=ENDS, lat=LAKE[0], lon=LAKE[1], zone=SEOUL,
        expected=expected,
    )  # fmt: skip
    return {s.check: s.reason for s in found}


# --------------------------------------------------------------------------- the corpus


def test_orientation_is_applied_before_hashing() -> None:
    upright = photos.inspect(corpus.camera_jpeg(3))
    rotated = photos.inspect(corpus.rotated_as_phone(3))
    assert (rotated.width, rotated.height) == (1200, 900)  # stored 900×1200, shown 1200×900
    assert _distance(upright.phash, rotated.phash) <= 2
    # Without the orientation applied, the same picture would look like another one.
    with Image.open(io.BytesIO(corpus.rotated_as_phone(3))) as raw:
        unrotated = str(imagehash.phash(raw))
    assert _distance(upright.phash, unrotated) > 16


def test_gps_and_capture_time_are_read_and_compared_with_the_meetup() -> None:
    data = corpus.camera_jpeg(2, taken=datetime(2026, 11, 25, 12, 10), gps=LAKE)
    report = photos.inspect(data)
    assert report.taken_at == datetime(2026, 11, 25, 12, 10)
    assert report.gps is not None and abs(report.gps.lat - LAKE[0]) < 1e-4
    assert _signals(report) == {"time": "during", "place": "near"}
    elsewhere = photos.inspect(
        corpus.camera_jpeg(2, taken=datetime(2026, 11, 20, 9, 0), gps=(37.5665, 126.9780))
    )
    assert _signals(elsewhere) == {"time": "outside", "place": "far"}


def test_a_photo_without_exif_is_normal() -> None:
    report = photos.inspect(corpus.plain_jpeg(4))
    assert report.error is None and report.exif_error is None and report.phash
    assert report.taken_at is None and report.gps is None
    assert _signals(report) == {"time": "no_time", "place": "no_gps"}


def test_broken_exif_gives_a_reason_and_the_photo_is_still_hashed() -> None:
    report = photos.inspect(corpus.broken_exif_jpeg(5))
    assert report.exif_error and report.phash and report.error is None
    assert _signals(report)["exif"] == "broken_exif"
    assert _distance(report.phash, photos.inspect(corpus.plain_jpeg(5)).phash) <= 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (corpus.truncated_jpeg(), "truncated image"),
        (corpus.decompression_bomb(), "too many pixels (decompression bomb)"),
        (b"GIF89a not really", "not an image"),
        (b"", "not an image"),
    ],
)
def test_hostile_files_never_crash(data: bytes, error: str) -> None:
    report = photos.inspect(data)
    assert report.error == error and report.phash is None
    assert _signals(report) == {"image": "unreadable"}


def test_a_png_named_jpg_is_read_and_flagged() -> None:
    report = photos.inspect(corpus.png_named_jpg(6))
    assert report.format == "PNG" and report.phash
    assert photos.expected_format("IMG_0001.JPG") == "JPEG"
    assert _signals(report, expected="JPEG")["format"] == "renamed"


def test_fast_decode_gives_the_same_hash_as_a_full_decode() -> None:
    data = corpus.camera_jpeg(8, size=(3000, 2000))
    fast, full = photos.inspect(data), photos.inspect(data, fast=False)
    assert (fast.width, fast.height) == (full.width, full.height) == (3000, 2000)
    assert _distance(fast.phash, full.phash) <= 4


def test_inspect_photo_prints_one_json_object_per_file(tmp_path: Path) -> None:
    files = {
        "gps.jpg": corpus.camera_jpeg(2, orientation=6, taken=datetime(2026, 11, 25, 12, 10),
                                      gps=LAKE),
        "broken.jpg": corpus.broken_exif_jpeg(),
        "cut.jpg": corpus.truncated_jpeg(),
        "renamed.jpg": corpus.png_named_jpg(),
    }  # fmt: skip
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "inspect-photo", *files, "missing.jpg"],
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_file = {line["file"]: line for line in lines}
    assert list(by_file) == [*files, "missing.jpg"]
    gps = by_file["gps.jpg"]
    keys = {"file", "width", "height", "phash", "taken_at", "gps", "exif_error"}
    assert set(gps) == keys
    assert (gps["width"], gps["height"]) == (900, 1200)  # orientation 6 applied
    assert gps["taken_at"] == "2026-11-25T12:10:00" and len(gps["phash"]) == 16
    assert gps["gps"] == {"lat": pytest.approx(LAKE[0]), "lon": pytest.approx(LAKE[1])}
    assert by_file["broken.jpg"]["exif_error"] and by_file["broken.jpg"]["phash"]
    assert by_file["cut.jpg"]["error"] == "truncated image"
    assert by_file["renamed.jpg"]["phash"] and "error" not in by_file["renamed.jpg"]
    assert "error" in by_file["missing.jpg"]


# --------------------------------------------------------------------------- duplicates


def test_duplicate_index_matches_brute_force() -> None:
    rng = random.Random(8)
    hashes = [rng.getrandbits(64) for _ in range(20_000)]
    index = DuplicateIndex()
    index.add_many(enumerate(hashes[:15_000], start=1))
    for i, h in enumerate(hashes[15_000:], start=15_001):
        index.add(i, h)  # some in the sorted bands, some in the tail
    assert len(index) == 20_000
    for _ in range(200):
        base = hashes[rng.randrange(len(hashes))]
        query = base
        for bit in rng.sample(range(64), rng.randrange(0, 12)):
            query ^= 1 << bit
        radius = rng.randrange(0, 11)
        found = {(m.evidence_id, m.distance) for m in index.search(query, radius)}
        expected = {
            (i, (h ^ query).bit_count())
            for i, h in enumerate(hashes, start=1)
            if (h ^ query).bit_count() <= radius
        }
        assert found == expected


def test_a_resized_recompressed_copy_is_a_near_duplicate() -> None:
    original = photos.inspect(corpus.camera_jpeg(9))
    smaller = Image.open(io.BytesIO(corpus.camera_jpeg(9))).resize((640, 480))
    copy = photos.inspect(corpus.camera_jpeg(image=smaller, quality=60))
    other = photos.inspect(corpus.camera_jpeg(10))
    index = DuplicateIndex()
    assert original.phash and other.phash and copy.phash
    index.add_many([(1, int(original.phash, 16)), (2, int(other.phash, 16))])
    assert [m.evidence_id for m in index.search(int(copy.phash, 16))] == [1]


# --------------------------------------------------------------------------- storage


async def test_local_store_is_content_addressed(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    data = corpus.plain_jpeg(1)
    key = await store.put(data)
    assert key == content_key(data) and await store.put(data) == key
    assert await store.get(key) == data
    assert store.path(key).is_file() and store.path(key).parent.parent.name == key[:2]
    with pytest.raises(KeyError):
        await store.get(content_key(b"nothing"))
    with pytest.raises(KeyError):
        await store.get("../../etc/passwd")


async def test_s3_store_on_a_moto_server(moto_s3: S3Config) -> None:
    store = S3FileStore(moto_s3)
    data = corpus.camera_jpeg(11, gps=LAKE)
    key = await store.put(data)
    assert key == content_key(data) and await store.put(data) == key
    assert await store.get(key) == data
    listed = store.client.list_objects_v2(Bucket=moto_s3.bucket)["Contents"]
    assert [o["Key"] for o in listed if o["Key"].endswith(key)] == [f"evidence/{key}"]
    with pytest.raises(KeyError):
        await store.get(content_key(b"nothing"))


# --------------------------------------------------------------------------- AI judge


@pytest.mark.parametrize(
    ("mode", "verdict", "reason"),
    [
        ("yes", "yes", "A lake path is visible."),
        ("no", "no", "It shows a desk indoors."),
        ("malformed", "unavailable", "malformed answer"),
        ("error", "unavailable", "API error (InternalServerError)"),
    ],
)
async def test_ai_judge_answers(
    fake_judge: tuple[FakeJudge, str], mode: str, verdict: str, reason: str
) -> None:
    fake, url = fake_judge
    fake.mode = mode
    config = ai_judge.JudgeConfig(api_key="test-key", model="fake-model", base_url=url)
    jpeg = ai_judge.preview_jpeg(corpus.rotated_as_phone(3))
    answer = await ai_judge.judge(config, jpeg, "Walk around Seokchon Lake", "The lake path")
    assert (answer.verdict, answer.reason) == (verdict, reason)
    [request] = fake.requests
    assert request["model"] == "fake-model" and request["text"]["format"]["type"] == "json_schema"
    image = request["input"][0]["content"][1]
    assert image["type"] == "input_image" and image["image_url"].startswith("data:image/jpeg")


async def test_ai_judge_times_out_quickly(fake_judge: tuple[FakeJudge, str]) -> None:
    fake, url = fake_judge
    fake.mode = "slow"
    config = ai_judge.JudgeConfig(api_key="k", model="m", base_url=url, timeout_seconds=0.3)
    started = datetime.now(UTC)
    answer = await ai_judge.judge(config, ai_judge.preview_jpeg(corpus.plain_jpeg()), "x", "y")
    assert answer == ai_judge.Judgement("unavailable", "timeout")
    assert datetime.now(UTC) - started < timedelta(seconds=3)


def test_the_preview_is_upright_and_small() -> None:
    preview = ai_judge.preview_jpeg(corpus.rotated_as_phone(3))
    with Image.open(io.BytesIO(preview)) as image:
        assert image.size == (1024, 768) and not image.getexif()
