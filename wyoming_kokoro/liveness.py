"""A request keeps moving: the stall bound, and the keep-alive of a paused stream.

* **Stall bound.** A request whose own work (the model it waits for, G2P, inference,
  the audio thread) makes no progress for ``stall_timeout`` seconds ends with an error.
  Time spent waiting for the client's next text does not count: that is the client's
  turn (the connection's ``idle_timeout`` bounds it).
* **Keep-alive.** Once a stream has begun to speak, silence goes out in short chunks
  whenever the audio it sent would run out (its text paused, an LLM calling a tool; or
  the next segment is late), so a player never sees a gap in the bytes (some satellites
  stop playback and hang when the audio stops mid-reply).
* **Settling.** Streamed text that has waited ``settle_s`` with nothing more arriving is
  spoken if it ends at punctuation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import LivenessSettings


@dataclass(frozen=True)
class Liveness(LivenessSettings):
    """The settings (stall_timeout, 0: no bound; stream_keepalive) and the fixed timings.

    Built with ``settings.section(Liveness)``: the two settings come from the table, the
    timings keep their defaults."""

    keepalive_chunk_s: float = 0.1  # the length of one silence chunk
    keepalive_lead_s: float = 0.3  # sent when the audio in hand is shorter than this (jitter)
    settle_s: float = 0.4  # a stream's text that waited this long is spoken (at a mark)


class StallClock:
    """Since when a request's own work has made no progress."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        self._since = clock()
        # When the shared engine last moved (started or finished anyone's job): while it
        # moves, a request waiting its turn in the queue is waiting, not stalled. Its own
        # hung job stops the engine moving too, so a hang is still caught.
        self.engine_progress: Callable[[], float] | None = None

    def progress(self, audio_until: float | None = None) -> None:
        """Work was done; ``audio_until``: when the audio made so far plays out. Until then
        the request is not stalled, only ahead (a deadline scheduler lets it wait)."""
        self._since = max(self._since, self._clock(), audio_until or 0.0)

    def remaining(self) -> float | None:
        """Seconds left before the request counts as stalled; None: not bounded."""
        if self.timeout <= 0:
            return None
        since = self._since
        if self.engine_progress is not None:
            since = max(since, self.engine_progress())
        return self.timeout - (self._clock() - since)
