"""Writing events to one client: a write timeout, and the abort that goes with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.error import Error
from wyoming.event import Event, async_write_event

from ..errors import KokoroError

_LOGGER = logging.getLogger(__name__)


class EventWriter:
    """Sends events; a client that reads nothing for ``timeout`` seconds is dropped whole."""

    def __init__(self, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.writer = writer
        self.timeout = timeout

    async def write(self, event: Event) -> None:
        """Send ``event``; ConnectionError if the client is gone or stopped reading."""
        # asyncio.wait, not wait_for: before Python 3.12 wait_for can swallow a
        # cancellation that arrives as the write completes.
        write = asyncio.ensure_future(async_write_event(event, self.writer))
        try:
            done, _ = await asyncio.wait({write}, timeout=self.timeout)
        finally:
            write.cancel()  # a no-op once done
        if not done:
            self.abort()  # the whole connection goes, not just this request
            raise ConnectionError(f"client read nothing for {self.timeout:.0f} s")
        write.result()

    async def error(self, error: KokoroError) -> None:
        """Send an ``error`` event, if the client is still there to read it."""
        _LOGGER.warning("Client error (%s): %s", error.code, error.text)
        with contextlib.suppress(ConnectionError, OSError):
            await self.write(Error(text=error.text, code=error.code.value).event())

    def abort(self) -> None:
        """Drop the connection now, unsent bytes included."""
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()
