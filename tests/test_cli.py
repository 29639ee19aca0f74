"""Foundation: the operator's CLI seeds reference data and grants admin rights, idempotently."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from storage.db import SessionFactory
from storage.models import Mission, Region, User

ROOT = Path(__file__).resolve().parents[1]


async def test_seed_and_admin_add(
    db_url: str,
    sessions: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HALSARAM_DATABASE_URL", db_url)
    # The CLI runs its own event loop, as it does from a shell.
    for _ in range(2):
        assert await asyncio.to_thread(main, ["seed"]) == 0
    assert await asyncio.to_thread(main, ["admin", "add", "4242"]) == 0
    assert await asyncio.to_thread(main, ["admin", "add", "4242"]) == 0
    assert await asyncio.to_thread(main, ["admin", "add", "-5"]) == 2
    out = capsys.readouterr()
    assert "seeded 467 neighbourhoods" in out.out
    assert "4242 is now an admin" in out.out and "4242 is already an admin" in out.out
    assert "positive number" in out.err
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Region)) == 467
        catalogue = json.loads((ROOT / "missions/data/catalogue.json").read_text())
        missions = await s.scalar(select(func.count()).select_from(Mission))
        assert missions == len(catalogue["missions"])
        admin = await s.get(User, 4242)
        assert admin is not None and admin.is_admin
