"""The Kokoro ONNX model: phoneme tokens + style row + speed → 24 kHz float audio.

One session per usable execution provider, routed per segment (see router.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EngineSettings
from .providers import CPU, ProviderSpec, ProviderSwitches, plan_providers
from .router import ProviderSession, Router, SegmentResult
from .session import OpenedSession, SessionConfig, create_session, ort
from .split import SplitSession, SplitUnavailable, open_split

_LOGGER = logging.getLogger(__name__)

_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}

SessionFactory = Callable[[Path, ProviderSpec, SessionConfig, str], OpenedSession]


def load_vocab() -> dict[str, int]:
    """Kokoro's phoneme alphabet: one token id per symbol."""
    text = resources.files("wyoming_kokoro").joinpath("data/vocab.json").read_text("utf-8")
    vocab = json.loads(text)["vocab"]
    return {str(symbol): int(token) for symbol, token in vocab.items()}


class ModelLoadError(RuntimeError):
    """The model file cannot be loaded; the message names the file and the fix."""


class KokoroModel:
    """The model on every usable provider; ``infer`` is thread-safe."""

    LARGE_RUN_TOKENS = 64  # runs above this grow the CPU arena noticeably

    def __init__(
        self,
        path: Path,
        config: SessionConfig | None = None,
        providers: Sequence[str] = ("auto",),
        switches: dict[str, ProviderSwitches] | None = None,
        *,
        model_digest: str = "",
        short_threshold: int = 150,
        cooldown: float = 60.0,
        available: Sequence[str] | None = None,
        session_factory: SessionFactory = create_session,
        split: bool = False,
    ) -> None:
        self.path = path
        self.split = split  # CPU runs the model as three sessions (see split.py)
        self.vocab = load_vocab()
        self.config = config or SessionConfig()
        self.model_digest = model_digest
        self._factory = session_factory
        self._arena_grown = False
        self._release_options = ort.RunOptions()
        self._release_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        if available is None:
            available = ort.get_available_providers()
        plan = plan_providers(list(providers), switches or {}, available)
        sessions: list[ProviderSession] = []
        for spec in plan:
            try:
                sessions.append(self._open(spec))
            except ModelLoadError:
                raise
            except Exception as err:
                _LOGGER.warning(
                    "Provider %s could not start (%s); it will not be used",
                    spec.key,
                    str(err).splitlines()[0] if str(err) else repr(err),
                )
        if not any(s.spec.key == "cpu" for s in sessions):
            raise ModelLoadError(f"cannot load model {path} on CPU")
        self.router = Router(sessions, lambda: self._open(CPU), short_threshold, cooldown)
        cpu = next(s for s in sessions if s.spec.key == "cpu")
        self._inputs = self._map_inputs(cpu.session)
        self._output = cpu.session.get_outputs()[0].name
        for session in sessions:
            how = "cached optimized model" if session.from_cache else "model"
            _LOGGER.info("Session %s ready in %.2f s (%s)", session.label, session.startup_s, how)

    @classmethod
    def from_settings(
        cls, path: Path, settings: EngineSettings, *, model_digest: str = ""
    ) -> KokoroModel:
        """The server's model: providers, routing and sessions as the settings say."""
        return cls(
            path,
            SessionConfig.from_settings(settings),
            settings.provider,
            settings.provider_switches,
            model_digest=model_digest,
            short_threshold=settings.short_segment_phonemes,
            cooldown=settings.provider_cooldown,
            split=settings.vocoder_split,
        )

    def _open_split(self) -> OpenedSession | None:
        try:
            split = open_split(self.path, self.config, self.model_digest)
        except SplitUnavailable as err:
            _LOGGER.info("Vocoder split off: %s; the first audio waits for whole segments", err)
            return None
        except Exception as err:  # never worse than the whole model
            _LOGGER.warning("Vocoder split failed (%s); using the whole model", err)
            return None
        _LOGGER.info("Vocoder split on: a request's first audio comes from its first words")
        return OpenedSession(split, split.startup_s, split.from_cache)

    def _open(self, spec: ProviderSpec) -> ProviderSession:
        opened = self._open_split() if self.split and spec.key == "cpu" else None
        try:
            if opened is None:
                opened = self._factory(self.path, spec, self.config, self.model_digest)
        except Exception as err:
            if spec.key == "cpu":
                raise ModelLoadError(
                    f"cannot load model {self.path}: {err}. If the file is truncated or corrupt, "
                    "delete it and run `python -m wyoming_kokoro.assets` to fetch it again."
                ) from None
            raise
        actual = (
            opened.session.get_providers()[0]
            if hasattr(opened.session, "get_providers")
            else spec.ort_name
        )
        if actual != spec.ort_name:
            raise RuntimeError(
                f"onnxruntime fell back to {actual} (are the {spec.key} libraries installed?)"
            )
        return ProviderSession(spec, opened.session, opened.startup_s, from_cache=opened.from_cache)

    @property
    def sessions(self) -> list[ProviderSession]:
        return self.router.sessions

    @property
    def provider(self) -> str:
        """The preferred provider (the one short segments go to first)."""
        return self.router.choose(1).label

    def _map_inputs(self, session: Any) -> dict[str, tuple[str, type]]:
        """Which model input takes tokens, style and speed (exports name them differently)."""
        mapping: dict[str, tuple[str, type]] = {}
        for item in session.get_inputs():
            dtype = _NUMPY_TYPES.get(item.type, np.float32)
            name = item.name.lower()
            if name in ("tokens", "input_ids") or "token" in name:
                mapping["tokens"] = (item.name, dtype)
            elif "style" in name or name in ("ref_s", "s"):
                mapping["style"] = (item.name, dtype)
            elif "speed" in name:
                mapping["speed"] = (item.name, dtype)
        missing = {"tokens", "style", "speed"} - set(mapping)
        if missing:
            found = [i.name for i in session.get_inputs()]
            raise ModelLoadError(
                f"model {self.path} has inputs {found}; cannot find {sorted(missing)}"
            )
        return mapping

    def filter_phonemes(self, phonemes: str) -> str:
        """Drop symbols the model has no token for (each kept symbol is one token)."""
        return "".join(symbol for symbol in phonemes if symbol in self.vocab)

    def feeds(self, phonemes: str, style: np.ndarray, speed: float) -> dict[str, np.ndarray]:
        tokens = [self.vocab[symbol] for symbol in phonemes if symbol in self.vocab]
        tokens_name, tokens_type = self._inputs["tokens"]
        style_name, style_type = self._inputs["style"]
        speed_name, speed_type = self._inputs["speed"]
        return {
            tokens_name: np.array([[0, *tokens, 0]], dtype=tokens_type),
            style_name: np.asarray(style, dtype=style_type).reshape(1, -1),
            speed_name: np.array([speed], dtype=speed_type),
        }

    def run_on(
        self, session: Any, feeds: dict[str, np.ndarray], release_memory: bool = False
    ) -> np.ndarray:
        """One run; ``release_memory`` hands the CPU arena's free memory back afterwards."""
        audio = session.run([self._output], feeds, self._run_options(feeds, release_memory))[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def _run_options(self, feeds: dict[str, np.ndarray], release_memory: bool) -> Any:
        """The run's options: arena shrinkage when the engine goes idle after it."""
        # Small runs stay within the arena's first block: only hand memory back once a
        # large run has grown it, so short requests do not pay to grow it again.
        size = int(feeds[self._inputs["tokens"][0]].shape[-1])
        self._arena_grown = self._arena_grown or size > self.LARGE_RUN_TOKENS
        if not (release_memory and self.config.arena_shrink and self._arena_grown):
            return None
        self._arena_grown = False
        return self._release_options

    def warm_up(self, phonemes: str, style: np.ndarray) -> None:
        """One run on every provider; a provider that fails it rests (CPU must not fail)."""
        feeds = self.feeds(phonemes, style, 1.0)
        for session in self.sessions:
            try:
                self.run_on(session.session, feeds)
            except Exception as err:
                if session.spec.key == "cpu":
                    raise
                _LOGGER.warning(
                    "Provider %s failed its warm-up run (%s); resting it", session.label, err
                )
                session.unhealthy_until = time.monotonic() + self.router.cooldown

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
        """:meth:`infer`, handing the audio to ``on_part`` part by part as it is made
        (on a split CPU session, when the audio made before would play out before the
        whole is made, and parts pay; see split.py). ``heard_until`` says when that audio
        plays out (time.monotonic; None: nothing made yet). ``max_part_s`` bounds a part's
        vocoding time and ``between`` is called between parts (see
        ``SplitSession.run_parts``). The result's audio starts with exactly what
        ``on_part`` got, in order; the last part is only in the result."""
        if not phonemes:
            return self.infer(phonemes, style, speed, release_memory)
        feeds = self.feeds(phonemes, style, speed)
        kept = self.filter_phonemes(phonemes)
        word_ends = [i + 1 for i, symbol in enumerate(kept) if symbol == " "]

        def run(session: Any) -> np.ndarray:
            if isinstance(session, SplitSession):
                options = self._run_options(feeds, release_memory)
                return session.run_parts(
                    feeds, word_ends, on_part, heard_until, options, max_part_s, between
                )
            return self.run_on(session, feeds, release_memory)

        return self.router.run(len(phonemes), run)

    def infer(
        self, phonemes: str, style: np.ndarray, speed: float, release_memory: bool = False
    ) -> SegmentResult:
        """Audio for at most 510 phoneme symbols; ``style`` is the (1, 256) row for them.

        ``release_memory``: the engine goes idle after this run, so let the CPU arena shrink
        (Kokoro's activations grow with the input; the arena would keep its high-water mark).
        """
        if not phonemes:
            return SegmentResult(np.zeros(0, dtype=np.float32), self.provider, 0.0)
        feeds = self.feeds(phonemes, style, speed)
        return self.router.run(
            len(phonemes), lambda session: self.run_on(session, feeds, release_memory)
        )
