"""How fast `/map` draws: the base layer (outline, neighbours, places) and the pins on top.

Draws the same sample as docs/make_samples.py, 20 times each. Prints one JSON line with the
median milliseconds; target: the whole map well under a second (500 ms).
"""

from __future__ import annotations

import json
import runpy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 500.0


def main() -> None:
    samples = runpy.run_path(str(ROOT / "docs" / "make_samples.py"))
    took = []
    for _ in range(20):
        started = time.perf_counter()
        png = samples["sample_map"]()
        took.append((time.perf_counter() - started) * 1000)
    median = statistics.median(took)
    print(json.dumps({
        "bench": "map_render", "median_ms": round(median, 1), "png_kb": len(png) // 1024,
        "target_ms": TARGET_MS, "ratio": round(TARGET_MS / median, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
