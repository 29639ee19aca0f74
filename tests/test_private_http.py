"""The webhook's port serves the webhook only: updates it cannot read are 400 (never 500), a
store that fails is 500 without the body in any log line, and `/healthz` and `/metrics` are
on their own listener, not there."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

import storage.inbox
from bot import metrics
from bot.ingress import Inbox
from bot.webhook import PATH, SECRET_HEADER, create_http_app
from storage.models import InboxUpdate
from tests.harness import BotHarness

SECRET = "right-secret"
SAID = "비밀 이야기 010-2345-6789 우리 집 앞"
HEADERS = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}


def _message(update_id: Any, **fields: Any) -> str:
    """A text update by 설희진, with `fields` of its message replaced."""
    message = {
        "message_id": 1, "date": 1_795_568_700, "text": SAID,
        "chat": {"id": 7000000001, "type": "private", "first_name": "설희진"},
        "from": {"id": 7000000001, "is_bot": False, "first_name": "설희진"},
        **fields,
    }  # fmt: skip
    return json.dumps({"update_id": update_id, "message": message})


BIG = 10**23
UNREADABLE = {
    "update_id 1e23": _message(1).replace('"update_id": 1', '"update_id": 1e23'),
    "update_id 10^23": _message(BIG),
    "update_id 2^63": _message(2**63),
    "update_id -1": _message(-1),
    "update_id true": _message(True),
    "update_id 7.0": _message(7.0),
    "update_id NaN": _message(1).replace('"update_id": 1', '"update_id": NaN'),
    "a chat id beyond 64 bits": _message(5, chat={"id": BIG, "type": "private"}),
    "a user id beyond 64 bits": _message(5, **{"from": {"id": -BIG, "is_bot": False}}),
    "a date no clock has": _message(5, date=10**17),
    "a message id of Infinity": _message(5).replace('"message_id": 1', '"message_id": Infinity'),
    "not an object": json.dumps([json.loads(_message(5))]),
    "a string": json.dumps(_message(5)),
}


@pytest.fixture
def webhook(bot: BotHarness) -> httpx.AsyncClient:
    app = create_http_app(Inbox(bot.app, bot.sessions, bot.clock), SECRET)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hook")


async def _stored(bot: BotHarness) -> int:
    async with bot.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(InboxUpdate)) or 0)


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_an_update_out_of_range_is_400_and_no_log_holds_it(
    bot: BotHarness,
    webhook: httpx.AsyncClient,
    body: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every record of every logger, before any redaction
    response = await webhook.post(PATH, content=body, headers=HEADERS)
    assert response.status_code == 400
    assert await _stored(bot) == 0
    assert "설희진" not in caplog.text and "비밀" not in caplog.text and "2345" not in caplog.text


async def test_an_update_in_range_is_stored(bot: BotHarness, webhook: httpx.AsyncClient) -> None:
    response = await webhook.post(PATH, content=_message(2**31 + 5), headers=HEADERS)
    assert response.status_code == 200 and await _stored(bot) == 1


async def test_a_store_that_fails_is_500_and_the_log_names_no_content(
    bot: BotHarness,
    webhook: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail(session: Any, updates: list[dict[str, Any]], now: Any) -> list[int]:
        # As SQLAlchemy words it: the statement and its parameters, the whole update.
        raise DBAPIError("INSERT INTO inbox ...", {"payload": updates}, OverflowError("int"))

    monkeypatch.setattr(storage.inbox, "store", fail)
    caplog.set_level(logging.DEBUG)
    response = await webhook.post(PATH, content=_message(77), headers=HEADERS)
    assert response.status_code == 500  # Telegram sends it again
    [line] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.getMessage() == "webhook: update 77 not stored: DBAPIError (OverflowError)"
    assert line.exc_info is None
    assert "설희진" not in caplog.text and "비밀" not in caplog.text


async def test_health_and_metrics_are_not_on_the_webhooks_port(
    bot: BotHarness, webhook: httpx.AsyncClient
) -> None:
    for path in ("/metrics", "/healthz"):
        assert (await webhook.get(path)).status_code == 404
    private = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=metrics.create_app(bot.sessions, bot.clock, bot.app.bot)),
        base_url="http://metrics",
    )
    assert (await private.get("/healthz")).json()["ok"] is True
    scraped = await private.get("/metrics")
    assert scraped.status_code == 200 and "halsaram_inbox_backlog" in scraped.text
    assert (await private.post(PATH, content=_message(5), headers=HEADERS)).status_code == 404


async def test_a_database_outage_is_scraped_as_down_and_logged_once(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """During an outage Prometheus keeps scraping (200, `halsaram_database_up 0`) and the
    health probe says 503; each logs the outage once, not once per scrape or probe."""
    up = False

    def sessions() -> Any:
        if not up:
            raise DBAPIError("SELECT 1", None, ConnectionRefusedError("refused"))
        return bot.sessions()

    app = metrics.create_app(sessions, bot.clock, bot.app.bot)  # type: ignore[arg-type]
    private = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m")
    caplog.set_level(logging.INFO, logger="bot.metrics")
    for _ in range(3):
        scraped = await private.get("/metrics")
        assert scraped.status_code == 200
        assert "halsaram_database_up 0.0" in scraped.text
        assert (await private.get("/healthz")).status_code == 503
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [("WARNING", "metrics: database unreachable (DBAPIError)")]
    up = True
    assert "halsaram_database_up 1.0" in (await private.get("/metrics")).text
    assert (await private.get("/healthz")).json()["ok"] is True
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said[1:] == [("INFO", "database reachable again")]
    assert all(r.exc_info is None for r in caplog.records)
