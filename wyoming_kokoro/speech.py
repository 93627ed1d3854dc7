"""From text to audio: voice choice, segment plan, G2P ahead of inference, phrase cache.

Sits between the Wyoming handler and the text path / engine, so that neither of those
knows about the other and the handler knows nothing about onnxruntime.

The pipeline of one request: sentences arrive (all at once, or as a stream completes
them) → the planner makes a short first clause and then larger groups → G2P runs on its
own thread, ahead of inference → each ≤510-token chunk is answered from the phrase cache
or queued for inference (first segments before later ones) → audio is yielded as soon as
each chunk exists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .audio import SAMPLE_RATE
from .engine.cache import PhraseCache, PhraseKey
from .engine.router import SegmentResult
from .engine.scheduler import FIRST_SEGMENT, LATER_SEGMENT, InferenceScheduler
from .engine.synthesizer import KokoroModel
from .engine.voices import VoiceCatalogue, language_code
from .stats import RequestStats
from .text.g2p import Phonemizer
from .text.normalize import TextNormalizer, strip_markup
from .text.segment import SegmentPlanner, chunk_phonemes, split_sentences
from .text.ssml import MAX_RATE, MIN_RATE, Pause, SsmlError, render_ssml

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# Kokoro language letter -> language whose conjunctions may cut the first clause.
_CLAUSE_LANGUAGES = {"a": "en", "b": "en", "e": "es", "f": "fr", "i": "it", "p": "pt"}


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

    def __init__(self, catalogue: VoiceCatalogue, default_voice: str) -> None:
        self.catalogue = catalogue
        self.default_voice = default_voice
        self._speaker: Speaker | None = None
        self._error: BaseException | None = None
        self._ready = asyncio.Event()

    def choose_voice(self, name: str | None, language: str | None) -> VoiceChoice:
        return choose_voice(self.catalogue, self.default_voice, name, language)

    def set(self, speaker: Speaker) -> None:
        self._speaker = speaker
        self._ready.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ready.set()

    @property
    def speaker(self) -> Speaker | None:
        return self._speaker

    async def get(self) -> Speaker:
        await self._ready.wait()
        if self._speaker is None:
            raise RuntimeError(f"the model failed to load: {self._error}")
        return self._speaker


@dataclass(frozen=True)
class SsmlDocument:
    """A whole SSML document, queued in place of plain sentences."""

    text: str


@dataclass(frozen=True)
class _Segment:
    """Phonemes for one inference (``rate`` from SSML prosody), or a silence."""

    phonemes: str
    rate: float = 1.0
    silence: float = 0.0


class _End:
    """Marks the end of the prepared segments (optionally carrying the G2P failure)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


# (cache key, audio or its future); no key for silence, which is never cached
_Result = tuple[PhraseKey | None, "np.ndarray | asyncio.Future[SegmentResult]"]


class Speaker:
    """Shared by all connections: one model, one catalogue, one G2P thread, one scheduler."""

    def __init__(
        self,
        model: KokoroModel,
        catalogue: VoiceCatalogue,
        phonemizer: Phonemizer,
        default_voice: str,
        cache_bytes: int = 32 * 1024 * 1024,
        first_clause: bool = True,
    ) -> None:
        if default_voice not in catalogue:
            raise ValueError(f"default voice {default_voice!r} is not in the voices file")
        self.model = model
        self.catalogue = catalogue
        self.phonemizer = phonemizer
        self.default_voice = default_voice
        self.cache = PhraseCache(cache_bytes)
        self.first_clause = first_clause
        self.normalizer = TextNormalizer()
        self._g2p_executor = ThreadPoolExecutor(1, thread_name_prefix="g2p")
        self.scheduler = InferenceScheduler()

    @property
    def provider(self) -> str:
        return self.model.provider

    def choose_voice(self, name: str | None, language: str | None) -> VoiceChoice:
        return choose_voice(self.catalogue, self.default_voice, name, language)

    async def _prepare(
        self,
        sentences: asyncio.Queue[str | SsmlDocument | None],
        voice: VoiceChoice,
        stats: RequestStats,
        out: asyncio.Queue[_Segment | _End],
    ) -> None:
        """Normalize, plan segments and run G2P on them, ahead of inference."""
        planner = SegmentPlanner(
            _CLAUSE_LANGUAGES.get(voice.lang_code, ""), split_first=self.first_clause
        )
        try:
            finished = False
            while not finished:
                batch: list[str] = []
                item = await sentences.get()
                while True:
                    if item is None:
                        finished = True
                        break
                    if isinstance(item, SsmlDocument):
                        await self._prepare_text(planner, batch, voice, stats, out)
                        batch = []
                        await self._prepare_ssml(planner, item.text, voice, stats, out)
                    else:
                        batch.append(item)
                    if sentences.empty():
                        break
                    item = sentences.get_nowait()
                await self._prepare_text(planner, batch, voice, stats, out)
        except Exception as err:
            await out.put(_End(err))
        else:
            await out.put(_End())

    async def _g2p(self, function: Callable[..., _T], *args: object) -> _T:
        """Run text work (normalization, SSML parsing, G2P) on the G2P thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._g2p_executor, function, *args)

    async def _prepare_text(
        self,
        planner: SegmentPlanner,
        batch: list[str],
        voice: VoiceChoice,
        stats: RequestStats,
        out: asyncio.Queue[_Segment | _End],
    ) -> None:
        if not batch:
            return
        started = time.perf_counter()
        normalized = await self._g2p(self._normalize_all, batch, voice.lang_code)
        stats.g2p_ms += (time.perf_counter() - started) * 1000
        for text in planner.plan([s for s in normalized.split("\n") if s]):
            started = time.perf_counter()
            phonemes = await self._g2p(self.phonemizer.phonemize, text, voice.lang_code)
            stats.g2p_ms += (time.perf_counter() - started) * 1000
            await self._put_phonemes(text, phonemes, 1.0, stats, out)

    def _normalize_all(self, batch: list[str], lang_code: str) -> str:
        """Runs on the G2P thread: one normalized sentence per line."""
        return "\n".join(self.normalizer(sentence, lang_code) for sentence in batch)

    async def _put_phonemes(
        self,
        text: str,
        phonemes: str,
        rate: float,
        stats: RequestStats,
        out: asyncio.Queue[_Segment | _End],
    ) -> None:
        phonemes = self.model.filter_phonemes(phonemes)
        stats.phonemes += len(phonemes)
        _LOGGER.debug("%r -> %s", text, phonemes)
        for chunk in chunk_phonemes(phonemes):
            await out.put(_Segment(chunk, rate))

    async def _prepare_ssml(
        self,
        planner: SegmentPlanner,
        document: str,
        voice: VoiceChoice,
        stats: RequestStats,
        out: asyncio.Queue[_Segment | _End],
    ) -> None:
        """An SSML document: sentences at their rates, pauses as silence."""
        started = time.perf_counter()
        try:
            items = await self._g2p(
                render_ssml,
                document,
                voice.lang_code,
                self.normalizer,
                self.normalizer.say_as,
                self.phonemizer.phonemize,
            )
        except Exception as err:  # SsmlError, or a say-as the rules could not read
            if not isinstance(err, SsmlError):
                _LOGGER.exception("SSML rendering failed")
            _LOGGER.warning("SSML not understood (%s); reading it as plain text", err)
            stats.text_format = "ssml-as-text"
            await self._prepare_text(
                planner, split_sentences(strip_markup(document)), voice, stats, out
            )
            return
        stats.g2p_ms += (time.perf_counter() - started) * 1000
        for item in items:
            if isinstance(item, Pause):
                await out.put(_Segment("", silence=item.seconds))
            else:
                await self._put_phonemes(item.text, item.phonemes, item.rate, stats, out)

    def _submit(
        self, chunk: str, voice: VoiceChoice, speed: float, first: bool
    ) -> asyncio.Future[SegmentResult]:
        style = self.catalogue.style(voice.name, len(chunk))

        def run() -> SegmentResult:
            # Runs on the inference thread: when nothing else waits, the engine goes idle
            # after this run and can hand its arena memory back.
            return self.model.infer(chunk, style, speed, self.scheduler.pending() == 0)

        return self.scheduler.submit(FIRST_SEGMENT if first else LATER_SEGMENT, run)

    async def _submit_all(
        self,
        segments: asyncio.Queue[_Segment | _End],
        voice: VoiceChoice,
        speed: float,
        results: asyncio.Queue[_Result | _End],
    ) -> None:
        """Queue each prepared chunk for inference as soon as it exists (bounded look-ahead)."""
        first = True
        try:
            while not isinstance(segment := await segments.get(), _End):
                if not segment.phonemes:  # an SSML break
                    silence = np.zeros(round(segment.silence * SAMPLE_RATE), dtype=np.float32)
                    await results.put((None, silence))
                    continue
                chunk, chunk_speed = segment.phonemes, speed
                if segment.rate != 1.0:  # SSML prosody, held within the range Kokoro speaks well
                    chunk_speed = min(max(speed * segment.rate, MIN_RATE), MAX_RATE)
                key = PhraseKey(chunk, voice.name, chunk_speed, self.model.model_digest)
                cached = self.cache.get(key)
                job = (
                    cached if cached is not None else self._submit(chunk, voice, chunk_speed, first)
                )
                first = False
                try:
                    await results.put((key, job))  # waits while the look-ahead is full
                except asyncio.CancelledError:
                    if isinstance(job, asyncio.Future):
                        job.cancel()  # never handed over: nobody else would cancel it
                    raise
        except Exception as err:  # the request ends with this error instead of hanging
            await results.put(_End(err))
        else:
            await results.put(segment)

    async def speak(
        self,
        sentences: asyncio.Queue[str | SsmlDocument | None],
        voice: VoiceChoice,
        speed: float,
        stats: RequestStats,
    ) -> AsyncIterator[np.ndarray]:
        """Yield audio for the sentences put on ``sentences`` until a ``None`` arrives.

        Three stages run at once: G2P (its own thread), submission to the scheduler (the
        next segment waits there while the current one runs, so the engine never idles
        between segments) and delivery, in order.
        """
        segments: asyncio.Queue[_Segment | _End] = asyncio.Queue()
        results: asyncio.Queue[_Result | _End] = asyncio.Queue(maxsize=1)
        producer = asyncio.create_task(self._prepare(sentences, voice, stats, segments))
        submitter = asyncio.create_task(self._submit_all(segments, voice, speed, results))
        outstanding: list[asyncio.Future[SegmentResult]] = []
        try:
            while not isinstance(item := await results.get(), _End):
                key, job = item
                if isinstance(job, np.ndarray):
                    if key is not None:
                        stats.cache_hit()
                    yield job
                    continue
                outstanding.append(job)
                result = await job
                stats.segment_done(
                    result.provider, result.inference_s, result.fallback, result.failed_provider
                )
                if key is not None:
                    self.cache.put(key, result.audio)
                yield result.audio
            if item.error is not None:
                raise item.error
        finally:
            producer.cancel()
            submitter.cancel()
            for job in outstanding:
                job.cancel()  # a client that went away frees the engine for the others
            while not results.empty():
                leftover = results.get_nowait()
                if not isinstance(leftover, _End) and isinstance(leftover[1], asyncio.Future):
                    leftover[1].cancel()

    async def speak_text(
        self, text: str, voice: VoiceChoice, speed: float, stats: RequestStats
    ) -> AsyncIterator[np.ndarray]:
        """``speak`` for one whole text."""
        sentences: asyncio.Queue[str | SsmlDocument | None] = asyncio.Queue()
        for sentence in split_sentences(text):
            sentences.put_nowait(sentence)
        sentences.put_nowait(None)
        async for audio in self.speak(sentences, voice, speed, stats):
            yield audio

    def warm_up(self) -> None:
        """One small synthesis on every provider so the first request pays no start-up cost.

        Builds the default voice's G2P (and American English, the most common) first.
        """
        voice = self.choose_voice(self.default_voice, None)
        for code in sorted({"a", voice.lang_code}):
            try:
                self.phonemizer.phonemize("Ready.", code)
            except Exception as err:  # e.g. a default voice whose language is not installed
                _LOGGER.warning("Warm-up of language %r failed: %s", code, err)
        phonemes = self.model.filter_phonemes(self.phonemizer.phonemize("Ready.", "a"))
        style = self.catalogue.style(voice.name, len(phonemes))
        feeds = self.model.feeds(phonemes, style, 1.0)
        for session in self.model.sessions:
            try:
                self.model.run_on(session.session, feeds)
            except Exception as err:
                if session.spec.key == "cpu":
                    raise
                _LOGGER.warning(
                    "Provider %s failed its warm-up run (%s); resting it", session.label, err
                )
                session.unhealthy_until = time.monotonic() + self.model.router.cooldown

    def request_finished(self, stats: RequestStats) -> None:
        """Count the request for every provider that worked on it."""
        self.model.router.count_request(list(stats.providers))

    def utilization(self) -> str:
        cache = f"phrase cache: {self.cache.hits} hits, {self.cache.misses} misses"
        return f"{self.model.router.summary()}; {cache}"

    def close(self) -> None:
        self._g2p_executor.shutdown(wait=False, cancel_futures=True)
        self.scheduler.close()
