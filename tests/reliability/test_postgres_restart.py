"""PostgreSQL going away under a running bot: it reconnects by itself and loses no update.

The bounded test cuts every connection of the bot's database (as a failover or an idle
timeout does); the heavy one restarts the whole server.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.databases import _libpq, fresh_pg_database, migrated, pg_base_url
from tests.e2e.processes import People, bot_env, running

pytestmark = pytest.mark.e2e


def _cut_connections(url: str) -> int:
    """Terminates every server process serving the database: the pool's connections die."""
    database = make_url(url).database
    with psycopg.connect(_libpq(pg_base_url()), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def _restart_postgresql() -> None:
    found = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True)
    version = found.stdout.split()[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]
    subprocess.run(command, check=True, timeout=120)


@contextmanager
def _bot_on_postgresql(
    people: People, sandbox_url: str, tmp_path: Path
) -> Iterator[tuple[dict[str, Any], str]]:
    """The bot on a fresh PostgreSQL database, having answered Minji once."""
    minji = people.create("Minji", "en")
    with fresh_pg_database() as url:
        migrated(url)
        env = bot_env(sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url)
        with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
            people.say(minji, "/help")
            people.wait_for_bot(minji["id"], 1, timeout=30)
            yield minji, url


def test_the_bot_reconnects_when_its_connections_are_cut(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    with _bot_on_postgresql(people, sandbox_url, tmp_path) as (minji, url):
        assert _cut_connections(url) > 0
        for n in range(3):
            people.say(minji, "/help")
            people.wait_for_bot(minji["id"], 2 + n, timeout=60)
        assert _cut_connections(url) > 0  # and again, mid-traffic
        people.say(minji, "/help")
        assert len(people.wait_for_bot(minji["id"], 5, timeout=60)) == 5


@pytest.mark.reliability
def test_the_bot_survives_a_database_restart(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    with _bot_on_postgresql(people, sandbox_url, tmp_path) as (minji, _url):
        _restart_postgresql()
        for _ in range(3):
            people.say(minji, "/help")
        people.wait_for_bot(minji["id"], 4, timeout=60)
