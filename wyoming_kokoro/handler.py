"""One client connection: Wyoming events in, requests made, their answers written in order.

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
from wyoming.event import Event, async_write_event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from .audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, float_to_pcm16, pcm_chunks, pcm_seconds
from .engine.voices import UnknownVoiceError
from .protocol import LimitedEventReader, Limits, ProtocolError
from .request import RequestError, SpeechRequest
from .speech import SpeakerHandle, choose_voice
from .stats import RequestStats, StatsWriter

_LOGGER = logging.getLogger(__name__)

MAX_QUEUED_REQUESTS = 8  # requests accepted and not yet answered, per connection
MAX_WAITING_ANSWERS = 32  # refused ones included: beyond this the connection closes
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


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
        speed: float,
        samples_per_chunk: int,
        limits: Limits | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self._limits = limits or Limits()
        self._events = LimitedEventReader(reader, self._limits)
        self._speaker = speaker
        self._info_event = info_event
        self._stats_writer = stats_writer
        self._speed = speed
        self._samples_per_chunk = samples_per_chunk
        self._answers: asyncio.Queue[SpeechRequest] = asyncio.Queue()
        self._waiting: list[SpeechRequest] = []  # not yet answered, in order (current first)
        self._current: SpeechRequest | None = None
        self._stream: SpeechRequest | None = None
        self._stream_chars = 0
        self._closing = False  # shutting down: no new requests
        self._gone = False  # the connection is over: nothing more is answered

    # ------------------------------------------------------------------ reading

    async def run(self) -> None:
        """Read and handle events; on the way out, cancel what the client still had."""
        speaking = asyncio.create_task(self._speak_all(), name="wyoming answers")
        speaking.add_done_callback(self._speaking_ended)
        try:
            await self._read_events()
        finally:
            await self._hang_up(speaking)

    async def _read_events(self) -> None:
        while True:
            try:
                await self._events.wait(self._limits.idle_timeout)
            except asyncio.TimeoutError:
                if self._stream is None and self._busy:
                    continue  # still speaking: a quiet client is not idle
                _LOGGER.info("Closing a connection idle for %.0f s", self._limits.idle_timeout)
                return
            except (ConnectionError, OSError):
                return
            try:
                # Once an event has begun, all of it must arrive in time (a client that
                # trickles bytes cannot hold a connection forever).
                event = await asyncio.wait_for(self._events.read_event(), self._limits.idle_timeout)
                if event is None:
                    return
                await self._dispatch(event)
            except asyncio.TimeoutError:
                await self._error("event not completed in time", "timeout")
                return
            except ProtocolError as err:
                await self._error(str(err), err.code)
                return
            except (ConnectionError, OSError):
                return

    @property
    def _busy(self) -> bool:
        return self._current is not None or not self._answers.empty()

    async def _dispatch(self, event: Event) -> None:
        if self._closing:
            return  # shutting down: what is in progress finishes, nothing new starts
        if Describe.is_type(event.type):
            await self._write(self._info_event)
        elif Synthesize.is_type(event.type):
            if self._stream is not None:
                # Home Assistant sends a compatibility `synthesize` inside a stream for
                # servers that cannot stream; the stream already carries that text.
                _LOGGER.debug("Ignoring synthesize inside a stream")
                return
            self._enqueue(self._new_request("oneshot", event))
        elif SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                await self._error("synthesize-start while a stream is open", "stream-open")
                return
            self._stream = self._new_request("stream", event)
            self._stream_chars = 0
            self._enqueue(self._stream)
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                await self._error("synthesize-chunk without synthesize-start", "no-stream")
                return
            self._on_chunk(self._stream, event)
        elif SynthesizeStop.is_type(event.type):
            if self._stream is None:
                await self._error("synthesize-stop without synthesize-start", "no-stream")
                return
            self._stream.close()
            self._stream = None
        else:
            _LOGGER.debug("Ignoring event %s", event.type)

    def _on_chunk(self, stream: SpeechRequest, event: Event) -> None:
        text = event.data.get("text")
        if not isinstance(text, str):
            stream.fail(
                RequestError("malformed synthesize-chunk: text must be a string", "bad-event")
            )
            return
        self._stream_chars += len(text)
        if self._stream_chars > self._limits.max_stream_chars:
            limit = self._limits.max_stream_chars
            stream.fail(
                RequestError(
                    f"stream text is over the limit of {limit} characters", "text-too-long"
                )
            )
            return
        stream.feed(text)

    def _new_request(self, mode: str, event: Event) -> SpeechRequest:
        """The request an event opens; a refused one if the event or a limit says no."""
        voice = event.data.get("voice")
        requested = voice.get("name") if isinstance(voice, dict) else None
        stats = RequestStats(
            mode=mode,
            voice=requested if isinstance(requested, str) else "",
            language="",
            provider="",
        )
        try:
            return self._accept(mode, event, stats)
        except RequestError as err:
            error = err
        except UnknownVoiceError as err:
            error = RequestError(str(err), "unknown-voice")
        except _MALFORMED as err:
            error = RequestError(f"malformed {event.type} event: {err!r}", "bad-event")
        _LOGGER.warning("Refusing a %s request: %s", mode, error)
        return SpeechRequest.refusal(self._speaker, error, stats, self._stats_writer)

    def _accept(self, mode: str, event: Event, stats: RequestStats) -> SpeechRequest:
        _check_fields(event)
        queued = sum(1 for request in self._waiting if not request.refused)
        if queued >= MAX_QUEUED_REQUESTS:
            raise RequestError(f"{queued} requests already queued on this connection", "busy")
        parsed = Synthesize.from_event(event) if mode == "oneshot" else None
        if parsed is not None and len(parsed.text) > self._limits.max_text_chars:
            raise RequestError(
                f"text has {len(parsed.text)} characters; the limit is "
                f"{self._limits.max_text_chars}",
                "text-too-long",
            )
        start = parsed or SynthesizeStart.from_event(event)
        voice: SynthesizeVoice | None = start.voice
        choice = choose_voice(
            self._speaker.catalogue,
            self._speaker.default_voice,
            voice.name if voice else None,
            voice.language if voice else None,
        )
        text_format = start.text_format
        ssml = str(getattr(text_format, "value", text_format) or "").lower() == "ssml"
        stats.voice, stats.language = choice.name, choice.locale
        request = SpeechRequest(
            self._speaker, choice, choice.speed or self._speed, stats, self._stats_writer, ssml
        )
        if parsed is not None:
            request.feed(parsed.text)
            request.close()
        return request

    def _enqueue(self, request: SpeechRequest) -> None:
        if len(self._waiting) >= MAX_WAITING_ANSWERS:
            request.cancel()
            request.record("cancelled", "too many requests waiting")
            raise ProtocolError(
                f"more than {MAX_WAITING_ANSWERS} requests waiting on this connection", "busy"
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
            await self._write(
                AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event()
            )
            failure = await self._speak(request)
            await request.closed.wait()  # a stream that failed still runs to its stop
            await self._write(AudioStop().event())
            if request.mode == "stream":
                await self._write(SynthesizeStopped().event())
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
        except RequestError as err:
            text, code = str(err), err.code
        except (ConnectionError, OSError):
            raise
        except Exception as err:  # G2P or inference failed: tell the client, keep serving
            _LOGGER.exception("Synthesis failed (voice %s)", request.voice.name)
            text, code = f"synthesis failed: {err}", "synthesis-failed"
        await self._error(text, code)
        return text

    async def _send_audio(self, request: SpeechRequest, samples: object) -> None:
        pcm = float_to_pcm16(samples)  # type: ignore[arg-type]
        if not pcm:
            return
        request.stats.audio_sent(pcm_seconds(len(pcm)))
        for piece in pcm_chunks(pcm, self._samples_per_chunk):
            chunk = AudioChunk(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS, audio=piece)
            await self._write(chunk.event())

    # ------------------------------------------------------------------ writing, ending

    async def _write(self, event: Event) -> None:
        """Send an event; a client that stops reading is dropped after write_timeout."""
        # asyncio.wait, not wait_for: before Python 3.12 wait_for can swallow a
        # cancellation that arrives as the write completes.
        write = asyncio.ensure_future(async_write_event(event, self.writer))
        try:
            done, _ = await asyncio.wait({write}, timeout=self._limits.write_timeout)
        finally:
            write.cancel()  # a no-op once done
        if not done:
            self.writer.transport.abort()  # the whole connection goes, not just this request
            raise ConnectionError(f"client read nothing for {self._limits.write_timeout:.0f} s")
        write.result()

    async def _error(self, text: str, code: str) -> None:
        _LOGGER.warning("Client error: %s", text)
        with contextlib.suppress(ConnectionError, OSError):  # it may be gone already
            await self._write(Error(text=text, code=code).event())

    def _speaking_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Answering requests failed", exc_info=task.exception())
            self.writer.transport.abort()  # nothing would answer this client any more

    async def finish(self, timeout: float) -> None:
        """Shutdown: let the requests in progress end within ``timeout``, then close."""
        self._closing = True  # events that still arrive are ignored
        if self._stream is not None:  # a stream that will get no more text ends here
            self._stream.close()
            self._stream = None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._answers.join(), timeout)
        self.writer.close()
        self.reader.feed_eof()

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


def _check_fields(event: Event) -> None:
    """Wrong types get a clear error instead of being guessed at."""
    voice = event.data.get("voice")
    if voice is not None:
        if not isinstance(voice, dict):
            raise TypeError('voice must be an object such as {"name": "af_heart"}')
        for key in ("name", "language", "speaker"):
            if voice.get(key) is not None and not isinstance(voice[key], str):
                raise TypeError(f"voice {key} must be a string")
    if "text" in event.data and not isinstance(event.data["text"], str):
        raise TypeError("text must be a string")
