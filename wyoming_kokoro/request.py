"""One request, one object: text in → segments → audio out → one stats record.

Lifecycle (``SpeechRequest.state``)::

    open ──feed()*──► close() ──► (audio() runs the stages) ──► ok | error | cancelled
                                                          └──► record(): one stats line

Three stages hand work on through bounded queues, and ``None`` is the one end-of-input
marker on every one of them:

    feed()/close() ─► pieces ─► [text stage] ─► segments ─► [inference stage] ─► jobs ─►
    audio() ─► SpeechAudio

* the text stage runs all text work (SSML, splitting, normalization, G2P) on the text
  thread, ahead of inference, at most ``SEGMENTS_AHEAD`` segments ahead;
* the inference stage starts each segment (phrase cache or scheduler) as soon as it
  exists, at most ``LOOKAHEAD`` jobs ahead of the audio: the engine never idles between
  segments, and the audio a request holds is bounded whatever its length;
* ``audio()`` waits for each job in order and hands its audio out through
  ``_audio_out``, the one place where per-segment post-processing belongs.

A stage that fails records its error and ends its queue; ``audio()`` raises it.
``fail()`` (the client broke a limit mid-stream) and ``cancel()`` (the client left, or
shutdown) are the explicit ways to stop a request from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .errors import KokoroError
from .postprocess import RequestAudio
from .speech import WHOLE_TRIM_S, Job, Playout, Speaker, SpeakerHandle, VoiceChoice
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
        self._jobs: asyncio.Queue[Job | None] = asyncio.Queue(LOOKAHEAD)
        self._stages: list[asyncio.Task[None]] = []
        # When the audio made so far has played out: later segments are vocoded in parts
        # when that is near (see speech.Playout).
        self.playout = Playout()

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
            self._jobs.put_nowait(None)

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
        while not self._jobs.empty():
            job = self._jobs.get_nowait()
            if job is not None:
                job.cancel()

    # ------------------------------------------------------------------ audio out

    async def audio(self) -> AsyncGenerator[SpeechAudio, None]:
        """The request's audio, segment by segment, in order; raises what failed it.

        Consume it with ``contextlib.aclosing`` so that leaving early stops the stages.
        """
        if self._failure is not None:
            raise self._failure
        self.state = "speaking"
        speaker = await self._handle.get()  # waits while the model is still loading
        self._stages = [
            asyncio.create_task(self._text_stage(speaker)),
            asyncio.create_task(self._inference_stage(speaker)),
        ]
        shaper = speaker.shaper(self.voice)
        job: Job | None = None
        try:
            while (job := await self._jobs.get()) is not None:
                handed = 0
                while (part := await speaker.next_part(job)) is not None:
                    # A part of the segment, made before the rest (see engine/split.py).
                    shaped = await speaker.run_audio(shaper.part, part)
                    yield SpeechAudio(shaped, Ending.PART, job.segment)
                    handed += len(part)
                samples = await speaker.finish(job, self.stats)
                if handed:
                    rest = samples[handed:]
                    shaped = await speaker.run_audio(shaper.rest, rest, job.segment.ending)
                    yield SpeechAudio(shaped, job.segment.ending, job.segment)
                else:
                    if job.future is None:  # a cache hit or a break: made just now
                        self.playout.made(len(samples), WHOLE_TRIM_S if job.key else 0.0)
                    yield await self._audio_out(speaker, shaper, job.segment, samples)
                job = None
            if self._failure is not None:
                raise self._failure
            tail = await speaker.run_audio(shaper.finish)
            if len(tail):
                yield SpeechAudio(tail, Ending.SENTENCE, None)
        finally:
            if job is not None:
                job.cancel()
            self._stop()

    async def _audio_out(
        self, speaker: Speaker, shaper: RequestAudio, segment: Segment, samples: np.ndarray
    ) -> SpeechAudio:
        """Every segment's audio passes through here, on the audio thread: trimmed, after
        the pause its predecessor's ending calls for, at the loudness target (see
        postprocess.py). An SSML break is owed to the next speech, at its exact length.
        What inference made (and the phrase cache keeps) is never changed in place."""
        if not segment.phonemes:
            shaper.pause(segment.silence)
            return SpeechAudio(samples[:0], segment.ending, segment)
        shaped = await speaker.run_audio(shaper.segment, samples, segment.ending)
        return SpeechAudio(shaped, segment.ending, segment)

    # ------------------------------------------------------------------ stages

    async def _text_stage(self, speaker: Speaker) -> None:
        preparer = speaker.preparer(self.voice, self.ssml)
        try:
            finished = False
            while not finished:
                pieces = [await self._pieces.get()]
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
        try:
            return await speaker.run_text(function, *args)
        finally:
            self.stats.g2p_ms += (time.perf_counter() - started) * 1000

    async def _inference_stage(self, speaker: Speaker) -> None:
        first = True
        try:
            while (segment := await self._segments.get()) is not None:
                job = speaker.start(segment, self.voice, self.speed, first, self.playout)
                first = first and not segment.phonemes  # silences keep the turn
                try:
                    await self._jobs.put(job)  # waits while LOOKAHEAD jobs are queued
                except asyncio.CancelledError:
                    job.cancel()  # never handed over: nobody else would cancel it
                    raise
        except Exception as err:  # e.g. a style for a voice that vanished
            self._failure = err
        await self._jobs.put(None)

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
