"""Running the bot as a process: ingress (polling or webhook), workers, graceful stop.

`serve` handles updates (and, by default, runs the jobs too); `work` runs only the jobs
(outbox dispatch, verification, scheduled posts) — any number of workers may run against one
PostgreSQL, because every job claims its rows in the database. SIGTERM or SIGINT stops taking
updates, finishes those in flight, flushes conversation state and hands back unsent claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from typing import Any

import uvicorn

from bot.app import build_application
from bot.ingress import ALLOWED_UPDATES, Inbox, poll
from bot.settings import Settings
from bot.webhook import create_http_app, register
from scheduler.outbox import WORKER
from storage import outbox
from storage.clock import SystemClock
from storage.db import create_engine, session_factory, transaction

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _http(app: Any, host: str, port: int, stop: asyncio.Event) -> None:
    """Serves `app` until stopped; port 0 means no HTTP server (metrics off)."""
    if not port:
        await stop.wait()
        return
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task


async def serve(settings: Settings, *, webhook_url: str | None, with_worker: bool = True) -> None:
    """Handles updates until stopped; with `with_worker`, runs the jobs in this process too."""
    clock = SystemClock()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    application = build_application(
        settings, clock=clock, sessions=sessions, schedule_jobs=with_worker
    )
    box = Inbox(application, sessions, clock)
    stop = _stop_event()
    try:
        async with application:
            if application.post_init is not None:
                await application.post_init(application)
            secret = settings.webhook_secret_token() if webhook_url else None
            if webhook_url and secret:
                # Before start, so a URL Telegram refuses stops start-up with one line. Only
                # the types the handlers read (bot.ingress): no edited_message.
                await register(application.bot, webhook_url, secret, ALLOWED_UPDATES)
            await application.start()
            await box.replay_unfinished()
            if webhook_url:
                log.info("receiving updates by webhook")
                routes = create_http_app(box, secret)
                await _http(routes, settings.webhook_listen, settings.webhook_port, stop)
            else:
                # A webhook left from an earlier run would make getUpdates fail (409); the
                # updates Telegram holds are kept, never dropped by default.
                await application.bot.delete_webhook(drop_pending_updates=False)
                log.info("receiving updates by long polling")
                metrics_server = _http(
                    create_http_app(box, None), settings.metrics_listen, settings.metrics_port, stop
                )
                await asyncio.gather(poll(box, stop, ALLOWED_UPDATES), metrics_server)
            await application.stop()
    finally:
        await _release(sessions)
        await engine.dispose()


async def work(settings: Settings) -> None:
    """Runs only the jobs: outbox dispatch, verification, scheduled posts."""
    clock = SystemClock()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    application = build_application(
        settings, clock=clock, sessions=sessions, schedule_jobs=True, handle_updates=False
    )
    stop = _stop_event()
    box = Inbox(application, sessions, clock)
    try:
        async with application:
            await application.start()
            log.info("worker %s running", WORKER)
            await _http(create_http_app(box, None), settings.metrics_listen,
                        settings.metrics_port, stop)  # fmt: skip
            await application.stop()
    finally:
        await _release(sessions)
        await engine.dispose()


async def _release(sessions: Any) -> None:
    with contextlib.suppress(Exception):  # the database may be what failed
        async with transaction(sessions) as session:
            released = await outbox.release_claims(session, WORKER)
        if released:
            log.info("handed back %d unsent notices", released)
