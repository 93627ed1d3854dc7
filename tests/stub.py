"""The fast in-process layer: the real server, handler and pipeline around a stub model.

The stub model answers after a configurable delay with audio whose length follows from
its phonemes (``SAMPLES_PER_PHONEME`` each, divided by the speed), counts the audio
arrays still alive, and can be held (``gate``) or made to fail. The stub phonemizer
reads letters as phonemes. The server listens on a loopback port; clients use the
``wyoming`` library's event reader and writer, as Home Assistant does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from wyoming_kokoro.config import WireSettings
from wyoming_kokoro.engine.router import Router, SegmentResult
from wyoming_kokoro.engine.scheduler import FIRST_SEGMENT_POLICY
from wyoming_kokoro.engine.synthesizer import load_vocab
from wyoming_kokoro.engine.voices import STYLE_DIM, STYLE_ROWS, VoiceCatalogue
from wyoming_kokoro.handler import KokoroConnection
from wyoming_kokoro.info import build_info
from wyoming_kokoro.liveness import Liveness
from wyoming_kokoro.server import KokoroServer
from wyoming_kokoro.shaping import AudioSettings
from wyoming_kokoro.speech import Speaker, SpeakerHandle
from wyoming_kokoro.stats import RequestStats, StatsWriter
from wyoming_kokoro.text.g2p import LanguageNotInstalledError

PARAGRAPH = (
    "Good evening. The living room lights are on, and the front door is locked. "
    "Tomorrow looks sunny with a light breeze from the west."
)
# How Home Assistant streams PARAGRAPH: pieces cut anywhere, even mid-word.
HA_PIECES = [
    "Good eve",
    "ning. The living ro",
    "om lights are on, and the fr",
    "ont door is ",
    "locked. Tomorrow looks sunny with a li",
    "ght breeze from the west.",
]
SAMPLES_PER_PHONEME = 240  # 10 ms of audio per phoneme symbol
UNTOUCHED = AudioSettings.untouched()
VOICES = ("af_heart", "am_adam", "bf_emma", "ef_dora", "jf_alpha", "ff_siwis", "im_nicola")


class StubModel:
    """Stands in for KokoroModel: no onnxruntime, audio length derived from phonemes."""

    model_digest = "stub"
    provider = "StubProvider"

    def __init__(self, delay: float = 0.0, samples_per_phoneme: int = SAMPLES_PER_PHONEME) -> None:
        self.delay = delay
        self.samples_per_phoneme = samples_per_phoneme
        self.gate = threading.Event()  # cleared: inference waits (a "long" inference)
        self.gate.set()
        self.fail_on: str | None = None  # phonemes containing this raise
        self.calls = 0
        self.live = 0  # audio arrays made and not yet freed
        self.peak_live = 0
        self.running = threading.Event()  # set while an inference runs
        self._lock = threading.Lock()
        self._vocab = load_vocab()
        self.router = Router([], self._no_cpu)

    @staticmethod
    def _no_cpu() -> Any:
        raise RuntimeError("the stub has no sessions")

    def filter_phonemes(self, phonemes: str) -> str:
        return "".join(symbol for symbol in phonemes if symbol in self._vocab)

    def warm_up(self, phonemes: str, style: np.ndarray) -> None:
        pass

    def infer(
        self, phonemes: str, style: np.ndarray, speed: float, release_memory: bool = False
    ) -> SegmentResult:
        assert len(phonemes) <= 510 and style.shape == (1, STYLE_DIM)
        self.running.set()
        try:
            self.gate.wait(30)
            time.sleep(self.delay)
            self.calls += 1
            if self.fail_on is not None and self.fail_on in phonemes:
                raise RuntimeError("stub inference failed")
            audio = np.full(int(len(phonemes) * self.samples_per_phoneme / speed), 0.25, np.float32)
        finally:
            self.running.clear()
        with self._lock:
            self.live += 1
            self.peak_live = max(self.peak_live, self.live)
        weakref.finalize(audio, self._freed)
        return SegmentResult(audio, self.provider, self.delay)

    def _freed(self) -> None:
        with self._lock:
            self.live -= 1


class PartsStubModel(StubModel):
    """The stub with ``infer_parts``, as a split model (engine/split.py) has it: the first
    quarter of a segment's audio goes to ``on_part``, the second once ``rest_gate`` is
    open, then the rest comes with the result. ``completed`` counts runs that got there.

    Its audio rises across each segment (a ramp), so order and losses show in the bytes.
    ``fail_after_head`` fails the run once the head is out.
    """

    MIN_PHONEMES = 8  # shorter segments are made whole

    def __init__(self, delay: float = 0.0, samples_per_phoneme: int = SAMPLES_PER_PHONEME) -> None:
        super().__init__(delay, samples_per_phoneme)
        self.rest_gate = threading.Event()
        self.rest_gate.set()
        self.head_sent = threading.Event()
        self.fail_after_head = False
        self.deadlines: list[float | None] = []  # heard_until() at each run
        self.part_bounds: list[float | None] = []  # max_part_s at each run
        self.completed = 0
        self.finished: list[str] = []  # the phonemes of each run, as it finished

    def infer_parts(
        self,
        phonemes: str,
        style: np.ndarray,
        speed: float,
        on_part: Callable[[np.ndarray], None],
        heard_until: Callable[[], float | None] = lambda: None,
        release_memory: bool = False,
        max_part_s: float | None = None,
        between: Callable[[float], None] | None = None,
    ) -> SegmentResult:
        result = self.infer(phonemes, style, speed, release_memory)
        result.audio *= np.linspace(1.0, 2.0, len(result.audio), dtype=np.float32)
        self.deadlines.append(heard_until())
        self.part_bounds.append(max_part_s)
        if len(phonemes) >= self.MIN_PHONEMES:
            quarter = len(result.audio) // 4
            on_part(result.audio[:quarter])
            self.head_sent.set()
            self.rest_gate.wait(30)
            if between is not None:  # the engine is offered back, as a split model does
                between(0.1)
            on_part(result.audio[quarter : 2 * quarter])  # raises once nobody waits
            if self.fail_after_head:
                raise RuntimeError("stub vocoder failed after the head")
        self.completed += 1
        self.finished.append(phonemes)
        return result


class StubPhonemizer:
    """Letters as phonemes; the languages in ``missing`` are 'not installed'."""

    def __init__(self) -> None:
        self.missing = {"j"}

    def phonemize(self, text: str, code: str) -> str:
        if code in self.missing:
            raise LanguageNotInstalledError(f"language {code!r} is not installed (stub)")
        return text.lower()


class RecordingWriter(StatsWriter):
    """The stats writer, keeping records in memory."""

    def __init__(self) -> None:
        super().__init__(None)
        self.records: list[RequestStats] = []

    def write(self, record: RequestStats) -> None:
        self.records.append(record)


def stub_catalogue() -> VoiceCatalogue:
    rng = np.random.default_rng(0)
    return VoiceCatalogue(
        {name: rng.random((STYLE_ROWS, STYLE_DIM), dtype=np.float32) for name in VOICES}
    )


@dataclass
class StubServer:
    server: KokoroServer
    handle: SpeakerHandle
    model: StubModel
    phonemizer: StubPhonemizer
    stats: RecordingWriter
    port: int
    speaker: Speaker | None = None
    clients: list[asyncio.StreamWriter] = field(default_factory=list)

    async def connect(self) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.clients.append(writer)
        return Client(reader, writer)

    def records(self, **match: object) -> list[RequestStats]:
        return [r for r in self.stats.records if all(getattr(r, k) == v for k, v in match.items())]

    async def record(self, **match: object) -> RequestStats:
        """The one record matching ``match`` (written just after the answer)."""
        for _ in range(200):
            found = self.records(**match)
            if found:
                assert len(found) == 1, found
                return found[0]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no record with {match}: {self.stats.records}")


@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, *events: Event) -> None:
        for event in events:
            await async_write_event(event, self.writer)

    async def read(self, timeout: float = 5.0) -> Event | None:
        return await asyncio.wait_for(async_read_event(self.reader), timeout)

    async def read_until(self, last: str, timeout: float = 5.0) -> list[Event]:
        """Events until one of type ``last``; fails if the answer does not end in time."""
        events: list[Event] = []
        while True:
            event = await self.read(timeout)
            assert event is not None, f"connection closed after {[e.type for e in events]}"
            events.append(event)
            if event.type == last:
                return events

    def close(self) -> None:
        self.writer.close()


def home_assistant_stream(voice: SynthesizeVoice | None) -> list[Event]:
    """Home Assistant's streamed request: start, chunks, the compatibility synthesize
    (for servers that cannot stream), stop."""
    return [
        SynthesizeStart(voice=voice).event(),
        *(SynthesizeChunk(text=piece).event() for piece in HA_PIECES),
        Synthesize(text=PARAGRAPH, voice=voice).event(),
        SynthesizeStop().event(),
    ]


def audio_bytes(events: list[Event]) -> int:
    return sum(len(e.payload or b"") for e in events if e.type == "audio-chunk")


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


@asynccontextmanager
async def stub_server(
    delay: float = 0.0,
    wire: WireSettings | None = None,
    loaded: bool = True,
    samples_per_phoneme: int = SAMPLES_PER_PHONEME,
    audio: AudioSettings = UNTOUCHED,
    parts: bool = False,
    liveness: Liveness | None = None,
    first_clause: bool = True,
    scheduler: str = FIRST_SEGMENT_POLICY,
) -> AsyncIterator[StubServer]:
    """A server on a free loopback port; ``loaded=False`` leaves the model 'loading'.

    The audio leaves as the stub made it (no pauses, loudness or tail: ``UNTOUCHED``)
    unless ``audio`` says otherwise, so that byte counts follow from the phonemes.
    ``parts=True``: the model makes segments in two parts (:class:`PartsStubModel`).

    On the way out it checks that no connection died of an unexpected exception."""
    catalogue = stub_catalogue()
    handle = SpeakerHandle(catalogue, "af_heart", liveness)
    model = (PartsStubModel if parts else StubModel)(delay, samples_per_phoneme)
    phonemizer = StubPhonemizer()
    speaker = Speaker(
        model,
        catalogue,
        phonemizer,
        "af_heart",
        audio=audio,
        first_clause=first_clause,
        scheduler=scheduler,
    )
    if loaded:
        handle.set(speaker)
    stats = RecordingWriter()
    wire = replace(wire or WireSettings(), uri="tcp://127.0.0.1:0")
    factory = partial(
        KokoroConnection,
        speaker=handle,
        info_event=build_info(catalogue).event(),
        stats_writer=stats,
        settings=wire,
    )
    server = KokoroServer(wire, factory)
    await server.start()
    running = StubServer(server, handle, model, phonemizer, stats, server.port, speaker)
    crashes = _CrashLog()
    logging.getLogger("wyoming_kokoro").addHandler(crashes)
    try:
        yield running
    finally:
        model.gate.set()
        for writer in running.clients:
            writer.close()
        await server.shutdown(0.5)
        speaker.close()
        logging.getLogger("wyoming_kokoro").removeHandler(crashes)
    assert crashes.records == [], [r.getMessage() for r in crashes.records]


class _CrashLog(logging.Handler):
    """Collects what the server logs when a connection's task dies of a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(("A connection failed", "Answering requests failed")):
            self.records.append(record)
