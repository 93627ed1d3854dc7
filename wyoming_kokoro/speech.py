"""The shared speech engine room: voice choice, the text thread, inference jobs, cache.

Sits between the Wyoming handler and the text path / engine, so that neither of those
knows about the other and the handler knows nothing about onnxruntime. One request's
pipeline is in request.py; what it shares with every other request is here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from .audio import SAMPLE_RATE
from .engine.cache import PhraseCache, PhraseKey
from .engine.router import Router, SegmentResult
from .engine.scheduler import DEADLINE, InferenceScheduler
from .engine.split import FRAME_S, KEEP_LEAD
from .engine.voices import VoiceCatalogue, language_code
from .liveness import Liveness
from .loudness import LoudnessMeter
from .postprocess import AudioSettings, RequestAudio, VoiceLevels
from .stats import RequestStats
from .text.lexicon import LexiconFiles
from .text.normalize import TextNormalizer
from .text.prepare import Segment, TextPreparer
from .text.ssml import MAX_RATE, MIN_RATE

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


class SpeechModel(Protocol):
    """What the speaker needs of the model (``engine.synthesizer.KokoroModel``, or a stub)."""

    model_digest: str
    router: Router

    @property
    def provider(self) -> str: ...

    def filter_phonemes(self, phonemes: str) -> str: ...

    def infer(
        self, phonemes: str, style: np.ndarray, speed: float, release_memory: bool = False
    ) -> SegmentResult: ...

    def warm_up(self, phonemes: str, style: np.ndarray) -> None: ...


class Phonemize(Protocol):
    def phonemize(self, text: str, code: str) -> str: ...


@dataclass(frozen=True)
class VoiceChoice:
    name: str
    lang_code: str
    locale: str
    speed: float | None = None  # a custom voice's own rate


def choose_voice(
    catalogue: VoiceCatalogue, default_voice: str, name: str | None, language: str | None
) -> VoiceChoice:
    """By name; else the language's default voice; else the server's default voice.

    Unknown names (other servers' voices such as ``en_US-amy-medium``) never fail.
    """
    chosen: str | None = None
    if name:
        known = catalogue.resolve(name)  # a voice, a custom voice or an ad-hoc blend
        if known is not None:
            return VoiceChoice(known.name, known.lang_code, known.locale, known.speed)
    if chosen is None and language:
        code = language_code(language)
        if code is not None:
            chosen = catalogue.default_for_language(code, default_voice)
    if chosen is None and (name or language):
        _LOGGER.info(
            "No voice matches name %r / language %r; using %s", name, language, default_voice
        )
    elif name and chosen != name:
        _LOGGER.info("Unknown voice %r; using %s for language %r", name, chosen, language)
    info = catalogue.info(chosen or default_voice)
    return VoiceChoice(info.name, info.lang_code, info.locale, info.speed)


class SpeakerHandle:
    """The Speaker as it becomes ready.

    The server answers Describe and chooses voices from the voices file at once, while
    the model loads in the background; synthesis waits here until the Speaker is ready.
    """

    def __init__(
        self, catalogue: VoiceCatalogue, default_voice: str, liveness: Liveness | None = None
    ) -> None:
        self.catalogue = catalogue
        self.default_voice = default_voice
        self.liveness = liveness or Liveness()  # every request's stall bound and keep-alive
        self._speaker: Speaker | None = None
        self._error: BaseException | None = None
        self._ready = asyncio.Event()

    def set(self, speaker: Speaker) -> None:
        self._speaker = speaker
        self._ready.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ready.set()

    @property
    def speaker(self) -> Speaker | None:
        return self._speaker

    @property
    def failed(self) -> bool:
        """The model failed to load (synthesis will never work)."""
        return self._error is not None

    async def get(self) -> Speaker:
        await self._ready.wait()
        if self._speaker is None:
            raise RuntimeError(f"the model failed to load: {self._error}")
        return self._speaker


@dataclass
class Job:
    """A segment on its way to audio: answered from the cache, or a future inference."""

    segment: Segment
    audio: np.ndarray | None = None  # known at once: a silence or a cache hit
    future: asyncio.Future[SegmentResult] | None = None
    key: PhraseKey | None = None  # the phrase cache's key (none for a silence)
    # Parts of the audio made before the whole (see engine/split.py), in order.
    parts: asyncio.Queue[np.ndarray] | None = None

    def cancel(self) -> None:
        if self.future is not None:
            self.future.cancel()  # a job nobody will wait for frees the engine


# Silence trimmed off a segment's audio, at most (a model that vocodes in parts makes
# KEEP_LEAD frames of the leading pad, 0.2 s; the trailing silence is ~0.2-0.3 s; see
# audio.trim_silence): for the playing-out estimate, which stays on the low side.
HEAD_TRIM_S = KEEP_LEAD * FRAME_S
REST_TRIM_S = 0.25
WHOLE_TRIM_S = HEAD_TRIM_S + REST_TRIM_S


class Playout:
    """When one request's audio made so far will have played out (time.monotonic), if the
    client plays it from its arrival; None before any. Updated where audio is made (the
    inference thread, so that the next segment's run sees it at once), read there too.

    An estimate on the low side: the silence trimming will take is taken off, the pauses
    that will be added are not counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: float | None = None

    def made(self, samples: int, trimmed_s: float) -> None:
        seconds = samples / SAMPLE_RATE - trimmed_s
        if seconds <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = now if self._until is None else max(now, self._until)
            self._until = start + seconds

    def until(self) -> float | None:
        with self._lock:
            return self._until


class Abandoned(Exception):
    """Raised between a segment's parts when nobody waits for them any more."""


class Speaker:
    """Shared by all connections: one model, one catalogue, one text thread, one scheduler."""

    def __init__(
        self,
        model: SpeechModel,
        catalogue: VoiceCatalogue,
        phonemizer: Phonemize,
        default_voice: str,
        cache_bytes: int = 32 * 1024 * 1024,
        first_clause: bool = True,
        lexicon: LexiconFiles | None = None,
        audio: AudioSettings | None = None,
        scheduler: str = DEADLINE,
    ) -> None:
        if default_voice not in catalogue:
            raise ValueError(f"default voice {default_voice!r} is not in the voices file")
        self.model = model
        self.catalogue = catalogue
        self.phonemizer = phonemizer
        self.default_voice = default_voice
        self.cache = PhraseCache(cache_bytes)
        self.first_clause = first_clause
        self.normalizer = TextNormalizer(lexicon)
        self._text_executor = ThreadPoolExecutor(1, thread_name_prefix="g2p")
        self.scheduler = InferenceScheduler(policy=scheduler)
        self.audio_settings = audio or AudioSettings()
        self.loudness_meter = LoudnessMeter()
        self.voice_levels = VoiceLevels()
        self._audio_executor = ThreadPoolExecutor(1, thread_name_prefix="audio")

    @property
    def provider(self) -> str:
        return self.model.provider

    def preparer(self, voice: VoiceChoice, ssml: bool) -> TextPreparer:
        """The text stage for one request in ``voice``'s language.

        While the pauses are Kokoro's own (``sentence_silence``/``clause_silence`` auto)
        and the model vocodes a segment in parts (its first audio comes from the first
        part, see engine/split.py), each inference takes as much of the reply as fits,
        and the model pauses. A pause set by the user needs the sentences apart, to put
        it between them; a model without parts (``--no-vocoder-split``) keeps the short
        first clause, so that its first audio does not wait for the whole reply.
        """
        audio = self.audio_settings
        parts = callable(getattr(self.model, "infer_parts", None))
        parts = parts and getattr(self.model, "split", True)
        return TextPreparer(
            voice.lang_code,
            self.normalizer,
            self.phonemizer.phonemize,
            self.model.filter_phonemes,
            ssml=ssml,
            split_first=self.first_clause,
            # Whole-reply planning is what ``--no-first-clause`` asks for: with the first
            # clause cut (the default) a reply goes as sentence-sized segments, because
            # a whole reply vocoded in parts lost a word's tail before a pause (an Italian
            # reply: 0.47 s of pause against 0.23 s in one inference, tests/test_timing_e2e).
            whole=parts
            and not self.first_clause
            and audio.sentence_silence is None
            and audio.clause_silence is None,
        )

    async def run_text(self, function: Callable[..., _T], *args: object) -> _T:
        """Run text work (splitting, normalization, SSML, G2P) on the text thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._text_executor, function, *args)

    def shaper(self, voice: VoiceChoice) -> RequestAudio:
        """The way out for one request's audio: trimming, pauses, loudness, tail."""
        return RequestAudio(
            self.audio_settings, voice.lang_code, voice.name, self.loudness_meter,
            self.voice_levels,
        )  # fmt: skip

    async def run_audio(self, function: Callable[..., _T], *args: object) -> _T:
        """Run audio work (trimming, loudness, limiting) on the audio thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._audio_executor, function, *args)

    def start(
        self,
        segment: Segment,
        voice: VoiceChoice,
        speed: float,
        first: bool,
        playout: Playout | None = None,
    ) -> Job:
        """Begin making a segment's audio: from the cache, or queued for inference."""
        if not segment.phonemes:  # an SSML break
            return Job(segment, np.zeros(round(segment.silence * SAMPLE_RATE), dtype=np.float32))
        if segment.rate != 1.0:  # SSML prosody, held within the range Kokoro speaks well
            speed = min(max(speed * segment.rate, MIN_RATE), MAX_RATE)
        key = PhraseKey(segment.phonemes, voice.name, speed, self.model.model_digest)
        cached = self.cache.get(key)
        if cached is not None:
            return Job(segment, cached, key=key)
        style = self.catalogue.style(voice.name, len(segment.phonemes))
        phonemes = segment.phonemes

        # A model that can vocode a segment in parts (engine/split.py) makes them in turn
        # when the audio made before would play out before the whole was made;
        # ``playout`` tells when that is, and learns of the audio made here.
        infer_parts = getattr(self.model, "infer_parts", None)
        playing = playout or Playout()
        parts: asyncio.Queue[np.ndarray] | None = None
        handed = [0]  # samples handed out as parts
        if infer_parts is not None:
            loop = asyncio.get_running_loop()
            parts = asyncio.Queue()
            queue = parts

            def on_part(audio: np.ndarray) -> None:  # on the inference thread
                if future.cancelled():  # the client went: free the engine now
                    raise Abandoned
                playing.made(len(audio), 0.0 if handed[0] else HEAD_TRIM_S)
                handed[0] += len(audio)
                loop.call_soon_threadsafe(queue.put_nowait, audio)

        def run() -> SegmentResult:
            # Runs on the inference thread: when nothing else waits, the engine goes idle
            # after this run and can hand its arena memory back.
            idle = self.scheduler.pending() == 0
            if infer_parts is None:
                result = self.model.infer(phonemes, style, speed, idle)
            else:
                result = infer_parts(phonemes, style, speed, on_part, playing.until, idle)
            rest = len(result.audio) - handed[0]
            playing.made(rest, REST_TRIM_S if handed[0] else WHOLE_TRIM_S)
            return result

        future = self.scheduler.submit(first, run, phonemes=len(phonemes), due=playing.until)
        return Job(segment, future=future, key=key, parts=parts)

    async def next_part(self, job: Job) -> np.ndarray | None:
        """The next part of the job's audio made before the whole; None when the rest
        comes with the whole (from :meth:`finish`)."""
        if job.parts is None or job.future is None:
            return None
        if job.parts.empty() and not job.future.done():
            getting = asyncio.ensure_future(job.parts.get())
            try:
                waiting: set[asyncio.Future[object]] = {getting, job.future}  # type: ignore[arg-type]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                getting.cancel()
            if getting.done() and not getting.cancelled():
                return getting.result()
        # Parts are queued before the whole is done: what is queued still comes first.
        return None if job.parts.empty() else job.parts.get_nowait()

    async def finish(self, job: Job, stats: RequestStats) -> np.ndarray:
        """The job's audio, accounted in ``stats`` (and kept in the phrase cache)."""
        if job.future is None:
            assert job.audio is not None
            if job.key is not None:
                stats.cache_hit()
            return job.audio
        result = await job.future
        stats.segment_done(
            result.provider, result.inference_s, result.fallback, result.failed_provider
        )
        if job.key is not None:
            self.cache.put(job.key, result.audio)
        return result.audio

    def warm_up(self) -> None:
        """Build the default voice's G2P (and American English, the most common) and run
        the model once on every provider, so the first request pays no start-up cost."""
        voice = choose_voice(self.catalogue, self.default_voice, self.default_voice, None)
        for code in sorted({"a", voice.lang_code}):
            try:
                self.phonemizer.phonemize("Ready.", code)
            except Exception as err:  # e.g. a default voice whose language is not installed
                _LOGGER.warning("Warm-up of language %r failed: %s", code, err)
        phonemes = self.model.filter_phonemes(self.phonemizer.phonemize("Ready.", "a"))
        self.model.warm_up(phonemes, self.catalogue.style(voice.name, len(phonemes)))

    def request_finished(self, stats: RequestStats) -> None:
        """Count the request for every provider that worked on it."""
        self.model.router.count_request(list(stats.providers))

    def utilization(self) -> str:
        cache = f"phrase cache: {self.cache.hits} hits, {self.cache.misses} misses"
        return f"{self.model.router.summary()}; {cache}"

    def close(self) -> None:
        self._text_executor.shutdown(wait=False, cancel_futures=True)
        self._audio_executor.shutdown(wait=False, cancel_futures=True)
        self.scheduler.close()
