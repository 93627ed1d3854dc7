"""From a sentence to audio: voice choice, G2P and inference off the event loop.

Sits between the Wyoming handler and the text path / engine, so that neither of those
knows about the other and the handler knows nothing about onnxruntime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .engine.synthesizer import KokoroModel
from .engine.voices import VoiceCatalogue, language_code
from .stats import RequestStats
from .text.g2p import Phonemizer
from .text.segment import chunk_phonemes

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceChoice:
    name: str
    lang_code: str
    locale: str


class Speaker:
    """Shared by all connections: one model, one catalogue, one G2P, two worker threads.

    G2P runs on one thread and inference on another, so the event loop never blocks and
    one request's G2P can overlap another's inference.
    """

    def __init__(
        self,
        model: KokoroModel,
        catalogue: VoiceCatalogue,
        phonemizer: Phonemizer,
        default_voice: str,
    ) -> None:
        if default_voice not in catalogue:
            raise ValueError(f"default voice {default_voice!r} is not in the voices file")
        self.model = model
        self.catalogue = catalogue
        self.phonemizer = phonemizer
        self.default_voice = default_voice
        self._g2p_executor = ThreadPoolExecutor(1, thread_name_prefix="g2p")
        self._infer_executor = ThreadPoolExecutor(1, thread_name_prefix="inference")

    @property
    def provider(self) -> str:
        return self.model.provider

    def choose_voice(self, name: str | None, language: str | None) -> VoiceChoice:
        """By name; else the language's default voice; else the server's default voice.

        Unknown names (other servers' voices such as ``en_US-amy-medium``) never fail.
        """
        chosen: str | None = None
        if name and name in self.catalogue:
            chosen = name
        if chosen is None and language:
            code = language_code(language)
            if code is not None:
                chosen = self.catalogue.default_for_language(code, self.default_voice)
        if chosen is None and (name or language):
            _LOGGER.info(
                "No voice matches name %r / language %r; using %s",
                name,
                language,
                self.default_voice,
            )
        elif name and chosen != name:
            _LOGGER.info("Unknown voice %r; using %s for language %r", name, chosen, language)
        info = self.catalogue.info(chosen or self.default_voice)
        return VoiceChoice(info.name, info.lang_code, info.locale)

    async def speak(
        self, sentence: str, voice: VoiceChoice, speed: float, stats: RequestStats
    ) -> AsyncIterator[np.ndarray]:
        """Yield the audio of one sentence, one piece per ≤510-token phoneme chunk."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        phonemes = await loop.run_in_executor(
            self._g2p_executor, self.phonemizer.phonemize, sentence, voice.lang_code
        )
        stats.g2p_ms += (time.perf_counter() - started) * 1000
        phonemes = self.model.filter_phonemes(phonemes)
        stats.phonemes += len(phonemes)
        _LOGGER.debug("%r -> %s", sentence, phonemes)
        for chunk in chunk_phonemes(phonemes):
            style = self.catalogue.style(voice.name, len(chunk))
            result = await loop.run_in_executor(
                self._infer_executor, self.model.infer, chunk, style, speed
            )
            stats.segment_done(
                result.provider, result.inference_s, result.fallback, result.failed_provider
            )
            yield result.audio

    def warm_up(self) -> None:
        """One small synthesis so the first real request pays no start-up cost.

        Builds both English G2Ps (Home Assistant's most common languages) and the default
        voice's, then runs the model once.
        """
        voice = self.choose_voice(self.default_voice, None)
        for code in sorted({"a", "b", voice.lang_code}):
            try:
                self.phonemizer.phonemize("Ready.", code)
            except Exception as err:  # e.g. a default voice whose language is not installed
                _LOGGER.warning("Warm-up of language %r failed: %s", code, err)
        phonemes = self.model.filter_phonemes(self.phonemizer.phonemize("Ready.", "a"))
        style = self.catalogue.style(voice.name, len(phonemes))
        feeds = self.model.feeds(phonemes, style, 1.0)
        for session in self.model.sessions:  # every provider pays its first-run cost now
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
        return self.model.router.summary()

    def close(self) -> None:
        self._g2p_executor.shutdown(wait=False, cancel_futures=True)
        self._infer_executor.shutdown(wait=False, cancel_futures=True)
