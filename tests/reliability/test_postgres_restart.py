"""PostgreSQL going away under a running bot, while people write (issue 22).

The bounded test cuts every connection of the bot's database while updates are in flight (as a
failover or an idle timeout does): the pool's pre-ping does not see a connection die in the
middle of a handler, so those updates meet it half-way and must run again, answered once.
The heavy one (`make reliability`) stops the whole server, people write while it is down,
then starts it: the bot stays up, confirms nothing it could not store, and answers every
update exactly once when the server is back. Replies are counted by what they say (a /help
answer, a balance), never as "any message", so an apology per update fails them.
tests/e2e/test_db_outage_over_http.py does the same through a proxy, in seconds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.databases import _libpq, pg_base_url
from tests.e2e.processes import People, bot_env, running, wait_for
from tests.e2e.test_db_outage_over_http import (
    APOLOGY,
    BACK,
    HELP,
    OUTAGE_WARNING,
    POINTS,
    errors_total,
    eventually,
    prepared,
    said,
    unhandled,
)

pytestmark = pytest.mark.e2e
BOT = [sys.executable, "-m", "bot.cli", "run"]


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


def _pg_ctl(action: str) -> None:
    found = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True)
    version = found.stdout.split()[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "fast"]
    subprocess.run(command, check=True, timeout=120)


@dataclass
class _Scene:
    minji: dict[str, Any]  # registered: /points answers her balance
    jisoo: dict[str, Any]
    url: str
    bot: subprocess.Popen[bytes]
    metrics_port: str


@contextmanager
def _bot_on_postgresql(
    people: People, sandbox_url: str, tmp_path: Path, database_url: str
) -> Iterator[_Scene]:
    """The bot on the run's PostgreSQL database; Minji and Jisoo answered once."""
    minji, jisoo = people.create("Minji", "en"), people.create("Jisoo", "en")
    with prepared(database_url, minji["id"]) as url:
        env = bot_env(sandbox_url, tmp_path, HALSARAM_DATABASE_URL=url)
        with running(BOT, env, None, tmp_path / "bot.log") as bot:
            wait_for(f"http://127.0.0.1:{env['HALSARAM_METRICS_PORT']}/healthz", bot)
            people.say(minji, "/points")
            people.say(jisoo, "/help")
            people.wait_for_bot(minji["id"], where=lambda m: POINTS in m.get("text", ""))
            people.wait_for_bot(jisoo["id"], where=lambda m: HELP in m.get("text", ""))
            yield _Scene(minji, jisoo, url, bot, env["HALSARAM_METRICS_PORT"])


def _answered_once(
    people: People, minji: dict[str, Any], jisoo: dict[str, Any], points: int, helps: int
) -> None:
    eventually("every balance", lambda: said(people, minji, POINTS) >= points, timeout=90)
    eventually("every /help", lambda: said(people, jisoo, HELP) >= helps, timeout=90)
    eventually("Telegram holds nothing", lambda: not people.info()["pending_update_count"])
    time.sleep(0.5)  # an answer sent twice would show by now
    assert said(people, minji, POINTS) == points
    assert said(people, jisoo, HELP) == helps
    assert said(people, minji, APOLOGY) == 0 and said(people, jisoo, APOLOGY) == 0


def test_the_bot_answers_once_when_its_connections_are_cut_mid_traffic(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    with _bot_on_postgresql(people, sandbox_url, tmp_path, postgresql_url) as scene:
        minji, jisoo = scene.minji, scene.jisoo
        for _ in range(3):  # in flight as the connections die
            people.say(jisoo, "/help")
            people.say(minji, "/points")
        assert _cut_connections(scene.url) > 0
        people.say(jisoo, "/help")
        _answered_once(people, minji, jisoo, 4, 5)
        eventually("every stored update handled", lambda: unhandled(scene.url) == 0)
        assert errors_total(scene.metrics_port) == 0 and scene.bot.poll() is None
    said_in_log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in said_in_log and "ERROR" not in said_in_log, said_in_log


@pytest.mark.reliability
def test_updates_sent_while_postgresql_is_stopped_are_each_answered_once_after_it_starts(
    people: People, sandbox_url: str, tmp_path: Path, postgresql_url: str
) -> None:
    with _bot_on_postgresql(people, sandbox_url, tmp_path, postgresql_url) as scene:
        minji, jisoo = scene.minji, scene.jisoo
        people.say(jisoo, "/help")  # in flight as the server stops
        _pg_ctl("stop")
        try:
            for _ in range(2):
                people.say(jisoo, "/help")
                people.say(minji, "/points")
            time.sleep(3)
            assert scene.bot.poll() is None, "the bot process died"
            assert people.info()["pending_update_count"] >= 4  # none confirmed
            assert said(people, minji, POINTS) == 1
        finally:
            _pg_ctl("start")
        _answered_once(people, minji, jisoo, 3, 4)
        eventually("every stored update handled", lambda: unhandled(scene.url) == 0)
        assert errors_total(scene.metrics_port) == 0 and scene.bot.poll() is None
    said_in_log = (tmp_path / "bot.log").read_text()
    assert said_in_log.count(OUTAGE_WARNING) == 1, said_in_log
    assert said_in_log.count(BACK) == 1, said_in_log
    assert "Traceback" not in said_in_log and "ERROR" not in said_in_log, said_in_log
