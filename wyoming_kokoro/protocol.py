"""Reading Wyoming events within limits lives in :mod:`wyoming_kokoro.wire.reader`."""

from .errors import KokoroError as ProtocolError
from .wire.reader import LimitedEventReader as LimitedEventReader

__all__ = ["LimitedEventReader", "ProtocolError"]
