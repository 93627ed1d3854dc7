"""The listening socket: connection limit, and a graceful shutdown.

``wyoming``'s own server closes every connection at once on SIGTERM; this one stops
accepting, lets requests in progress finish within a timeout, then cancels the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from wyoming.error import Error
from wyoming.event import async_write_event

from .config import WireSettings
from .errors import ErrorCode

_LOGGER = logging.getLogger(__name__)

REFUSAL_READ_S = 1.0  # a refused client's request is read (and dropped) for this long
REFUSAL_LOG_S = 10.0  # at most one refusal warning this often


class Connection(Protocol):
    async def run(self) -> None: ...

    async def finish(self, timeout: float) -> None: ...


ConnectionFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Connection]


class KokoroServer:
    def __init__(self, settings: WireSettings, factory: ConnectionFactory) -> None:
        self.uri = settings.uri
        self._factory = factory
        self._max_connections = settings.max_connections
        self._server: asyncio.Server | None = None
        self._socket_path: Path | None = None  # a unix:// socket, removed at shutdown
        self._refused = 0  # refusals not yet logged
        self._refusal_logged = -REFUSAL_LOG_S  # when the last refusal warning was written
        self._connections: dict[asyncio.Task[None], Connection] = {}

    @property
    def port(self) -> int:
        """The TCP port listened on (the one the system chose for port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        parsed = urlparse(self.uri)
        if parsed.scheme == "tcp":
            if parsed.hostname is None or parsed.port is None:
                raise ValueError(f"{self.uri}: a tcp:// uri needs a host and a port")
            self._server = await asyncio.start_server(self._accept, parsed.hostname, parsed.port)
        elif parsed.scheme == "unix":
            path = Path(parsed.path)
            if not parsed.path or parsed.path.endswith("/"):
                raise ValueError(f"{self.uri}: a unix:// uri needs the socket's file path")
            if path.is_socket():  # a socket left by an earlier run
                path.unlink()
            elif path.exists() or path.is_symlink():
                raise ValueError(f"{self.uri}: {path} exists and is not a socket")
            self._server = await asyncio.start_unix_server(self._accept, parsed.path)
            self._socket_path = path
        else:
            raise ValueError(f"{self.uri}: only tcp:// and unix:// can be served with limits")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self._max_connections:
            self._log_refusal()
            with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
                text = f"server busy: {len(self._connections)} connections open, try again later"
                await async_write_event(Error(text=text, code=ErrorCode.BUSY.value).event(), writer)
                # Closed with the client's request unread, the socket would be reset and
                # the client lose the error before reading it: take what it sent first.
                await asyncio.wait_for(_discard(reader), REFUSAL_READ_S)
            writer.close()
            return
        connection = self._factory(reader, writer)
        task = asyncio.create_task(connection.run(), name="wyoming connection")
        self._connections[task] = connection
        task.add_done_callback(self._ended)

    def _log_refusal(self) -> None:
        """A warning for the first refusal, then at most one every REFUSAL_LOG_S saying how
        many there were: a flood of connections does not flood the log."""
        now = time.monotonic()
        self._refused += 1
        if now - self._refusal_logged < REFUSAL_LOG_S:
            return
        _LOGGER.warning(
            "Refused %d connection(s): %d connections open", self._refused, len(self._connections)
        )
        self._refused, self._refusal_logged = 0, now

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A connection task is done: forget it, and log it if it died of an exception."""
        self._connections.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("A connection failed unexpectedly", exc_info=task.exception())

    def stop_accepting(self) -> None:
        """Close the listening socket: a balancer's next connection is refused at once and
        goes to another replica, while the connections already open go on."""
        if self._server is not None:
            self._server.close()

    async def shutdown(self, timeout: float) -> None:
        """Stop accepting; give requests in progress ``timeout`` seconds; close the rest."""
        self.stop_accepting()
        connections = list(self._connections.items())
        if connections:
            _LOGGER.info("Finishing %d connection(s) (up to %.0f s)", len(connections), timeout)
            await asyncio.gather(*(c.finish(timeout) for _, c in connections))
            await asyncio.wait([task for task, _ in connections], timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self._socket_path is not None:
            with contextlib.suppress(OSError):
                self._socket_path.unlink()


async def _discard(reader: asyncio.StreamReader) -> None:
    """Read and drop what the client sends until it closes."""
    while await reader.read(65536):
        pass
