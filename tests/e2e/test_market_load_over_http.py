"""Stocking the market by the operator's command, end to end (issue 23): `halsaram market load
FILE.csv` runs as its own process with the very settings the running bot has (the same
HALSARAM_* environment), and what it says is what the people then see.

- A one-item file says "loaded 3 codes for 1 item" (it once counted the whole catalogue, "for 3
  items", and said "1 items"), after an earlier two-item file said "for 2 items"; the running
  bot's /market shows the item with its 3 codes at once.
- The item's card names it with the Korean particles its name takes: "케이크 교환권은
  500포인트예요. 보유 포인트는 100이에요." (권 ends in a consonant: 은, not 는; 100 is read 백:
  이에요).

The person and their points are planted in the database (earning points is covered elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from storage import accounts, ledger
from storage.db import create_engine, session_factory, transaction
from storage.models import Region
from tests.e2e.processes import ROOT, People, bot_env, running

HEADER = "item,name_ko,name_en,cost,code\n"
TWO_ITEMS = HEADER + "tea,녹차 쿠폰,Green tea,200,TEA-1\nbun,찐빵,Steamed bun,150,BUN-1\n"
ONE_ITEM = HEADER + "".join(f"cake,케이크 교환권,Cake voucher,500,CAKE-{n}\n" for n in range(1, 4))


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env={**os.environ, **env}, cwd=ROOT,
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def _plant(url: str, user_id: int, points: int) -> None:
    """A verified neighbour of 잠실동 holding `points` points."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with transaction(session_factory(engine)) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            assert region is not None
            await accounts.register(s, accounts.Registration(
                user_id=user_id, language="ko", display_name="민지", phone_hash=f"h{user_id}",
                phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                interests=["walking"], preferred_times=["evening"],
            ), now - timedelta(days=1))  # fmt: skip
            await ledger.post(
                s, user_id=user_id, amount=points, kind=ledger.BONUS, reference="planted",
                now=now,
            )  # fmt: skip
    finally:
        await engine.dispose()


def test_a_one_item_file_loads_with_the_bots_settings_and_the_market_shows_it(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    person = people.create("민지", "ko")
    env = bot_env(sandbox_url, tmp_path)
    _cli(env, "db", "upgrade")
    _cli(env, "seed")
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], person["id"], 100))
    (tmp_path / "two.csv").write_text(TWO_ITEMS, encoding="utf-8")
    (tmp_path / "one.csv").write_text(ONE_ITEM, encoding="utf-8")
    assert _cli(env, "market", "load", str(tmp_path / "two.csv")).stdout == (
        "loaded 2 codes for 2 items\n"
    )
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people.say(person, "/help")
        people.wait_for_bot(person["id"])
        loaded = _cli(env, "market", "load", str(tmp_path / "one.csv"))  # the bot running
        assert loaded.stdout == "loaded 3 codes for 1 item\n"

        people.say(person, "/market")
        [front] = people.wait_for_bot(
            person["id"], where=lambda m: "케이크 교환권" in m.get("text", "")
        )
        assert "케이크 교환권: 500포인트 (3개 남음)" in front["text"]
        people.press_label(person, "케이크 교환권", contains=True)
        [card] = people.wait_for_bot(
            person["id"], where=lambda m: m.get("text", "").startswith("케이크 교환권")
        )
        assert card["text"] == (
            "케이크 교환권은 500포인트예요. 보유 포인트는 100이에요. 미션으로 더 모아 보세요!"
        )
    again = _cli(env, "market", "load", str(tmp_path / "one.csv"))
    assert again.stdout == "loaded 0 codes for 1 item; refused 3 duplicates\n"
