"""The weekly figures in the admin group, end to end (issue 23): the bot as its own process,
started mid-week (as after a restart), with the admin group in the sandbox. Its first weekly
check (a minute after the start; 3 s here) weighs last week and sends nothing when that week was

- partial: the service began part-way through it (the first signups on its Thursday), or
- empty: the service is older, but nothing happened in it;

so the group never gets a report labelled "📊 … ~ … 지표" for such a week (it once got one for
the days since the restart). The check's log line says it weighed the week; the group holds no
chart and no figures. Accounts are planted in the database with their signup time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage import accounts, stats
from storage.db import create_engine, session_factory, transaction
from storage.models import Region, User
from tests.e2e.processes import ROOT, People, bot_env, running

SEOUL = ZoneInfo("Asia/Seoul")
WEIGHED = "a partial or empty week, not sent"  # scheduler/stats.py's log line
FIRST_CHECK = 3.0  # HALSARAM_WEEKLY_FIRST_CHECK_SECONDS (a minute by default)


def _began(kind: str) -> datetime:
    """When the first people signed up: on last week's Thursday (a partial week), or on the
    Tuesday of the week before (last week then holds nothing)."""
    last_monday = stats.week_bounds(stats.week_start(datetime.now(UTC), SEOUL), SEOUL)[0] - (
        timedelta(days=7)
    )
    return last_monday + (timedelta(days=3, hours=12) if kind == "partial" else -timedelta(days=6))


async def _plant(url: str, people: dict[int, str], admin_id: int, began: datetime) -> None:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as s:
            region = await s.scalar(select(Region).where(Region.name_ko == "잠실동"))
            assert region is not None
            for n, (user_id, name) in enumerate(people.items()):
                await accounts.register(s, accounts.Registration(
                    user_id=user_id, language="ko", display_name=name, phone_hash=f"h{user_id}",
                    phone_masked="010-****-0000", region_id=region.id, region_verified=True,
                    interests=["walking"], preferred_times=["evening"],
                ), began + timedelta(hours=n))  # fmt: skip
            admin = await s.get(User, admin_id)
            assert admin is not None
            admin.is_admin = True
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["partial", "empty"])
def test_no_weekly_report_for_a_partial_or_empty_week(
    people: People, sandbox_url: str, tmp_path: Path, kind: str
) -> None:
    created = [people.create(name, "ko") for name in ("지훈", "민지", "관리자")]
    admin = created[-1]
    group = people._call(
        "POST", "/groups", title="할사람 관리자", member_ids=[admin["id"]], admin_ids=[admin["id"]]
    )
    env = bot_env(
        sandbox_url, tmp_path, HALSARAM_ADMIN_CHAT_ID=str(group["id"]),
        HALSARAM_WEEKLY_FIRST_CHECK_SECONDS=str(FIRST_CHECK),
    )  # fmt: skip
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
                       cwd=ROOT, check=True, capture_output=True, timeout=120)  # fmt: skip
    by_id = {p["id"]: p["first_name"] for p in created}
    asyncio.run(_plant(env["HALSARAM_DATABASE_URL"], by_id, admin["id"], _began(kind)))
    log = tmp_path / "bot.log"
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, log):
        people._call("POST", f"/groups/{group['id']}/bot", user_id=admin["id"])
        deadline = time.monotonic() + FIRST_CHECK + 40
        while time.monotonic() < deadline and WEIGHED not in log.read_text(errors="replace"):
            if any("photo" in m for m in people.view(group["id"])["messages"]):
                break  # a chart went out: no need to wait for the log
            time.sleep(0.5)
        time.sleep(1.0)  # anything sent right after the check arrives
        told = [m for m in people.view(group["id"])["messages"] if m["from"]["is_bot"]]
    assert not [m for m in told if "photo" in m], "a weekly chart went to the admin group"
    assert not [m for m in told if "지표" in m.get("text", "") + m.get("caption", "")]
    assert WEIGHED in log.read_text(errors="replace"), "the weekly check did not run"
