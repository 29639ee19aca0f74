"""Median milliseconds to verify a 12-megapixel camera JPEG (decode, orientation, pHash, EXIF)
with `verification.photos.inspect`, against a naive full-size decode of the same steps.

`Image.draft` lets the JPEG decoder scale by 1/8 while decoding, so the fast path touches far
fewer pixels; the target is at least 2.5× faster. Prints one JSON line.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imagehash
from PIL import Image, ImageOps

from tests.photo_corpus import big_camera_jpeg
from verification.photos import inspect

ROUNDS = 9
TARGET_SPEEDUP = 2.5


def naive(data: bytes) -> str:
    """The obvious way: decode every pixel, rotate, hash, read EXIF."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        image.getexif()
        return str(imagehash.phash(upright))


def median_ms(work: object, data: bytes) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work(data)  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    data = big_camera_jpeg()
    report = inspect(data)
    if report.error or (report.width, report.height) != (4000, 3000) or report.taken_at is None:
        raise SystemExit(f"unexpected report: {report}")
    if report.taken_at != datetime(2026, 11, 25, 12, 10):
        raise SystemExit("EXIF time not read")
    inspect(data), naive(data)  # warm up
    fast = median_ms(inspect, data)
    full = median_ms(naive, data)
    print(json.dumps({
        "bench": "photo_verify_12mp", "bytes": len(data), "median_ms": round(fast, 1),
        "naive_median_ms": round(full, 1), "speedup": round(full / fast, 2),
        "target_speedup": TARGET_SPEEDUP,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
