"""What every request shares: voice choice, and the Speaker that bundles the text worker
(text/worker.py), the renderer (engine/render.py) and the shaping (shaping.py).

Sits between the front doors (Wyoming, HTTP) and the text path / engine, so that neither
of those knows about the other and the front doors know nothing about onnxruntime. One
request's pipeline is in request.py.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .config import SpeechSettings
from .engine.cache import PhraseCache
from .engine.render import Renderer
from .engine.router import Router, SegmentResult
from .engine.scheduler import FIRST_SEGMENT_POLICY, InferenceScheduler
from .engine.voices import VoiceCatalogue, language_code
from .liveness import Liveness
from .shaping import AudioSettings, Shaping
from .stats import RequestStats
from .text.lexicon import LexiconFiles
from .text.worker import Phonemize, TextWorker

_LOGGER = logging.getLogger(__name__)


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


def plans_whole(model: SpeechModel, audio: AudioSettings) -> bool:
    """Whether each inference takes as much of a reply as fits (and the model pauses).

    With Kokoro's own pauses (``sentence_silence`` and ``clause_silence`` auto) and a
    model that vocodes a segment in parts (its first audio comes from the first part, see
    engine/split.py). A pause set by the user needs the sentences apart, to put it between
    them; a model without parts would make the first audio wait for the whole reply. A
    stream's first clause is still cut off when ``first_clause`` is on (it is spoken while
    the rest of its text arrives); a one-shot's text is all there, and is not cut.
    """
    parts = callable(getattr(model, "infer_parts", None)) and getattr(model, "split", True)
    return parts and audio.sentence_silence is None and audio.clause_silence is None


class Speaker:
    """Shared by all connections: a plain bundle of the text worker, the renderer and the
    shaping, over one model and one voice catalogue."""

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
        scheduler: str = FIRST_SEGMENT_POLICY,
    ) -> None:
        if default_voice not in catalogue:
            raise ValueError(f"default voice {default_voice!r} is not in the voices file")
        self.model = model
        self.catalogue = catalogue
        self.default_voice = default_voice
        audio = audio or AudioSettings()
        self.text = TextWorker(
            phonemizer,
            model.filter_phonemes,
            lexicon,
            split_first=first_clause,
            whole=plans_whole(model, audio),
        )
        self.renderer = Renderer(
            model, catalogue, PhraseCache(cache_bytes), InferenceScheduler(policy=scheduler)
        )
        self.shaping = Shaping(audio)

    @classmethod
    def from_settings(
        cls,
        model: SpeechModel,
        catalogue: VoiceCatalogue,
        phonemizer: Phonemize,
        speech: SpeechSettings,
        audio: AudioSettings,
        scheduler: str = FIRST_SEGMENT_POLICY,
    ) -> Speaker:
        """The Speaker of the speech section (and the shaping's, and the scheduler's
        policy from the engine's)."""
        return cls(
            model,
            catalogue,
            phonemizer,
            speech.voice,
            cache_bytes=speech.phrase_cache_mb * 1024 * 1024,
            first_clause=speech.first_clause,
            lexicon=LexiconFiles(speech.lexicon_paths, builtin=speech.default_lexicon),
            audio=audio,
            scheduler=scheduler,
        )

    @property
    def provider(self) -> str:
        return self.model.provider

    def warm_up(self) -> None:
        """Build the default voice's G2P (and American English, the most common) and run
        the model once on every provider, so the first request pays no start-up cost."""
        voice = choose_voice(self.catalogue, self.default_voice, self.default_voice, None)
        phonemizer = self.text.phonemizer
        for code in sorted({"a", voice.lang_code}):
            try:
                phonemizer.phonemize("Ready.", code)
            except Exception as err:  # e.g. a default voice whose language is not installed
                _LOGGER.warning("Warm-up of language %r failed: %s", code, err)
        phonemes = self.model.filter_phonemes(phonemizer.phonemize("Ready.", "a"))
        self.model.warm_up(phonemes, self.catalogue.style(voice.name, len(phonemes)))

    def request_finished(self, stats: RequestStats) -> None:
        """Count the request for every provider that worked on it."""
        self.model.router.count_request(list(stats.providers))

    def utilization(self) -> str:
        phrases = self.renderer.cache
        cache = f"phrase cache: {phrases.hits} hits, {phrases.misses} misses"
        return f"{self.model.router.summary()}; {cache}"

    def close(self) -> None:
        self.text.close()
        self.shaping.close()
        self.renderer.scheduler.close()
