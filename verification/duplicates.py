"""Near-duplicate search over 64-bit perceptual hashes: multi-index hashing on 4×16-bit bands.

Two hashes within Hamming distance `d` agree within `d // 4` bits on at least one of their
four 16-bit bands (pigeonhole). So each band keeps the hashes sorted by that band's value with
a 65,536-entry offset table; a query probes every band value within `d // 4` bits of its own
(137 probes for d = 8), gathers those buckets' candidates and checks the full distance with
numpy. At a million random hashes that is ~8,000 candidates and well under a millisecond of
work, instead of a million comparisons. New hashes go to a small unsorted tail that is folded
into the bands when it grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np
import numpy.typing as npt

BANDS = 4
BAND_BITS = 16
# pHash distances up to ~8 of 64 bits are the same scene re-encoded, resized or lightly edited.
NEAR = 8
_TAIL_LIMIT = 4096
_U64 = npt.NDArray[np.uint64]
_I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Match:
    evidence_id: int
    distance: int


def hash_int(phash_hex: str) -> int:
    return int(phash_hex, 16)


def _popcount(values: _U64) -> npt.NDArray[np.int64]:
    return np.bitwise_count(values).astype(np.int64)


@cache
def _masks(radius: int) -> npt.NDArray[np.intp]:
    """XOR masks of every 16-bit value with at most `radius` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(BAND_BITS), r)]
    return np.array(masks, dtype=np.intp)


class DuplicateIndex:
    """Hashes with their evidence ids; `search` finds those within a Hamming distance."""

    def __init__(self) -> None:
        self._hashes: _U64 = np.empty(0, dtype=np.uint64)
        self._ids: _I64 = np.empty(0, dtype=np.int64)
        self._order: list[_I64] = []
        self._offsets: list[_I64] = []
        self._tail_hashes: list[int] = []
        self._tail_ids: list[int] = []
        self._known: set[int] = set()

    def __len__(self) -> int:
        return len(self._hashes) + len(self._tail_hashes)

    def __contains__(self, evidence_id: int) -> bool:
        return evidence_id in self._known

    def add(self, evidence_id: int, phash: int) -> None:
        if evidence_id in self._known:
            return
        self._known.add(evidence_id)
        self._tail_hashes.append(phash)
        self._tail_ids.append(evidence_id)
        if len(self._tail_hashes) >= _TAIL_LIMIT:
            self._fold()

    def add_many(self, items: Iterable[tuple[int, int]]) -> None:
        for evidence_id, phash in items:
            if evidence_id not in self._known:
                self._known.add(evidence_id)
                self._tail_hashes.append(phash)
                self._tail_ids.append(evidence_id)
        self._fold()

    def _fold(self) -> None:
        if not self._tail_hashes:
            return
        self._hashes = np.concatenate([self._hashes, np.array(self._tail_hashes, dtype=np.uint64)])
        self._ids = np.concatenate([self._ids, np.array(self._tail_ids, dtype=np.int64)])
        self._tail_hashes, self._tail_ids = [], []
        self._order, self._offsets = [], []
        for band in range(BANDS):
            keys = self._band(self._hashes, band)
            order = np.argsort(keys, kind="stable").astype(np.int64)
            counts = np.bincount(keys, minlength=1 << BAND_BITS)
            offsets = np.zeros((1 << BAND_BITS) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            self._order.append(order)
            self._offsets.append(offsets)

    @staticmethod
    def _band(hashes: _U64, band: int) -> npt.NDArray[np.intp]:
        shift = np.uint64(band * BAND_BITS)
        return ((hashes >> shift) & np.uint64(0xFFFF)).astype(np.intp)

    def search(self, phash: int, max_distance: int = NEAR) -> list[Match]:
        """Stored hashes within `max_distance` bits, nearest first."""
        query = np.uint64(phash)
        found: dict[int, int] = {}
        if len(self._hashes):
            radius = max_distance // BANDS
            parts = []
            for band in range(BANDS):
                value = (phash >> (band * BAND_BITS)) & 0xFFFF
                probes = _masks(radius) ^ value
                offsets = self._offsets[band]
                starts, ends = offsets[probes], offsets[probes + 1]
                keep = ends > starts
                starts, ends = starts[keep], ends[keep]
                if not len(starts):
                    continue
                # Positions start..end of every probed bucket, without a Python loop.
                sizes = ends - starts
                steps = np.ones(int(sizes.sum()), dtype=np.int64)
                steps[0] = starts[0]
                steps[np.cumsum(sizes)[:-1]] = starts[1:] - ends[:-1] + 1
                parts.append(self._order[band][np.cumsum(steps)])
            if parts:
                candidates = np.unique(np.concatenate(parts))
                distances = _popcount(self._hashes[candidates] ^ query)
                close = distances <= max_distance
                for index, distance in zip(
                    candidates[close].tolist(), distances[close].tolist(), strict=True
                ):
                    found[int(self._ids[index])] = int(distance)
        for evidence_id, other in zip(self._tail_ids, self._tail_hashes, strict=True):
            distance = (other ^ phash).bit_count()
            if distance <= max_distance:
                found[evidence_id] = distance
        return sorted(
            (Match(i, d) for i, d in found.items()), key=lambda m: (m.distance, m.evidence_id)
        )
