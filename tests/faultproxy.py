"""A TCP proxy between a bot and its database that can go down and come back (issue 22).

`down()` is what an unreachable database server looks like to its clients: every open
connection is cut (the client's next read fails, as when the server goes away) and new ones are
refused (the port has no listener). `up()` listens again on the same port. The proxy runs on an
event loop in a thread of its own, so synchronous tests (the bot as its own process) drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import make_url

CHUNK = 64 * 1024


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`, until told to go down."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0  # connections accepted while up, in all
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def close(self) -> None:
        self._run(self._down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def down(self) -> int:
        """Cuts every open connection and refuses new ones; returns how many were cut."""
        return int(self._run(self._down()))

    def up(self) -> None:
        """Accepts connections again, on the same port."""
        self._run(self._listen())

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        parsed = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _down(self) -> int:
        if self._server is not None:
            self._server.close()
            self._server = None
        cut = len(self._open)
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        return cut

    async def _serve(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just as the proxy went down
            client.transport.abort()
            return
        self.accepted += 1
        try:
            server_in, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._open |= {client, server}
        try:
            await asyncio.gather(_pump(client_in, server), _pump(server_in, client))
        finally:
            for writer in (client, server):
                self._open.discard(writer)
                writer.transport.abort()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


@contextlib.contextmanager
def fault_proxy(database_url: str) -> Iterator[FaultProxy]:
    """A proxy in front of the server of `database_url`, stopped afterwards."""
    parsed = make_url(database_url)
    proxy = FaultProxy(parsed.host or "127.0.0.1", parsed.port or 5432).start()
    try:
        yield proxy
    finally:
        proxy.close()
