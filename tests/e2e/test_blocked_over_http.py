"""A person who blocks the bot gets no notices until they unblock it (issue 19, point 10), over
HTTP: the sandbox and the bot are separate processes. Blocking sends the bot `my_chat_member`
("kicked") in the private chat, as Telegram does; the bot marks the person, and the outbox skips
their notices instead of trying them and collecting 403 "bot was blocked by the user".
Unblocking ("member") clears the mark, and the next notice arrives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from storage import outbox
from storage.db import create_engine, session_factory, transaction
from storage.models import OutboxMessage, User
from tests.e2e.processes import ROOT, People, bot_env, running
from tests.people import SEOKCHON_LAKE

WARNING = "경고를 드렸어요"  # the moderator's warning, in Korean


async def _read(url: str, user_id: int) -> tuple[bool, dict[str, str]]:
    """The person's mark, and each outbox row's status by its key."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            marked = bool(await session.scalar(select(User.blocked_bot).where(User.id == user_id)))
            rows = await session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status))
            return marked, {key: status for key, status in rows}
    finally:
        await engine.dispose()


async def _warn(url: str, user_id: int, key: str) -> None:
    """A moderator's warning, queued as `storage/moderation.py` queues it."""
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            now = await session.scalar(select(User.created_at).where(User.id == user_id))
            assert now is not None
            await outbox.enqueue(
                session, key=key, chat_id=user_id, kind="warned", values={}, now=now
            )
    finally:
        await engine.dispose()


def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _forbidden(people: People) -> int:
    answered = people.info()["answered"]
    return sum(a["count"] for a in answered if a["method"] == "sendMessage" and a["status"] == 403)


def test_no_notice_is_tried_while_blocked_and_the_next_arrives_after(
    people: People, sandbox_url: str, tmp_path: Path
) -> None:
    env = bot_env(sandbox_url, tmp_path)
    url = env["HALSARAM_DATABASE_URL"]
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [sys.executable, "-m", "bot.cli", *command], env={**os.environ, **env},
            cwd=ROOT, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    person = people.create("민지", "ko")
    uid = person["id"]
    with running([sys.executable, "-m", "bot.cli", "run"], env, None, tmp_path / "bot.log"):
        people.sign_up(person, SEOKCHON_LAKE)

        people.http.post(f"/users/{uid}/block").raise_for_status()
        # The bot hears of it (my_chat_member "kicked"; the code before issue 19 ignored it),
        # given a moment; the notice is queued either way.
        marked = _until(lambda: asyncio.run(_read(url, uid))[0], 10)
        asyncio.run(_warn(url, uid, "e2e:warned:1"))
        assert _until(
            lambda: asyncio.run(_read(url, uid))[1]["e2e:warned:1"] not in ("pending", "sending")
        ), "the outbox never took the row"
        assert _forbidden(people) == 0, "a notice was tried on a person who blocked the bot"
        assert asyncio.run(_read(url, uid))[1]["e2e:warned:1"] == "skipped"
        assert marked

        people.http.post(f"/users/{uid}/unblock").raise_for_status()
        assert _until(lambda: not asyncio.run(_read(url, uid))[0], 10), "the mark stayed"
        asyncio.run(_warn(url, uid, "e2e:warned:2"))
        [notice] = people.wait_for_bot(uid, where=lambda m: WARNING in m.get("text", ""))
        assert asyncio.run(_read(url, uid))[1]["e2e:warned:2"] == "sent"
        assert _forbidden(people) == 0
        assert notice["chat"]["id"] == uid
