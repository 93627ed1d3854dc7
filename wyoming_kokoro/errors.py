"""One error class for every front door: a code the client can act on, and a safe text.

Wyoming sends ``KokoroError`` as an ``error`` event (``code``, ``text``); an HTTP front
door maps ``code.http_status``. ``fatal`` errors leave the connection unreadable (a
broken frame), so it closes after the error; all others end one request only.

Text from a client (a voice name, a header) may hold lone surrogates, control
characters or megabytes: :func:`safe_text` makes it fit for a log line, an error event
and a stats record, and every ``KokoroError`` text goes through it.
"""

from __future__ import annotations

import enum
import unicodedata

MAX_CLIENT_TEXT = 200  # characters of client text kept in a message or a record


class ErrorCode(str, enum.Enum):
    """The ``code`` of a Wyoming ``error`` event (the value is the wire string)."""

    BAD_EVENT = "bad-event"  # an event's fields have the wrong type
    UNKNOWN_VOICE = "unknown-voice"  # a blend names unknown voices or bad weights
    TEXT_TOO_LONG = "text-too-long"
    BUSY = "busy"
    STREAM_OPEN = "stream-open"
    NO_STREAM = "no-stream"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"
    HEADER_TOO_LONG = "header-too-long"
    BAD_HEADER = "bad-header"
    TOO_LARGE = "too-large"
    BAD_DATA = "bad-data"
    SYNTHESIS_FAILED = "synthesis-failed"
    STALLED = "stalled"  # the request's own work made no progress for stall_timeout
    SHUTTING_DOWN = "shutting-down"  # cut off: shutdown_timeout ran out before it ended
    INTERNAL = "internal-error"  # a bug of ours: logged with its traceback

    def __str__(self) -> str:
        return self.value

    @property
    def http_status(self) -> int:
        """The HTTP status an HTTP front door answers this error with."""
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    ErrorCode.BAD_EVENT: 400,
    ErrorCode.UNKNOWN_VOICE: 400,
    ErrorCode.TEXT_TOO_LONG: 413,
    ErrorCode.BUSY: 429,
    ErrorCode.STREAM_OPEN: 409,
    ErrorCode.NO_STREAM: 409,
    ErrorCode.TIMEOUT: 408,
    ErrorCode.TRUNCATED: 400,
    ErrorCode.HEADER_TOO_LONG: 431,
    ErrorCode.BAD_HEADER: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.BAD_DATA: 400,
    ErrorCode.SYNTHESIS_FAILED: 500,
    ErrorCode.STALLED: 504,
    ErrorCode.SHUTTING_DOWN: 503,
    ErrorCode.INTERNAL: 500,
}


class KokoroError(Exception):
    """Why a request was refused or failed (or, when ``fatal``, why the connection ends)."""

    def __init__(self, text: str, code: ErrorCode | str, *, fatal: bool = False) -> None:
        self.text = safe_text(text, 1000)
        super().__init__(self.text)
        self.code = ErrorCode(code)  # a code that does not exist is a bug: ValueError
        self.fatal = fatal


def safe_text(value: object, limit: int = MAX_CLIENT_TEXT) -> str:
    """``value`` as text any log, JSON writer or UTF-8 encoder accepts, at most ``limit``
    characters: lone surrogates become U+FFFD, control characters ``\\xNN``, and a long
    text is cut with an ellipsis."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    if text.isprintable():  # lone surrogates and control characters are not
        return text
    out: list[str] = []
    for char in text:
        if "\ud800" <= char <= "\udfff":
            out.append("\ufffd")
        elif unicodedata.category(char) == "Cc":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)
