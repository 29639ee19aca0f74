"""PostgreSQL restarted under a running bot: it reconnects by itself and loses no update."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import fresh_pg_database, migrated
from tests.e2e.processes import People, bot_env, running

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]


def _restart_postgresql() -> None:
    found = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True)
    version = found.stdout.split()[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]
    subprocess.run(command, check=True, timeout=120)


def test_the_bot_survives_a_database_restart(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    minji = people.create("Minji", "en")
    with fresh_pg_database() as url:
        migrated(url)
        env = bot_env(sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url)
        with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
            people.say(minji, "/help")
            people.wait_for_bot(minji["id"], 1, timeout=30)
            _restart_postgresql()
            for _ in range(3):
                people.say(minji, "/help")
            people.wait_for_bot(minji["id"], 4, timeout=60)
