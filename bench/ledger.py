"""Points under load on PostgreSQL: 64 concurrent workers earning and exchanging.

Prints one JSON line: `exchanges_per_s`, and the money invariants, which must both be 0:
`invariant_violations` (users whose balance is not the sum of their entries) and
`double_issued` (codes issued more than once, or charges without exactly one code).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from storage import errors, ledger, market
from storage.db import create_engine, session_factory, transaction
from storage.models import LedgerEntry, User, VoucherCode
from tests.databases import fresh_pg_database, migrated

WORKERS = 64
ROUNDS = 12
CODES = 600


async def run(url: str) -> dict[str, object]:
    engine = create_engine(url, pool_size=WORKERS, max_overflow=0)
    sessions = session_factory(engine)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    csv = "item,name_ko,name_en,cost,code\n" + "".join(
        f"coffee,커피,Coffee,100,BENCH-{n:06d}\n" for n in range(CODES)
    )
    async with transaction(sessions) as s:
        s.add_all(User(id=10_000 + w, created_at=now, registered_at=now, interests=[],
                       preferred_times=[]) for w in range(WORKERS))  # fmt: skip
        await market.load_csv(s, csv)
    async with sessions() as s:
        [shelf] = await market.shelves(s)

    exchanges = refused = 0

    async def worker(w: int) -> None:
        nonlocal exchanges, refused
        user_id = 10_000 + w
        for r in range(ROUNDS):
            async with transaction(sessions) as s:
                await ledger.post(s, user_id=user_id, amount=80, kind=ledger.REWARD,
                                  reference=f"earn:{w}:{r}", now=now)  # fmt: skip
            try:
                async with transaction(sessions) as s:
                    await market.exchange(s, user_id=user_id, item_id=shelf.item.id,
                                          request=f"{w}:{r}", now=now)  # fmt: skip
                exchanges += 1
            except (errors.InsufficientPoints, errors.OutOfStock):
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(WORKERS)))
    elapsed = time.perf_counter() - started
    async with sessions() as s:
        violations = len(await ledger.invariant_violations(s))
        charges = await s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == ledger.EXCHANGE)
        )
        issued = await s.scalar(
            select(func.count(func.distinct(VoucherCode.ledger_entry_id))).where(
                VoucherCode.issued_to.is_not(None)
            )
        )
        codes_out = await s.scalar(
            select(func.count()).select_from(VoucherCode).where(VoucherCode.issued_to.is_not(None))
        )
    await engine.dispose()
    charged, tied, out = charges or 0, issued or 0, codes_out or 0
    return {
        "bench": "ledger_postgresql", "workers": WORKERS, "exchanges": exchanges,
        "refused": refused, "seconds": round(elapsed, 2),
        "exchanges_per_s": round(exchanges / elapsed, 1),
        "invariant_violations": violations,
        "double_issued": abs(charged - tied) + abs(out - tied),
    }  # fmt: skip


def main() -> None:
    with fresh_pg_database() as url:
        result = asyncio.run(run(migrated(url)))
    print(json.dumps(result))
    if result["invariant_violations"] or result["double_issued"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
