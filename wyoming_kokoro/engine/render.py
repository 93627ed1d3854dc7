"""How one segment becomes audio: a rendering that yields its pieces in order.

A segment is rendered one of three ways, and the request that plays it does not need to
know which:

* at once: an SSML break (silence of its exact length) or a phrase-cache hit;
* one inference, whose audio comes whole when it is done;
* one inference vocoded in parts (engine/split.py): the parts made before the whole come
  as they are made, so the listener hears the segment's start while its end is vocoded.

Each rendering tells the request's :class:`Playout` clock what it made, so that the next
segment's inference knows how far ahead of the listener the audio is (the vocoder plan
reads it), and the deadline scheduler knows when the request's audio runs dry. The
estimate stays on the low side: the silence that trimming takes off is counted out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Generic, Protocol, TypeVar

import numpy as np

from ..audio import SAMPLE_RATE
from ..text.segment import Ending
from ..text.ssml import MAX_RATE, MIN_RATE
from .cache import PhraseCache, PhraseKey
from .router import SegmentResult
from .scheduler import CONTENDED_PART_S, InferenceScheduler

# Silence trimmed off a segment's audio, at least (the model's leading pad is 0.3-0.4 s,
# the trailing silence ~0.2-0.3 s; see audio.trim_silence): for the playing-out
# estimate, which stays on the low side.
HEAD_TRIM_S = 0.2
REST_TRIM_S = 0.25
WHOLE_TRIM_S = HEAD_TRIM_S + REST_TRIM_S


class Place(Enum):
    """Where a piece sits in its segment's audio (the shaper trims and pauses by it)."""

    WHOLE = "whole"  # all of the segment's audio
    PART = "part"  # a part made before the whole: more of the segment follows
    LAST = "last"  # the rest of a segment whose parts went before it
    BREAK = "break"  # an SSML break: owed as a pause of exactly its length


@dataclass(frozen=True)
class Piece:
    """Audio of one segment, or of part of one, as the model made it."""

    samples: np.ndarray
    place: Place
    ending: Ending  # what ended the segment (for the pause after it)
    silence: float = 0.0  # a break's length, seconds
    counted_s: float = 0.0  # what the playout clock was told of it (see Playout.correct)


class Renderable(Protocol):
    """What rendering needs of a segment (``text.prepare.Segment``)."""

    @property
    def phonemes(self) -> str: ...

    @property
    def ending(self) -> Ending: ...

    @property
    def silence(self) -> float: ...

    @property
    def rate(self) -> float: ...


S = TypeVar("S", bound=Renderable)


class Model(Protocol):
    """What rendering needs of the model (``engine.synthesizer.KokoroModel``, or a stub)."""

    model_digest: str

    def infer(
        self, phonemes: str, style: np.ndarray, speed: float, release_memory: bool = False
    ) -> SegmentResult: ...


class Styles(Protocol):
    def style(self, name: str, tokens: int) -> np.ndarray: ...


class Playout:
    """When one request's audio made so far will have played out (time.monotonic), if the
    client plays it from its arrival; None before any. Updated where audio is made (the
    inference thread, so that the next segment's run sees it at once), read there too.

    Counted when audio is made, on the low side (the silence trimming will take at least
    is taken off, the pauses that will be added are not counted), then corrected to what
    went out once it is shaped (:meth:`correct`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: float | None = None

    def made(self, samples: int, trimmed_s: float = 0.0) -> float:
        """Count ``samples`` of which ``trimmed_s`` will go; returns the seconds counted."""
        seconds = samples / SAMPLE_RATE - trimmed_s
        if seconds <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = now if self._until is None else max(now, self._until)
            self._until = start + seconds
        return seconds

    def correct(self, seconds: float) -> None:
        """What went out differed from what was counted by ``seconds`` (the trimming
        estimated, the pauses not counted): the clock follows what the client has."""
        if seconds > 0:
            self.made(round(seconds * SAMPLE_RATE))
            return
        with self._lock:
            if self._until is not None:
                self._until += seconds

    def until(self) -> float | None:
        with self._lock:
            return self._until


class Abandoned(Exception):
    """Raised between a segment's parts when nobody waits for them any more."""


class Rendering(Generic[S]):
    """One segment on its way to audio; :meth:`next` yields its pieces in order.

    Made by :meth:`Renderer.start`. After the last piece, ``result`` holds the inference
    that made it (None for a break or a cache hit; ``cache_hit`` tells which).
    """

    def __init__(
        self,
        segment: S,
        playout: Playout,
        audio: np.ndarray | None = None,
        future: asyncio.Future[SegmentResult] | None = None,
        parts: asyncio.Queue[tuple[np.ndarray, float]] | None = None,
        key: PhraseKey | None = None,
        cache: PhraseCache | None = None,
        rest_counted: list[float] | None = None,
    ) -> None:
        self.segment = segment
        self.playout = playout
        self.cache_hit = audio is not None and key is not None
        self.result: SegmentResult | None = None
        self._audio = audio  # known at once: a break or a cache hit
        self._future = future
        self._parts = parts
        self._key = key
        self._cache = cache
        self._handed = 0  # samples handed out as parts
        self._rest_counted = rest_counted or [0.0]  # what run() counted of the rest
        self._done = False

    @property
    def inferring(self) -> bool:
        """Its audio comes from an inference (not known at once)."""
        return self._future is not None

    async def next(self) -> Piece | None:
        """The segment's next piece; None after the last."""
        if self._done:
            return None
        ending = self.segment.ending
        if self._future is None:
            assert self._audio is not None
            self._done = True
            if not self.segment.phonemes:
                counted = self.playout.made(len(self._audio))
                return Piece(self._audio, Place.BREAK, ending, self.segment.silence, counted)
            counted = self.playout.made(len(self._audio), WHOLE_TRIM_S)  # a cache hit
            return Piece(self._audio, Place.WHOLE, ending, counted_s=counted)
        made = await self._next_part()
        if made is not None:
            part, counted = made
            self._handed += len(part)
            return Piece(part, Place.PART, ending, counted_s=counted)
        result = await self._future
        self._done = True
        self.result = result
        if self._cache is not None and self._key is not None:
            self._cache.put(self._key, result.audio)
        counted = self._rest_counted[0]
        if self._handed:
            return Piece(result.audio[self._handed :], Place.LAST, ending, counted_s=counted)
        return Piece(result.audio, Place.WHOLE, ending, counted_s=counted)

    async def _next_part(self) -> tuple[np.ndarray, float] | None:
        """The next part made before the whole; None when the rest comes with the whole."""
        if self._parts is None or self._future is None:
            return None
        if self._parts.empty() and not self._future.done():
            getting = asyncio.ensure_future(self._parts.get())
            try:
                waiting: set[asyncio.Future[object]] = {getting, self._future}  # type: ignore[arg-type]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                getting.cancel()
            if getting.done() and not getting.cancelled():
                return getting.result()
        # Parts are queued before the whole is done: what is queued still comes first.
        return None if self._parts.empty() else self._parts.get_nowait()

    def cancel(self) -> None:
        if self._future is not None:
            self._future.cancel()  # a rendering nobody will wait for frees the engine


class Renderer:
    """Shared by all requests: starts each segment's rendering from the phrase cache or
    as an inference job on the scheduler (the model's only thread)."""

    def __init__(
        self,
        model: Model,
        styles: Styles,
        cache: PhraseCache,
        scheduler: InferenceScheduler,
    ) -> None:
        self.model = model
        self.styles = styles
        self.cache = cache
        self.scheduler = scheduler

    def start(
        self,
        segment: S,
        voice: str,
        speed: float,
        first: bool,
        playout: Playout | None = None,
    ) -> Rendering[S]:
        """Begin rendering ``segment`` in ``voice``. ``first``: the request has no audio
        yet (the scheduler's first-segment turn); ``playout``: the request's clock."""
        playing = playout or Playout()
        if not segment.phonemes:  # an SSML break
            silence = np.zeros(round(segment.silence * SAMPLE_RATE), dtype=np.float32)
            return Rendering(segment, playing, audio=silence)
        if segment.rate != 1.0:  # SSML prosody, held within the range Kokoro speaks well
            speed = min(max(speed * segment.rate, MIN_RATE), MAX_RATE)
        key = PhraseKey(segment.phonemes, voice, speed, self.model.model_digest)
        cached = self.cache.get(key)
        if cached is not None:
            return Rendering(segment, playing, audio=cached, key=key)
        style = self.styles.style(voice, len(segment.phonemes))
        phonemes = segment.phonemes

        # A model that can vocode a segment in parts (engine/split.py) makes them in turn
        # when the audio made before would play out before the whole was made; the
        # playout clock tells when that is, and learns of the audio made here.
        infer_parts: Callable[..., SegmentResult] | None = getattr(self.model, "infer_parts", None)
        parts: asyncio.Queue[tuple[np.ndarray, float]] | None = None
        handed = [0]  # samples handed out as parts
        rest_counted = [0.0]  # what the clock was told of the audio after the parts
        if infer_parts is not None:
            loop = asyncio.get_running_loop()
            parts = asyncio.Queue()
            queue = parts

            def on_part(audio: np.ndarray) -> None:  # on the inference thread
                if future.cancelled():  # the client went: free the engine now
                    raise Abandoned
                counted = playing.made(len(audio), 0.0 if handed[0] else HEAD_TRIM_S)
                handed[0] += len(audio)
                loop.call_soon_threadsafe(queue.put_nowait, (audio, counted))

        def run() -> SegmentResult:
            # On the inference thread: when nothing else waits, the engine goes idle after
            # this run and can hand its arena memory back.
            scheduler = self.scheduler
            idle = scheduler.pending() == 0
            if infer_parts is None:
                result = self.model.infer(phonemes, style, speed, idle)
            else:
                # With other requests about, vocode in bounded parts and let the engine
                # serve them between parts (engine/scheduler.py).
                shared = CONTENDED_PART_S if scheduler.contended(playing) else None
                between = partial(scheduler.between, due=playing.until)
                others = scheduler.inline_s
                result = infer_parts(
                    phonemes, style, speed, on_part, playing.until, idle, shared, between
                )
                result.inference_s -= scheduler.inline_s - others  # their time, not ours
            rest = len(result.audio) - handed[0]
            rest_counted[0] = playing.made(rest, REST_TRIM_S if handed[0] else WHOLE_TRIM_S)
            return result

        future = self.scheduler.submit(
            first, run, phonemes=len(phonemes), due=playing.until, owner=playing
        )
        return Rendering(
            segment, playing, future=future, parts=parts, key=key, cache=self.cache,
            rest_counted=rest_counted,
        )  # fmt: skip
