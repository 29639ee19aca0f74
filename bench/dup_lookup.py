"""p99 milliseconds to find near-duplicates (Hamming distance ≤ 8 of 64 bits) among 1,000,000
stored perceptual hashes with `verification.duplicates.DuplicateIndex` (target < 5 ms).

Queries are half near-copies of stored hashes (a few bits flipped), half unrelated hashes;
the near-copies must be found. Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from verification.duplicates import NEAR, DuplicateIndex

STORED = 1_000_000
QUERIES = 2_000
TARGET_P99_MS = 5.0


def main() -> None:
    rng = random.Random(42)
    # Random 64-bit values (numpy draws signed integers; the view makes them unsigned).
    drawn = np.random.default_rng(42).integers(-(2**63), 2**63 - 1, size=STORED, dtype=np.int64)
    hashes = drawn.view(np.uint64)
    index = DuplicateIndex()
    started = time.perf_counter()
    index.add_many(enumerate(hashes.tolist(), start=1))
    build_s = time.perf_counter() - started
    timings = []
    missed = 0
    for n in range(QUERIES):
        if n % 2:
            target = rng.randrange(STORED)
            query = int(hashes[target])
            for bit in rng.sample(range(64), rng.randrange(0, NEAR + 1)):
                query ^= 1 << bit
        else:
            target, query = -1, rng.getrandbits(64)
        started = time.perf_counter()
        found = index.search(query, NEAR)
        timings.append((time.perf_counter() - started) * 1000)
        if target >= 0 and target + 1 not in {m.evidence_id for m in found}:
            missed += 1
    if missed:
        raise SystemExit(f"{missed} near-copies not found")
    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(json.dumps({
        "bench": "duplicate_lookup", "stored": STORED, "queries": QUERIES, "max_distance": NEAR,
        "build_s": round(build_s, 2), "p50_ms": round(timings[len(timings) // 2], 3),
        "p99_ms": round(p99, 3), "target_p99_ms": TARGET_P99_MS,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
