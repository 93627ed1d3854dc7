"""Reading Wyoming events within limits.

The ``wyoming`` library's reader trusts ``data_length`` and ``payload_length`` and reads a
header line of any length. This reader checks every length before it reads or allocates:
a header announcing gigabytes is refused at once, and an endless line is cut off at the
limit, so one client can never make the server buffer more than the limits allow.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event

from ..config import WireSettings
from ..errors import ErrorCode, KokoroError


def _broken(text: str, code: ErrorCode) -> KokoroError:
    """The stream cannot be read on: the connection closes after this error."""
    return KokoroError(text, code, fatal=True)


_READ_SIZE = 64 * 1024


class LimitedEventReader:
    """Reads events from a stream with its own bounded buffer."""

    def __init__(self, reader: asyncio.StreamReader, limits: WireSettings) -> None:
        self._reader = reader
        self._limits = limits
        self._buffer = bytearray()
        self._eof = False

    async def _fill(self, most: int) -> None:
        chunk = await self._reader.read(min(_READ_SIZE, most))
        if not chunk:
            self._eof = True
        self._buffer += chunk

    async def _line(self) -> bytes | None:
        limit = self._limits.max_header_bytes
        searched = 0
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                if newline > limit:
                    break
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            searched = len(self._buffer)
            if searched > limit:
                break
            if self._eof:
                if self._buffer.strip():
                    raise _broken(
                        "connection closed in the middle of an event", ErrorCode.TRUNCATED
                    )
                return None
            await self._fill(limit + 1 - searched)
        self._buffer.clear()
        raise _broken(f"header line longer than {limit} bytes", ErrorCode.HEADER_TOO_LONG)

    async def _exactly(self, size: int, what: str) -> bytes:
        while len(self._buffer) < size:
            if self._eof:
                raise _broken(
                    f"connection closed before the whole {what} arrived", ErrorCode.TRUNCATED
                )
            await self._fill(size - len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _length(self, header: dict[str, Any], key: str, limit: int) -> int:
        value = header.get(key)
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _broken(
                f"{key} must be a non-negative integer, got {value!r}", ErrorCode.BAD_HEADER
            )
        if value > limit:
            raise _broken(f"{key} {value} is over the limit of {limit} bytes", ErrorCode.TOO_LARGE)
        return value

    async def wait(self, timeout: float) -> None:
        """Wait until the next event starts arriving (or the stream ends).

        Only this wait has a time limit: cancelling it loses nothing, whereas cancelling a
        half-read event would lose its header and break the framing.
        """
        if self._buffer or self._eof:
            return
        await asyncio.wait_for(self._fill(_READ_SIZE), timeout)

    async def read_event(self) -> Event | None:
        """The next event; None at a clean end of stream; KokoroError (fatal) otherwise."""
        while True:
            line = await self._line()
            if line is None:
                return None
            if line.strip():
                break  # blank lines between events are tolerated
        try:
            header = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise _broken("header is not UTF-8", ErrorCode.BAD_HEADER) from None
        except (ValueError, RecursionError):
            raise _broken("header is not valid JSON", ErrorCode.BAD_HEADER) from None
        if not isinstance(header, dict):
            raise _broken("header must be a JSON object", ErrorCode.BAD_HEADER)
        event_type = header.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise _broken("header has no event type", ErrorCode.BAD_HEADER)
        data = header.get("data") or {}
        if not isinstance(data, dict):
            raise _broken("data must be a JSON object", ErrorCode.BAD_HEADER)
        data_length = self._length(header, "data_length", self._limits.max_data_bytes)
        payload_length = self._length(header, "payload_length", self._limits.max_payload_bytes)
        if data_length:
            raw = await self._exactly(data_length, "data")
            try:
                extra = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise _broken("event data is not valid UTF-8 JSON", ErrorCode.BAD_DATA) from None
            if not isinstance(extra, dict):
                raise _broken("event data must be a JSON object", ErrorCode.BAD_DATA)
            data = {**data, **extra}
        payload = await self._exactly(payload_length, "payload") if payload_length else None
        return Event(type=event_type, data=data, payload=payload)
