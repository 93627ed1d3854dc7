"""The Wyoming connection lives in :mod:`wyoming_kokoro.wire.connection`."""

from .wire.admission import MAX_QUEUED_REQUESTS as MAX_QUEUED_REQUESTS
from .wire.connection import MAX_WAITING_ANSWERS as MAX_WAITING_ANSWERS
from .wire.connection import KokoroConnection as KokoroConnection
