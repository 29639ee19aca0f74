"""The in-process harness every feature test uses.

The real `Application` from `bot.app` talks through `RecordingRequest`, a PTB request
transport that checks each Bot API call against the bundled api.json and then answers it from
the sandbox's emulator core in memory (no sockets). People act through the emulator's user side;
their updates are fed to the application as Telegram would deliver them.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from bot.ingress import Inbox
from bot.services import services_of
from bot.settings import SANDBOX_TOKEN, Settings, follow_admin_chat
from sandbox.emulator import Emulator, FloodLimits, ResponseLost, Unreachable
from sandbox.spec import validate_call
from scheduler.jobs import meetup_clock
from scheduler.outbox import dispatch_once
from storage import inbox
from storage.clock import FrozenClock
from storage.db import SessionFactory, transaction


def make_settings(**overrides: object) -> Settings:
    """Settings that ignore the machine's environment and `.env`."""
    values: dict[str, object] = {
        "telegram_token": SANDBOX_TOKEN,
        "secret_key": "test-secret",
        # Tests act much faster than people; the flood-control test sets its own limit.
        "flood_max_updates": 1000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


class ApiSpecViolation(AssertionError):
    """The bot made a call Telegram would refuse (checked against api.json)."""


# Bot API calls that show a person something: what a redelivered update must repeat exactly.
SHOWN = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendVenue", "sendMediaGroup",
    "copyMessage", "forwardMessage", "editMessageText", "editMessageCaption",
    "editMessageReplyMarkup", "editMessageMedia", "deleteMessage", "answerCallbackQuery",
})  # fmt: skip


@dataclass
class RecordedCall:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)


class RecordingRequest(BaseRequest):
    """Records every call, fails on spec violations, answers from the emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.calls: list[RecordedCall] = []
        self.violations: list[str] = []
        self._expecting_violation = False

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            return self._download(url)
        token, api_method = url.rsplit("/", 2)[-2:]
        token = token.removeprefix("bot")
        params = dict(request_data.parameters) if request_data else {}
        files: dict[str, tuple[str, bytes]] = {}
        if request_data is not None and request_data.contains_files:
            for name, value in request_data.multipart_data.items():
                content = value[1]
                data = content if isinstance(content, bytes) else content.read()
                files[name] = (str(value[0]), data)
        call = RecordedCall(api_method, params, files)
        self.calls.append(call)
        problems = validate_call(api_method, params, uploaded=files)
        if problems:
            self.violations.extend(problems)
            if not self._expecting_violation:
                raise ApiSpecViolation("; ".join(problems))
        try:
            status, body = await self.emulator.bot_call(token, api_method, params, files or None)
        except Unreachable as exc:
            # As PTB's HTTPXRequest reports a connection that never carried the request.
            raise NetworkError("httpx.ConnectError: connection refused") from httpx.ConnectError(
                str(exc)
            )
        except ResponseLost as exc:
            # As PTB's HTTPXRequest reports a read timeout: the call was carried out.
            raise TimedOut() from httpx.ReadTimeout(str(exc))
        call.status, call.response = status, body
        return status, json.dumps(body).encode()

    def _download(self, url: str) -> tuple[int, bytes]:
        """A file download (`<file url>/bot<token>/<file_path>`), as getFile's path allows."""
        # PTB percent-encodes the URL's path (the token's ":" arrives as %3A).
        token_and_path = urllib.parse.unquote(url.split("/file/bot", 1)[1])
        token, _, path = token_and_path.partition("/")
        if token != self.emulator.token:
            return 401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
        data = self.emulator.file_bytes(path)
        if data is None:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        return 200, data

    @contextmanager
    def expect_violation(self) -> Iterator[list[str]]:
        """For the one test that proves the check catches a bad call."""
        start = len(self.violations)
        found: list[str] = []
        self._expecting_violation = True
        try:
            yield found
        finally:
            self._expecting_violation = False
            found.extend(self.violations[start:])
            del self.violations[start:]


class BotHarness:
    """One bot, one emulator, people to act as; assertions read what the bot sent."""

    def __init__(
        self,
        settings: Settings,
        sessions: SessionFactory,
        clock: FrozenClock,
        limits: FloodLimits | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        # The frozen clock never refills Telegram's flood buckets, so limits are off unless a
        # test asks for them; the emulator's own tests and the dispatcher's cover 429s.
        self.emulator = Emulator(
            SANDBOX_TOKEN,
            clock=lambda: clock.now().timestamp(),
            limits=limits or FloodLimits(enabled=False),
        )
        self.request = RecordingRequest(self.emulator)
        self.deliveries = 1
        # With `crash_before_done`, every update is handled, the process "dies" before marking
        # it done, and the next run handles it again from the inbox (see `_handled_twice`).
        self.crash_before_done = False
        self.redelivered: list[Redelivery] = []
        self.app: Application = self._build()

    def _build(self) -> Application:
        # No pacing in process: the emulator's limits are off here too (see above).
        return build_application(
            self.settings,
            request=self.request,
            clock=self.clock,
            sessions=self.sessions,
            rate_limited=False,
            schedule_jobs=False,
        )

    async def start(self) -> None:
        """Initialises and starts the application (its JobQueue runs, for timeouts and
        scheduled jobs); updates are still fed one by one through `deliver`."""
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()
        await self.app.shutdown()
        if self.request.violations:
            raise ApiSpecViolation("; ".join(self.request.violations))

    def user(
        self, first_name: str = "Minji", language_code: str = "ko", **kw: Any
    ) -> dict[str, Any]:
        return self.emulator.add_user(first_name, language_code=language_code, **kw)

    async def restart(self) -> None:
        """A new Application on the same database, as after a crash (the last periodic
        persistence flush having run)."""
        await self.app.update_persistence()
        await self.app.stop()
        await self.app.shutdown()
        self.app = self._build()
        await self.start()

    async def act(self, chat_id: int, action: Awaitable[Any]) -> list[dict[str, Any]]:
        """Performs a person's action (an emulator coroutine) and returns the bot's answers."""
        before = len(self.emulator.transcript(chat_id))
        await action
        await self.deliver()
        return self.bot_messages(chat_id, after=before)

    async def deliver(self) -> int:
        """Feeds every pending update to the application, in order; returns how many.

        With `deliveries` above 1 each update goes through the durable inbox that many times,
        as Telegram redelivers when it missed the bot's answer, and is waited for.
        """
        count = 0
        while updates := self.emulator.pending_updates():
            for data in updates:
                if self.crash_before_done:
                    await self._handled_twice(data)
                elif self.deliveries == 1:
                    await self.app.process_update(Update.de_json(data, self.app.bot))
                else:
                    await self._through_inbox(data)
                count += 1
        return count

    async def _through_inbox(self, data: dict[str, Any]) -> None:
        box = Inbox(self.app, self.sessions, self.clock)
        for _ in range(self.deliveries):
            await box.accept([Update.de_json(data, self.app.bot)])
        await self._settled(data["update_id"])

    async def crash(self) -> None:
        """A new Application on the same database, as after kill -9: nothing in memory survives
        (the settings `configure` changed are the running configuration and stay)."""
        self.settings = services_of(self.app.bot_data).settings
        # A killed process writes nothing more: not the conversation steps PTB still holds
        # (a graceful shutdown would flush them), nor what the persistence holds unwritten.
        self.app.persistence = None
        await self.app.stop()
        await self.app.shutdown()
        self.app = self._build()
        await self.start()

    async def _handled_twice(self, data: dict[str, Any]) -> None:
        """A crash between handling and marking done: the update is stored in the inbox as the
        ingress stores it, handled by the handlers, the process dies before marking it done,
        and the next run's `Inbox.replay_unfinished` hands it to the handlers again (through
        the per-person processor, which marks it done this time)."""
        # What earlier updates left is written, as their done marks would have (updates fed
        # by `deliver` skip the inbox); what this one leaves dies with the process.
        await self.app.update_persistence()
        if self.app.persistence is not None:
            await self.app.persistence.flush()
        async with transaction(self.sessions) as session:
            assert await inbox.store(session, [data], self.clock.now()) == [data["update_id"]]
        start = len(self.request.calls)
        await self.app.process_update(Update.de_json(data, self.app.bot))
        middle = len(self.request.calls)
        self.clock.advance(timedelta(seconds=1))  # a restart takes a moment
        await self.crash()
        assert await Inbox(self.app, self.sessions, self.clock).replay_unfinished() == 1
        await self._settled(data["update_id"])
        calls = self.request.calls
        self.redelivered.append(Redelivery(data, calls[start:middle], calls[middle:]))

    async def _settled(self, update_id: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while loop.time() < deadline:
            async with self.sessions() as session:
                if not await inbox.unfinished(session):
                    return
            await asyncio.sleep(0.005)
        raise AssertionError(f"update {update_id} was not handled in time")

    async def send(self, user: dict[str, Any], text: str) -> list[dict[str, Any]]:
        """The person types `text` in their private chat; returns what the bot answered."""
        before = len(self.emulator.transcript(user["id"]))
        await self.emulator.send_text(user["id"], text)
        await self.deliver()
        return self.bot_messages(user["id"], after=before)

    async def press(
        self, user: dict[str, Any], message: dict[str, Any], data: str
    ) -> list[dict[str, Any]]:
        """The person presses the inline button carrying `data` under `message`."""
        chat_id = message["chat"]["id"]
        before = len(self.emulator.transcript(chat_id))
        await self.emulator.press_button(user["id"], chat_id, message["message_id"], data)
        await self.deliver()
        return self.bot_messages(chat_id, after=before)

    def bot_messages(self, chat_id: int, after: int = 0) -> list[dict[str, Any]]:
        return [
            m for m in self.emulator.transcript(chat_id)[after:] if m.get("from", {}).get("is_bot")
        ]

    async def run_outbox(self) -> int:
        """Runs the outbox dispatcher once (in production a job does, every few seconds)."""
        svc = self.app.bot_data["services"]
        return await dispatch_once(
            self.app.bot, self.sessions, self.clock, svc.settings.zone,
            svc.settings.default_language, photos=svc.photos,
            moved=partial(follow_admin_chat, svc.settings),
        )  # fmt: skip

    async def run_meetup_clock(self) -> None:
        """Reminders and closing, as the minute job does."""
        await meetup_clock(_JobContext(self.app))  # type: ignore[arg-type]

    def calls(self, method: str) -> list[RecordedCall]:
        return [c for c in self.request.calls if c.method == method]


@dataclass
class Redelivery:
    """One update handled twice (`BotHarness.crash_before_done`): the calls of each handling."""

    update: dict[str, Any]
    first: list[RecordedCall]
    second: list[RecordedCall]

    def shown(self, calls: list[RecordedCall]) -> list[tuple[str, Any, str]]:
        """What a handling showed: (method, chat, text or caption) of each call in `SHOWN`."""
        return [
            (c.method, c.params.get("chat_id"),
             str(c.params.get("text") or c.params.get("caption") or ""))
            for c in calls if c.method in SHOWN
        ]  # fmt: skip


class _JobContext:
    """The little of CallbackContext a job reads: bot_data and bot."""

    def __init__(self, app: Application) -> None:
        self.bot_data = app.bot_data
        self.bot = app.bot


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback_data) of every inline button under a message."""
    markup = message.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]
