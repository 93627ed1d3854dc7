"""One request, one object: text in → segments → audio out → one stats record.

Lifecycle (``SpeechRequest.state``)::

    open ──feed()*──► close() ──► (audio() runs the stages) ──► ok | error | cancelled
                                                          └──► record(): one stats line

Three stages hand work on through bounded queues, and ``None`` is the one end-of-input
marker on every one of them:

    feed()/close() ─► pieces ─► [text stage] ─► segments ─► [inference stage] ─►
    renderings ─► audio() ─► SpeechAudio

* the text stage runs all text work (SSML, splitting, normalization, G2P) on the text
  worker's thread, ahead of inference, at most ``SEGMENTS_AHEAD`` segments ahead;
* the inference stage starts each segment's rendering (phrase cache or scheduler, see
  engine/render.py) as soon as it exists, at most ``LOOKAHEAD`` ahead of the audio: the
  engine never idles between segments, and the audio a request holds is bounded
  whatever its length;
* ``audio()`` is: for each rendering, for each piece: shape (shaping.py), send.

A stage that fails records its error and ends its queue; ``audio()`` raises it.
``fail()`` (the client broke a limit mid-stream) and ``cancel()`` (the client left, or
shutdown) are the explicit ways to stop a request from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from .audio import SAMPLE_RATE
from .engine.render import Place, Playout, Rendering
from .errors import ErrorCode, KokoroError
from .liveness import StallClock
from .shaping import Shaper
from .speech import Speaker, SpeakerHandle, VoiceChoice
from .stats import RequestStats, StatsWriter
from .text.prepare import Segment, TextPreparer
from .text.segment import Ending, Sentence

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

LOOKAHEAD = 1  # jobs queued between the inference stage and audio()
SEGMENTS_AHEAD = 4  # prepared segments waiting for the inference stage


@dataclass(frozen=True)
class SpeechAudio:
    """One segment's audio, and what ended the segment (for the pause after it)."""

    samples: np.ndarray
    ending: Ending
    segment: Segment | None  # None: the request's tail silence


class SpeechRequest:
    """One synthesis request (a one-shot or a stream) from its first text to its record."""

    def __init__(
        self,
        handle: SpeakerHandle,
        voice: VoiceChoice,
        speed: float,
        stats: RequestStats,
        writer: StatsWriter,
        ssml: bool = False,
    ) -> None:
        self.voice = voice
        self.speed = speed
        self.stats = stats
        self.ssml = ssml
        self.state = "open"
        self.refused = False  # failed before it began (it still gets its answer in turn)
        self.closed = asyncio.Event()  # all text is in (or the request was stopped)
        self._handle = handle
        self._writer = writer
        self._failure: BaseException | None = None
        self._pieces: asyncio.Queue[str | None] = asyncio.Queue()
        self._segments: asyncio.Queue[Segment | None] = asyncio.Queue(SEGMENTS_AHEAD)
        self._renderings: asyncio.Queue[Rendering[Segment] | None] = asyncio.Queue(LOOKAHEAD)
        self._stages: list[asyncio.Task[None]] = []
        # When the audio made so far has played out: later segments are vocoded in parts
        # when that is near (see engine/render.py).
        self.playout = Playout()
        self._shaper: Shaper | None = None  # the request's way out, once it speaks
        self.liveness = handle.liveness
        self._stall = StallClock(self.liveness.stall_timeout)
        self._waiting_for_text = False  # the text stage waits for the client's next text
        self._doing = "waiting for the model"  # what the request's own work is, for a stall

    @classmethod
    def refusal(
        cls, handle: SpeakerHandle, error: KokoroError, stats: RequestStats, writer: StatsWriter
    ) -> SpeechRequest:
        """A request that fails at once (its answer still comes in its turn)."""
        voice = VoiceChoice(stats.voice, "", stats.language)
        request = cls(handle, voice, 1.0, stats, writer)
        request.refused = True
        request.fail(error)
        if stats.mode == "oneshot":
            request.close()  # a stream's text still runs to its synthesize-stop
        return request

    @property
    def mode(self) -> str:
        return self.stats.mode

    # ------------------------------------------------------------------ text in

    def feed(self, text: str) -> None:
        """More text (cheap: the text stage does the work). Ignored once failed or closed."""
        if self.closed.is_set() or self._failure is not None:
            return
        self.stats.characters += len(text)
        if not self.stats.text_started and text and not text.isspace():
            self.stats.text_arrived()
        self._pieces.put_nowait(text)

    def close(self) -> None:
        """The end of the text."""
        if not self.closed.is_set():
            self._pieces.put_nowait(None)
            self.closed.set()

    def fail(self, error: BaseException) -> None:
        """Stop with ``error``: ``audio()`` raises it once the audio in hand is out."""
        if self._failure is None and self.state in ("open", "speaking"):
            self._failure = error
            self._stop()
            self._renderings.put_nowait(None)

    def cancel(self) -> None:
        """The client is gone or the server stops: stop the stages and free the engine.

        Whoever consumes ``audio()`` cancels that task too (its ``finally`` frees the job
        in hand)."""
        if self.state in ("open", "speaking"):
            self.state = "cancelled"
        self.closed.set()
        self._stop()

    def _stop(self) -> None:
        for task in self._stages:
            task.cancel()
        while not self._renderings.empty():
            rendering = self._renderings.get_nowait()
            if rendering is not None:
                rendering.cancel()

    # ------------------------------------------------------------------ audio out

    async def audio(self) -> AsyncGenerator[SpeechAudio, None]:
        """The request's audio, segment by segment, in order; raises what failed it.

        Consume it with ``contextlib.aclosing`` so that leaving early stops the stages.
        """
        if self._failure is not None:
            raise self._failure
        self.state = "speaking"
        self._stall.progress()
        speaker = await self._bounded(self._handle.get())  # the model may still be loading
        scheduler = speaker.renderer.scheduler
        self._stall.engine_progress = lambda: scheduler.last_progress
        self._doing = "G2P"
        self._stages = [
            asyncio.create_task(self._text_stage(speaker)),
            asyncio.create_task(self._inference_stage(speaker)),
        ]
        shaping = speaker.shaping
        shaper = shaping.shaper(self.voice.lang_code, self.voice.name, self.speed)
        self._shaper = shaper
        rendering: Rendering[Segment] | None = None
        try:
            while True:
                getting = asyncio.ensure_future(self._renderings.get())
                async for silence in self._meanwhile(getting, client_turn=True):
                    yield silence
                if (rendering := getting.result()) is None:
                    break
                self._doing = "inference"
                while True:
                    nexting = asyncio.ensure_future(rendering.next())
                    async for silence in self._meanwhile(nexting):
                        yield silence
                    if (piece := nexting.result()) is None:
                        break
                    shaped = await self._bounded(shaping.run(shaper.shape, piece))
                    # What goes out is known now: trimmed, with the pause before it.
                    self.playout.correct(len(shaped) / SAMPLE_RATE - piece.counted_s)
                    ending = Ending.PART if piece.place is Place.PART else piece.ending
                    yield SpeechAudio(shaped, ending, rendering.segment)
                    self._stall.progress(self.playout.until())
                self._account(rendering)
                rendering = None
            if self._failure is not None:
                raise self._failure
            tail = await self._bounded(shaping.run(shaper.tail))
            if len(tail):
                yield SpeechAudio(tail, Ending.SENTENCE, None)
        finally:
            if rendering is not None:
                rendering.cancel()
            self._stop()

    def _account(self, rendering: Rendering[Segment]) -> None:
        """Count a rendered segment in the record."""
        if (result := rendering.result) is not None:
            self.stats.segment_done(
                result.provider, result.inference_s, result.fallback, result.failed_provider
            )
        elif rendering.cache_hit:
            self.stats.cache_hit()

    # ------------------------------------------------------------------ liveness

    async def _bounded(self, work: Awaitable[_T]) -> _T:
        """Await the request's own work; raise a ``stalled`` error once it has made no
        progress for ``stall_timeout``."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                left = self._stall.remaining()
                if left is not None and left <= 0:
                    raise self._stalled()
                await asyncio.wait({task}, timeout=left)
                if task.done():
                    return task.result()
        finally:
            task.cancel()

    async def _meanwhile(
        self, task: asyncio.Future[Any], client_turn: bool = False
    ) -> AsyncGenerator[SpeechAudio, None]:
        """Wait for ``task``, the request's own work, with the stall bound (``client_turn``:
        the wait may be for the client's text, which does not count); meanwhile, silence
        for a stream's player whenever the audio it has would run out."""
        stream = self.mode == "stream"
        try:
            while not task.done():
                exempt = client_turn and self._waiting_for_text
                left = None if exempt else self._stall.remaining()
                if left is not None and left <= 0:
                    raise self._stalled()
                # A stream's state (the client's turn, its audio in hand) changes as it goes.
                step = self.liveness.keepalive_chunk_s if stream else left
                if step is not None and left is not None:
                    step = min(step, left)
                await asyncio.wait({task}, timeout=step)
                if task.done():
                    return
                if exempt:
                    self._stall.progress()
                if self._keepalive_on():
                    until = self.playout.until()  # None: too little sent to count
                    left_s = 0.0 if until is None else until - time.monotonic()
                    if left_s < self.liveness.keepalive_lead_s:
                        yield self._keepalive()  # no progress: a hung stream still stalls
        finally:
            if not task.done():
                task.cancel()  # a queue's get taken back leaves its item queued

    def _keepalive_on(self) -> bool:
        """A stream that has begun to speak: from then on its player never runs dry,
        whether the text paused or the next segment is late (it is silence either way,
        and some satellites hang when the bytes stop mid-reply)."""
        return (
            self.liveness.stream_keepalive
            and self.mode == "stream"
            and self.stats.first_audio_ms is not None
            and self._failure is None
        )

    def _stalled(self) -> KokoroError:
        text = f"no progress for {self._stall.timeout:g} s ({self._doing})"
        return KokoroError(text, ErrorCode.STALLED)

    def _keepalive(self) -> SpeechAudio:
        """A short chunk of silence for a stream's player (counted in the record)."""
        seconds = self.liveness.keepalive_chunk_s
        silence = np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)
        self.playout.made(len(silence), 0.0)
        self.stats.keepalive_s += seconds
        if self._shaper is not None:  # no shaping runs now: the request waits for its work
            self._shaper.waited(seconds)
        return SpeechAudio(silence, Ending.PART, None)

    # ------------------------------------------------------------------ stages

    async def _text_stage(self, speaker: Speaker) -> None:
        preparer = speaker.text.preparer(self.voice.lang_code, self.ssml)
        try:
            finished = False
            while not finished:
                pieces = [await self._next_piece(speaker, preparer)]
                while not self._pieces.empty():
                    pieces.append(self._pieces.get_nowait())
                finished = pieces[-1] is None
                text = [piece for piece in pieces if piece is not None]
                planned: list[Sentence | Segment] = []
                if finished:  # the last text is planned with what is left
                    planned += await self._timed(speaker, preparer.finish, text)
                elif text:
                    planned += await self._timed(speaker, preparer.feed, text)
                for item in planned:
                    await self._put_segments(speaker, preparer, item)
            self._note_text(preparer)
        except Exception as err:  # G2P failed (a language not installed, …)
            self._failure = err
        await self._segments.put(None)

    async def _next_piece(self, speaker: Speaker, preparer: TextPreparer) -> str | None:
        """The client's next text. While a stream's text pauses, it is the client's turn
        (no stall), and after ``settle_s`` the text held is spoken if it ends at a mark."""
        if not self._pieces.empty():
            return self._pieces.get_nowait()
        getting = asyncio.ensure_future(self._pieces.get())
        try:
            self._client_turn(True)
            settle = self.liveness.settle_s if self.mode == "stream" else None
            if settle:
                await asyncio.wait({getting}, timeout=settle)
                if not getting.done():
                    self._client_turn(False)  # our own work again, while it lasts
                    for item in await self._timed(speaker, preparer.settle):
                        await self._put_segments(speaker, preparer, item)
                    self._client_turn(True)
            return await getting
        finally:
            getting.cancel()
            self._client_turn(False)

    def _client_turn(self, waiting: bool) -> None:
        self._waiting_for_text = waiting
        self._stall.progress()

    def _note_text(self, preparer: TextPreparer) -> None:
        """Kept current: the record may be written at any time (a hang-up, a limit)."""
        self.stats.phonemes, self.stats.text_format = preparer.phonemes, preparer.text_format
        self.stats.lexicon_entries = len(preparer.lexicon_used)

    async def _put_segments(
        self, speaker: Speaker, preparer: TextPreparer, item: Sentence | Segment
    ) -> None:
        segments = [item] if isinstance(item, Segment) else None
        if segments is None:
            segments = await self._timed(speaker, preparer.segments, item)
        self._note_text(preparer)
        for segment in segments:
            await self._segments.put(segment)  # waits while SEGMENTS_AHEAD are ready

    async def _timed(self, speaker: Speaker, function: Callable[..., _T], *args: object) -> _T:
        """Text work on the text thread, its time counted as the request's G2P time."""
        started = time.perf_counter()
        self._doing = "G2P"
        try:
            return await speaker.text.run(function, *args)
        finally:
            self.stats.g2p_ms += (time.perf_counter() - started) * 1000
            self._stall.progress()

    async def _inference_stage(self, speaker: Speaker) -> None:
        first = True
        renderer = speaker.renderer
        try:
            while (segment := await self._segments.get()) is not None:
                rendering = renderer.start(
                    segment, self.voice.name, self.speed, first, self.playout
                )
                first = first and not segment.phonemes  # silences keep the turn
                try:
                    await self._renderings.put(rendering)  # waits while LOOKAHEAD are queued
                except asyncio.CancelledError:
                    rendering.cancel()  # never handed over: nobody else would cancel it
                    raise
        except Exception as err:  # e.g. a style for a voice that vanished
            self._failure = err
        await self._renderings.put(None)

    # ------------------------------------------------------------------ the record

    def record(self, outcome: str, error: str | None) -> None:
        """Write the request's one stats record (once, whatever happened)."""
        if self.stats.recorded:
            return
        self.stats.recorded = True
        self.state = outcome
        self.stats.finish(outcome, error)
        speaker = self._handle.speaker
        if speaker is not None:
            speaker.request_finished(self.stats)
        self._writer.write(self.stats)
        _LOGGER.debug("Request %s: %s", self.stats.request_id, self.stats.to_json())


async def speak_text(
    speaker: Speaker, text: str, voice: VoiceChoice, speed: float, stats: RequestStats
) -> np.ndarray:
    """All the audio for one whole text (for tests and benchmarks, not the server)."""
    handle = SpeakerHandle(speaker.catalogue, speaker.default_voice)
    handle.set(speaker)
    request = SpeechRequest(handle, voice, speed, stats, StatsWriter(None))
    request.feed(text)
    request.close()
    pieces = [np.zeros(0, dtype=np.float32)]
    async with contextlib.aclosing(request.audio()) as audio:
        async for piece in audio:
            pieces.append(piece.samples)
    return np.concatenate(pieces)
