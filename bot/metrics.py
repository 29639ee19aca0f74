"""Prometheus metrics (`/metrics`) and the health check (`/healthz`), on a listener of their
own (`HALSARAM_METRICS_HOST`:`HALSARAM_METRICS_PORT`, 127.0.0.1:9100 by default; port 0 turns
it off), never on the webhook's public port: they show backlogs, errors and points paid.

Traffic counters are kept in process; backlogs are read from the database at scrape time (so
every process reports the shared truth).
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from storage import inbox
from storage.clock import Clock
from storage.db import SessionFactory, ping
from storage.metrics import figures
from storage.outbox import backlog as outbox_backlog

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
UPDATES = Counter("halsaram_updates_total", "Updates handled, by kind", ["type"], registry=REGISTRY)
HANDLER_SECONDS = Histogram(
    "halsaram_handler_seconds", "Time to handle one update", registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
ERRORS = Counter("halsaram_errors_total", "Updates whose handling raised", registry=REGISTRY)
INBOX_BACKLOG = Gauge(
    "halsaram_inbox_backlog", "Updates stored, not yet handled", registry=REGISTRY
)
INBOX_AGE = Gauge(
    "halsaram_inbox_oldest_seconds", "Age of the oldest unhandled update", registry=REGISTRY
)
OUTBOX_BACKLOG = Gauge("halsaram_outbox_backlog", "Notices waiting to be sent", registry=REGISTRY)
OUTBOX_AGE = Gauge(
    "halsaram_outbox_oldest_seconds", "Age of the oldest waiting notice", registry=REGISTRY
)
OUTBOX_THROTTLED = Gauge(
    "halsaram_outbox_throttled", "Waiting notices last refused with 429", registry=REGISTRY
)
VERIFY_QUEUE = Gauge("halsaram_verification_queue", "Photos waiting for checks", registry=REGISTRY)
TELEGRAM_429 = Gauge(
    "halsaram_telegram_429_total",
    "429 answers from Telegram seen by this process",
    registry=REGISTRY,
)
POINTS_PAID = Gauge(
    "halsaram_points_paid_total", "Mission points paid, all time", registry=REGISTRY
)
DATABASE_UP = Gauge(
    "halsaram_database_up", "1 if the last read of the backlogs reached the database",
    registry=REGISTRY,
)  # fmt: skip


class DatabaseWatch:
    """Logs the database going away and coming back once each, not at every check: a scrape
    every 15 s and a health probe every few seconds would fill the log during an outage."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, what: str, error: BaseException) -> None:
        DATABASE_UP.set(0)
        if not self.down:
            self.down = True
            log.warning("%s: database unreachable (%s)", what, type(error).__name__)

    def reached(self) -> None:
        DATABASE_UP.set(1)
        if self.down:
            self.down = False
            log.info("database reachable again")


def update_type(update: object) -> str:
    if not isinstance(update, Update):
        return "other"
    for kind in ("message", "callback_query", "edited_message", "my_chat_member", "chat_member"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def observe_update(update: object, seconds: float) -> None:
    UPDATES.labels(update_type(update)).inc()
    HANDLER_SECONDS.observe(seconds)


async def refresh(sessions: SessionFactory, clock: Clock) -> None:
    """Reads the backlogs from the database into the gauges."""
    async with sessions() as session:
        found = await figures(session, clock.now())
    INBOX_BACKLOG.set(found.inbox_waiting)
    INBOX_AGE.set(found.inbox_oldest_seconds)
    OUTBOX_BACKLOG.set(found.outbox_waiting)
    OUTBOX_AGE.set(found.outbox_oldest_seconds)
    OUTBOX_THROTTLED.set(found.outbox_throttled)
    VERIFY_QUEUE.set(found.verification_queue)
    POINTS_PAID.set(found.points_paid)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def create_app(sessions: SessionFactory, clock: Clock, bot: Bot) -> Starlette:
    """`GET /healthz` and `GET /metrics`, for the metrics listener only. While the database is
    away `/healthz` answers 503 and `/metrics` still answers, with `halsaram_database_up 0`
    and the backlogs as last read (Prometheus keeps scraping an exporter that answers)."""
    watch = DatabaseWatch()

    async def health(_request: Request) -> Response:
        now = clock.now()
        try:
            async with sessions() as session:
                await ping(session)
                waiting, inbox_age = await inbox.backlog(session, now)
                queued, outbox_age = await outbox_backlog(session, now)
        except Exception as exc:  # any failure here means "not healthy", with the reason
            watch.failed("health check", exc)
            return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
        watch.reached()
        return JSONResponse({
            "ok": True, "database": "ok",
            "inbox": {"waiting": waiting, "oldest_seconds": round(inbox_age, 1)},
            "outbox": {"waiting": queued, "oldest_seconds": round(outbox_age, 1)},
        })  # fmt: skip

    async def scrape(_request: Request) -> Response:
        try:
            await refresh(sessions, clock)
        except Exception as exc:  # the traffic counters are still worth answering with
            watch.failed("metrics", exc)
        else:
            watch.reached()
        TELEGRAM_429.set(getattr(getattr(bot, "rate_limiter", None), "throttled", 0))
        return Response(exposition(), media_type="text/plain; version=0.0.4")

    return Starlette(routes=[
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ])  # fmt: skip
