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
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import metrics
from bot.app import DB_POOL_OVERFLOW, DB_POOL_SIZE, build_application
from bot.ingress import ALLOWED_UPDATES, Inbox, poll
from bot.settings import Settings
from bot.webhook import create_http_app, register
from scheduler.outbox import WORKER
from storage import outbox
from storage.clock import SystemClock
from storage.db import create_engine, session_factory, transaction

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop. `up` is
    set once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _listen(app: Any, host: str, port: int) -> tuple[_Server, asyncio.Task[None]] | None:
    """Starts serving `app` and returns once it accepts connections; port 0: no server."""
    if not port:
        return None
    # log_config=None: uvicorn's records go through our handler (its filters, its format)
    # instead of handlers of its own that would print them unfiltered.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None)
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    up = asyncio.create_task(server.up.wait())
    await asyncio.wait([task, up], return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # it stopped before it was up (a port in use): with uvicorn's message
        up.cancel()
        task.result()
    return server, task


async def _close(listeners: list[tuple[_Server, asyncio.Task[None]] | None]) -> None:
    while listeners:
        listener = listeners.pop()
        if listener is not None:
            listener[0].should_exit = True
            await asyncio.gather(listener[1], return_exceptions=True)


def _engine(settings: Settings) -> AsyncEngine:
    # hide_parameters: a database error's text never quotes the values (an update, a name).
    return create_engine(
        settings.database_url, hide_parameters=True,
        pool_size=DB_POOL_SIZE, max_overflow=DB_POOL_OVERFLOW,
    )  # fmt: skip


async def serve(settings: Settings, *, webhook_url: str | None, with_worker: bool = True) -> None:
    """Handles updates until stopped; with `with_worker`, runs the jobs in this process too."""
    clock = SystemClock()
    engine = _engine(settings)
    sessions = session_factory(engine)
    application = build_application(
        settings, clock=clock, sessions=sessions, schedule_jobs=with_worker
    )
    box = Inbox(application, sessions, clock)
    stop = _stop_event()
    listeners: list[tuple[_Server, asyncio.Task[None]] | None] = []
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
            if webhook_url and secret:
                log.info("receiving updates by webhook")
                # The webhook first: once /healthz answers, updates are taken.
                listeners.append(await _listen(
                    create_http_app(box, secret), settings.webhook_listen, settings.webhook_port
                ))  # fmt: skip
            # /healthz and /metrics: a listener of their own, never the webhook's port.
            listeners.append(await _listen(
                metrics.create_app(sessions, clock, application.bot),
                settings.metrics_host, settings.metrics_port,
            ))  # fmt: skip
            if webhook_url:
                await stop.wait()
            else:
                # A webhook left from an earlier run would make getUpdates fail (409); the
                # updates Telegram holds are kept, never dropped by default.
                await application.bot.delete_webhook(drop_pending_updates=False)
                log.info("receiving updates by long polling")
                await poll(box, stop, ALLOWED_UPDATES)
            await _close(listeners)  # no new update while the ones in flight finish
            # Updates waiting for the database stay pending in the inbox for the next run.
            box.outage.stop()
            await application.stop()
    finally:
        await _close(listeners)
        await _release(sessions)
        await engine.dispose()


async def work(settings: Settings) -> None:
    """Runs only the jobs: outbox dispatch, verification, scheduled posts."""
    clock = SystemClock()
    engine = _engine(settings)
    sessions = session_factory(engine)
    application = build_application(
        settings, clock=clock, sessions=sessions, schedule_jobs=True, handle_updates=False
    )
    stop = _stop_event()
    listeners: list[tuple[_Server, asyncio.Task[None]] | None] = []
    try:
        async with application:
            await application.start()
            log.info("worker %s running", WORKER)
            listeners.append(await _listen(
                metrics.create_app(sessions, clock, application.bot),
                settings.metrics_host, settings.metrics_port,
            ))  # fmt: skip
            await stop.wait()
            await _close(listeners)
            await application.stop()
    finally:
        await _close(listeners)
        await _release(sessions)
        await engine.dispose()


async def _release(sessions: Any) -> None:
    with contextlib.suppress(Exception):  # the database may be what failed
        async with transaction(sessions) as session:
            released = await outbox.release_claims(session, WORKER)
        if released:
            log.info("handed back %d unsent notices", released)
