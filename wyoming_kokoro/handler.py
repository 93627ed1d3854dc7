"""Wyoming event handler: Describe → Info, one-shot synthesize, streamed synthesize.

One handler per connection. Requests on a connection are spoken in order, each by its own
task, so the handler keeps reading events (stream chunks, Describe) while audio is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
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
from .speech import SpeakerHandle, SsmlDocument, VoiceChoice
from .stats import RequestStats, StatsWriter
from .text.normalize import looks_like_ssml
from .text.segment import SentenceBuffer

_LOGGER = logging.getLogger(__name__)


class Utterance:
    """Text on its way to speech: sentences are queued as soon as they are complete.

    An SSML document (``text_format: ssml``, or text that starts with ``<speak``) can only
    be read whole, so it is collected until the request's text is complete.
    """

    def __init__(self, mode: str, voice: VoiceChoice, speed: float, ssml: bool = False) -> None:
        self.ssml = ssml
        self.mode = mode
        self.voice = voice
        self.speed = speed
        self.stats = RequestStats(mode=mode, voice=voice.name, language=voice.locale, provider="")
        self.sentences: asyncio.Queue[str | SsmlDocument | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._buffer = SentenceBuffer()
        self._document: list[str] = []
        # Text held until its start shows whether it is SSML ("<", "speak>…" may arrive
        # as separate stream chunks); None once decided.
        self._undecided: str | None = None if ssml else ""

    def feed(self, text: str) -> None:
        self.stats.characters += len(text)
        if text.strip():
            self.stats.text_arrived()
        if self._undecided is not None:
            self._undecided += text
            head = self._undecided.lstrip("\ufeff \t\r\n").lower()
            if len(head) < 6 and any(p.startswith(head) for p in ("<speak", "<?xml")):
                return  # could still become "<speak"
            if head.startswith("<?xml") and "<speak" not in head and len(head) < 200:
                return  # an XML declaration: SSML if <speak> follows
            text, self._undecided = self._undecided, None
            self.ssml = looks_like_ssml(text)
        if self.ssml:
            self._document.append(text)
            return
        for sentence in self._buffer.feed(text):
            self.sentences.put_nowait(sentence)

    def close(self) -> None:
        if self._undecided:  # the whole text was shorter than "<speak"
            text, self._undecided = self._undecided, None
            for sentence in self._buffer.feed(text):
                self.sentences.put_nowait(sentence)
        if self.ssml:
            self.stats.text_format = "ssml"
            document = "".join(self._document)
            if document.strip():
                self.sentences.put_nowait(SsmlDocument(document))
        for sentence in self._buffer.flush():
            self.sentences.put_nowait(sentence)
        self.sentences.put_nowait(None)
        self.closed.set()


class KokoroEventHandler(AsyncEventHandler):
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
        super().__init__(reader, writer)
        self._limits = limits or Limits()
        self._events = LimitedEventReader(reader, self._limits)
        self._stream_chars = 0
        self._speaker = speaker
        self._info_event = info_event
        self._stats_writer = stats_writer
        self._speed = speed
        self._samples_per_chunk = samples_per_chunk
        self._stream: Utterance | None = None
        self._last_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def run(self) -> None:
        """Read events within the limits until the client leaves, breaks a limit or idles."""
        try:
            while True:
                try:
                    await self._events.wait(self._limits.idle_timeout)
                except asyncio.TimeoutError:
                    if self._tasks and self._stream is None:
                        continue  # still speaking: a quiet client is not idle
                    _LOGGER.info("Closing a connection idle for %.0f s", self._limits.idle_timeout)
                    break
                except (ConnectionError, OSError):
                    break
                try:
                    # Once an event has begun, all of it must arrive in time (a client
                    # that trickles bytes cannot hold a connection forever).
                    event = await asyncio.wait_for(
                        self._events.read_event(), self._limits.idle_timeout
                    )
                except asyncio.TimeoutError:
                    await self._error("event not completed in time", "timeout")
                    break
                except ProtocolError as err:
                    await self._error(str(err), err.code)
                    break
                except (ConnectionError, OSError):
                    break
                if event is None:
                    break
                try:
                    await self.handle_event(event)
                except ProtocolError as err:
                    await self._error(str(err), err.code)
                    break
                except (ConnectionError, OSError):
                    break
        finally:
            await self.disconnect()
            self.writer.close()

    async def write_event(self, event: Event) -> None:
        """Send an event; a client that stops reading is dropped after write_timeout."""
        try:
            await asyncio.wait_for(super().write_event(event), self._limits.write_timeout)
        except asyncio.TimeoutError:
            self.writer.transport.abort()  # the whole connection goes, not just this request
            raise ConnectionError(
                f"client read nothing for {self._limits.write_timeout:.0f} s"
            ) from None

    async def finish(self, timeout: float) -> None:
        """Shutdown: let the requests in progress end within ``timeout``, then close."""
        self._closing = True  # events that still arrive are ignored
        if self._stream is not None:  # a stream that will get no more text ends here
            self._stream.close()
            self._stream = None
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
        self.writer.close()
        self.reader.feed_eof()

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._dispatch(event)
        except UnknownVoiceError as err:
            await self._error(str(err), "unknown-voice")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            await self._error(f"malformed {event.type} event: {err!r}", "bad-event")
        return True

    @staticmethod
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

    async def _dispatch(self, event: Event) -> None:
        if self._closing:
            return  # shutting down: what is in progress finishes, nothing new starts
        if event.type in ("synthesize", "synthesize-start", "synthesize-chunk"):
            self._check_fields(event)
        if Describe.is_type(event.type):
            await self.write_event(self._info_event)
        elif Synthesize.is_type(event.type):
            if self._stream is not None:
                # Home Assistant sends a compatibility `synthesize` inside a stream for
                # servers that cannot stream; the stream already carries that text.
                _LOGGER.debug("Ignoring synthesize inside a stream")
                return
            synthesize = Synthesize.from_event(event)
            if len(synthesize.text) > self._limits.max_text_chars:
                raise ProtocolError(
                    f"text has {len(synthesize.text)} characters; the limit is "
                    f"{self._limits.max_text_chars}",
                    "text-too-long",
                )
            utterance = self._begin("oneshot", synthesize.voice, synthesize.text_format)
            utterance.feed(synthesize.text)
            utterance.close()
        elif SynthesizeStart.is_type(event.type):
            if self._stream is not None:
                await self._error(
                    "synthesize-start while a stream is open; send synthesize-stop first",
                    "stream-open",
                )
                return
            start = SynthesizeStart.from_event(event)
            self._stream = self._begin("stream", start.voice, start.text_format)
            self._stream_chars = 0
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is None:
                await self._error("synthesize-chunk without synthesize-start", "no-stream")
                return
            chunk = SynthesizeChunk.from_event(event)
            self._stream_chars += len(chunk.text)
            if self._stream_chars > self._limits.max_stream_chars:
                raise ProtocolError(
                    f"stream text is over the limit of {self._limits.max_stream_chars} characters",
                    "text-too-long",
                )
            self._stream.feed(chunk.text)
        elif SynthesizeStop.is_type(event.type):
            if self._stream is None:
                await self._error("synthesize-stop without synthesize-start", "no-stream")
                return
            self._stream.close()
            self._stream = None
        else:
            _LOGGER.debug("Ignoring event %s", event.type)

    MAX_QUEUED_REQUESTS = 8

    def _begin(
        self, mode: str, voice: SynthesizeVoice | None, text_format: object = None
    ) -> Utterance:
        if len(self._tasks) >= self.MAX_QUEUED_REQUESTS:
            raise ProtocolError(
                f"{len(self._tasks)} requests already queued on this connection", "busy"
            )
        choice = self._speaker.choose_voice(
            voice.name if voice else None, voice.language if voice else None
        )
        ssml = str(getattr(text_format, "value", text_format) or "").lower() == "ssml"
        utterance = Utterance(mode, choice, choice.speed or self._speed, ssml)
        task = asyncio.create_task(self._speak(utterance, self._last_task))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._record(utterance.stats, "cancelled", None))
        self._last_task = task
        return utterance

    async def _error(self, text: str, code: str) -> None:
        _LOGGER.warning("Client error: %s", text)
        with contextlib.suppress(ConnectionError, OSError):  # it may be gone already
            await self.write_event(Error(text=text, code=code).event())

    async def _speak(self, utterance: Utterance, previous: asyncio.Task[None] | None) -> None:
        """Speak one request: audio-start, chunks as sentences finish, audio-stop."""
        stats = utterance.stats
        failure: str | None = None
        outcome = "cancelled"
        try:
            if previous is not None:
                await asyncio.wait([previous])  # requests on one connection keep their order
            await self.write_event(
                AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event()
            )
            failure = await self._speak_all(utterance)
            await utterance.closed.wait()  # after a failure a stream still runs to its stop
            await self.write_event(AudioStop().event())
            if utterance.mode == "stream":
                await self.write_event(SynthesizeStopped().event())
            outcome = "error" if failure else "ok"
        except (ConnectionError, OSError) as err:
            failure = f"client went away: {err}"
        finally:
            self._record(stats, outcome, failure)

    def _record(self, stats: RequestStats, outcome: str, failure: str | None) -> None:
        """Write the request's one stats record (a task cancelled before it ran included)."""
        if stats.recorded:
            return
        stats.recorded = True
        stats.finish(outcome, failure)
        if self._speaker.speaker is not None:
            self._speaker.speaker.request_finished(stats)
        self._stats_writer.write(stats)
        _LOGGER.debug("Request %s: %s", stats.request_id, stats.to_json())

    async def _speak_all(self, utterance: Utterance) -> str | None:
        """Send the audio as it is made; on failure send an error event and return its text."""
        try:
            speaker = await self._speaker.get()  # waits while the model is still loading
            async for audio in speaker.speak(
                utterance.sentences, utterance.voice, utterance.speed, utterance.stats
            ):
                pcm = float_to_pcm16(audio)
                if not pcm:
                    continue
                utterance.stats.audio_sent(pcm_seconds(len(pcm)))
                for piece in pcm_chunks(pcm, self._samples_per_chunk):
                    await self.write_event(
                        AudioChunk(
                            rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS, audio=piece
                        ).event()
                    )
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as err:  # G2P or inference failed: tell the client, keep serving
            _LOGGER.exception("Synthesis failed (voice %s)", utterance.voice.name)
            text = f"synthesis failed: {err}"
            await self.write_event(Error(text=text, code="synthesis-failed").event())
            return text
        return None

    async def disconnect(self) -> None:
        """The client is gone: cancel whatever it still had queued or in progress."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
