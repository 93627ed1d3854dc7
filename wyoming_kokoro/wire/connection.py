"""One client connection: Wyoming events in, requests made, their answers written in order.

It only reads, dispatches and writes: admission (wire/admission.py) decides on each
request, the reader (wire/reader.py) keeps every read within limits and the writer
(wire/writer.py) owns the write timeout and the abort.

Two tasks per connection: ``run`` reads events (Describe is answered at once, stream text
goes to its request while audio is being made) and a speaking task answers the requests
one after another, in the order they came.

**Every request ends on the wire.** A one-shot ``synthesize`` is answered by
``audio-start`` … ``audio-stop``; a stream (``synthesize-start`` … ``synthesize-stop``) by
``audio-start`` … ``audio-stop``, ``synthesize-stopped``. A request that is refused or
fails still gets that ending, with an ``error`` event before ``audio-stop`` (a stream's
ending follows its ``synthesize-stop``); only a protocol error that leaves the connection
unreadable closes the connection instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from ..audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, float_to_pcm16, pcm_chunks, pcm_seconds
from ..config import WireSettings
from ..errors import ErrorCode, KokoroError, safe_text
from ..request import SpeechRequest
from ..speech import SpeakerHandle
from ..stats import RequestStats, StatsWriter
from .admission import MAX_QUEUED_REQUESTS, Refused, ServerState, admit, stream_text
from .reader import LimitedEventReader
from .writer import EventWriter

CUT_OFF_S = 1.0  # at shutdown, how long the endings of the requests cut off may take

_LOGGER = logging.getLogger(__name__)

__all__ = ["MAX_QUEUED_REQUESTS", "MAX_WAITING_ANSWERS", "KokoroConnection"]

MAX_WAITING_ANSWERS = 32  # refused ones included: beyond this the connection closes


class KokoroConnection:
    """Serves one client until it leaves, breaks the protocol, idles, or the server stops."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        speaker: SpeakerHandle,
        info_event: Event,
        stats_writer: StatsWriter,
        settings: WireSettings,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self._settings = settings
        self._out = EventWriter(writer, self._settings.write_timeout)
        self._events = LimitedEventReader(reader, self._settings)
        self._speaker = speaker
        self._info_event = info_event
        self._stats_writer = stats_writer
        self._answers: asyncio.Queue[SpeechRequest] = asyncio.Queue()
        self._waiting: list[SpeechRequest] = []  # not yet answered, in order (current first)
        self._current: SpeechRequest | None = None
        self._stream: SpeechRequest | None = None
        self._stream_chars = 0
        self._closing = False  # shutting down: no new requests
        self._gone = False  # the connection is over: nothing more is answered
        self._speaking: asyncio.Task[None] | None = None  # the task answering, in order

    # ------------------------------------------------------------------ reading

    async def run(self) -> None:
        """Read and handle events; on the way out, cancel what the client still had."""
        speaking = asyncio.create_task(self._speak_all(), name="wyoming answers")
        speaking.add_done_callback(self._speaking_ended)
        self._speaking = speaking
        try:
            await self._read_events()
        finally:
            await self._hang_up(speaking)

    async def _read_events(self) -> None:
        while True:
            try:
                await self._events.wait(self._settings.idle_timeout)
            except asyncio.TimeoutError:
                idle = self._settings.idle_timeout
                if self._stream is not None:  # it ends on the wire, as every request does
                    _LOGGER.info("Ending a stream that got no event for %.0f s", idle)
                    await self._end_all(
                        KokoroError(f"the stream got no event for {idle:g} s", ErrorCode.TIMEOUT)
                    )
                    return
                if self._busy:
                    continue  # still speaking: a quiet client is not idle
                _LOGGER.info("Closing a connection idle for %.0f s", idle)
                return
            except (ConnectionError, OSError):
                return
            try:
                # Once an event has begun, all of it must arrive in time (a client that
                # trickles bytes cannot hold a connection forever).
                event = await asyncio.wait_for(
                    self._events.read_event(), self._settings.idle_timeout
                )
                if event is None:
                    return
                await self._dispatch(event)
            except asyncio.TimeoutError:
                await self._end_all(KokoroError("event not completed in time", ErrorCode.TIMEOUT))
                return
            except KokoroError as err:  # a broken frame (fatal), or too many requests
                await self._end_all(err)
                return
            except (ConnectionError, OSError):
                return

    async def _end_all(self, error: KokoroError) -> None:
        """The connection cannot be read on: say why, and end every request it still has
        on the wire (``error``, ``audio-stop``) before it closes. A request still waiting
        gets the error as its own answer's end; with none, it is said alone."""
        if not self._waiting:
            await self._out.error(error)
        self._closing = True
        self._stream = None
        for request in list(self._waiting):
            request.fail(error)
            request.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._answers.join(), self._settings.write_timeout)

    @property
    def _busy(self) -> bool:
        return self._current is not None or not self._answers.empty()

    async def _dispatch(self, event: Event) -> None:
        if self._closing and not (
            self._stream is not None
            and (SynthesizeChunk.is_type(event.type) or SynthesizeStop.is_type(event.type))
        ):
            return  # shutting down: what is in progress finishes, nothing new starts
        if Describe.is_type(event.type):
            await self._out.write(self._info_event)
        elif Synthesize.is_type(event.type):
            if self._stream is not None:
                # Home Assistant sends a compatibility `synthesize` inside a stream for
                # servers that cannot stream; the stream already carries that text.
                _LOGGER.debug("Ignoring synthesize inside a stream")
                return
            self._enqueue(self._new_request("oneshot", event))
        elif SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                await self._out.error(
                    KokoroError("synthesize-start while a stream is open", ErrorCode.STREAM_OPEN)
                )
                return
            self._stream = self._new_request("stream", event)
            self._stream_chars = 0
            self._enqueue(self._stream)
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                await self._out.error(
                    KokoroError("synthesize-chunk without synthesize-start", ErrorCode.NO_STREAM)
                )
                return
            self._on_chunk(self._stream, event)
        elif SynthesizeStop.is_type(event.type):
            if self._stream is None:
                await self._out.error(
                    KokoroError("synthesize-stop without synthesize-start", ErrorCode.NO_STREAM)
                )
                return
            self._stream.close()
            self._stream = None
        else:
            _LOGGER.debug("Ignoring event %s", safe_text(event.type))

    def _on_chunk(self, stream: SpeechRequest, event: Event) -> None:
        text = stream_text(event, self._stream_chars, self._settings)
        if isinstance(text, KokoroError):
            stream.fail(text)
            return
        self._stream_chars += len(text)
        stream.feed(text)

    def _new_request(self, mode: str, event: Event) -> SpeechRequest:
        """The request an event opens; a refused one if admission says no."""
        queued = sum(1 for request in self._waiting if not request.refused)
        state = ServerState(
            self._speaker.catalogue, self._speaker.default_voice, self._settings, queued
        )
        admitted = admit(mode, event, state)
        if isinstance(admitted, Refused):
            _LOGGER.warning("Refusing a %s request: %s", mode, admitted.error)
            stats = RequestStats(mode=mode, voice=admitted.voice, language="", provider="")
            return SpeechRequest.refusal(self._speaker, admitted.error, stats, self._stats_writer)
        choice = admitted.voice
        stats = RequestStats(mode=mode, voice=choice.name, language=choice.locale, provider="")
        request = SpeechRequest(
            self._speaker, choice, admitted.speed, stats, self._stats_writer, admitted.ssml
        )
        if admitted.text is not None:
            request.feed(admitted.text)
            request.close()
        return request

    def _enqueue(self, request: SpeechRequest) -> None:
        if len(self._waiting) >= MAX_WAITING_ANSWERS:
            request.cancel()
            request.record("cancelled", "too many requests waiting")
            raise KokoroError(
                f"more than {MAX_WAITING_ANSWERS} requests waiting on this connection",
                ErrorCode.BUSY,
                fatal=True,
            )
        self._waiting.append(request)
        self._answers.put_nowait(request)

    # ------------------------------------------------------------------ answering

    async def _speak_all(self) -> None:
        while not self._gone:
            request = await self._answers.get()
            self._current = request
            try:
                await self._answer(request)
            finally:
                self._current = None
                self._waiting.remove(request)
                self._answers.task_done()

    async def _answer(self, request: SpeechRequest) -> None:
        """audio-start, the audio as it is made, audio-stop (+ synthesize-stopped)."""
        failure: str | None = None
        outcome = "cancelled"
        try:
            await self._out.write(
                AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event()
            )
            failure = await self._speak(request)
            await request.closed.wait()  # a stream that failed still runs to its stop
            await self._out.write(AudioStop().event())
            if request.mode == "stream":
                await self._out.write(SynthesizeStopped().event())
            outcome = "error" if failure else "ok"
        except (ConnectionError, OSError) as err:
            failure = f"client went away: {err}"
        finally:
            request.record(outcome, failure)

    async def _speak(self, request: SpeechRequest) -> str | None:
        """Send the request's audio; on failure send an error event and return its text."""
        try:
            async with contextlib.aclosing(request.audio()) as audio:
                async for piece in audio:
                    await self._send_audio(request, piece.samples)
            return None
        except KokoroError as err:
            error = err
        except (ConnectionError, OSError):
            raise
        except Exception as err:  # G2P or inference failed: tell the client, keep serving
            _LOGGER.exception("Synthesis failed (voice %s)", request.voice.name)
            error = KokoroError(f"synthesis failed: {err}", ErrorCode.SYNTHESIS_FAILED)
        await self._out.error(error)
        return error.text

    async def _send_audio(self, request: SpeechRequest, samples: object) -> None:
        pcm = float_to_pcm16(samples)  # type: ignore[arg-type]
        if not pcm:
            return
        request.stats.audio_sent(pcm_seconds(len(pcm)))
        for piece in pcm_chunks(pcm, self._settings.samples_per_chunk):
            chunk = AudioChunk(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS, audio=piece)
            await self._out.write(chunk.event())

    # ------------------------------------------------------------------ writing, ending

    def _speaking_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Answering requests failed", exc_info=task.exception())
            self._out.abort()  # nothing would answer this client any more

    async def finish(self, timeout: float) -> None:
        """Shutdown: the requests in progress get ``timeout`` to end (an open stream still
        takes its text and its stop; nothing new starts); those that have not ended by
        then are cut off, ending on the wire as every request does; then it closes."""
        self._closing = True
        try:
            await asyncio.wait_for(self._answers.join(), timeout)
        except asyncio.TimeoutError:
            await self._cut_off(KokoroError("the server is shutting down", ErrorCode.SHUTTING_DOWN))
        self.writer.close()
        self.reader.feed_eof()

    async def _cut_off(self, error: KokoroError) -> None:
        """Stop answering; each request still here gets ``error`` and ``audio-stop`` (and
        ``synthesize-stopped``), so a client reading the reply sees it end, not just EOF."""
        self._gone = True
        self._stream = None
        waiting, current = list(self._waiting), self._current
        for request in waiting:
            request.record("cancelled", error.text)  # the answer's own record is then void
            request.cancel()
        if self._speaking is not None:
            self._speaking.cancel()
            await asyncio.wait([self._speaking])
        _LOGGER.info("Cutting off %d request(s): %s", len(waiting), error.text)
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self._end_on_wire(waiting, current, error), CUT_OFF_S)

    async def _end_on_wire(
        self, requests: list[SpeechRequest], current: SpeechRequest | None, error: KokoroError
    ) -> None:
        start = AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event()
        for request in requests:
            if request is not current:  # not begun: its reply is only the ending
                await self._out.write(start)
            await self._out.write(Error(text=error.text, code=error.code.value).event())
            await self._out.write(AudioStop().event())
            if request.mode == "stream":
                await self._out.write(SynthesizeStopped().event())

    async def _hang_up(self, speaking: asyncio.Task[None]) -> None:
        """The client is gone: cancel whatever it still had queued or in progress."""
        self._gone = True
        waiting = list(self._waiting)
        for request in waiting:
            request.cancel()
        speaking.cancel()
        await asyncio.wait([speaking])
        for request in waiting:
            request.record("cancelled", None)
        self.writer.close()
