"""Provider benchmark: session start-up, first-segment latency and RTF at three lengths.

Results are cached in a JSON file under a key made of the model's sha256, the onnxruntime
version, the provider and its options, the optimization level and the hardware name: a
changed key measures again.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..tables import text_table
from .router import ProviderSession
from .session import cache_key, hardware_name, ort
from .synthesizer import KokoroModel

_LOGGER = logging.getLogger(__name__)

# Phonemes of a fixed English passage (Misaki, en-US), so every run measures the same work.
PASSAGE = (
    "ɡˈʊd ˈivnɪŋ. ðə lˈɪvɪŋ ɹˈum ɪz wˈɔɹm, ðə kˈɪʧᵊn lˈIts ɑɹ ˈɔf, ænd ðə fɹˈʌnt dˈɔɹ ɪz "
    "lˈɑkt. təmˈɑɹO wɪl bi sˈʌni wɪð ɐ lˈIt bɹˈiz fɹʌm ðə wˈɛst, sˌO ɪt ɪz ɐ ɡˈʊd dˈA tʊ "
    "ˈOpᵊn ðə wˈɪndOz, wˈɔTəɹ ðə ɡˈɑɹdən ænd tˈAk ɐ lˈɔŋ wˈɔk bI ðə ɹˈɪvəɹ bəfˈɔɹ ðə ɹˈAn "
    "ɹətˈɜɹnz ɪn ði ˈivnɪŋ. "
)
LENGTHS = (30, 150, 400)  # phonemes: a short reply, a sentence, a long sentence
SAMPLE_RATE = 24000


def passage(length: int) -> str:
    """The first ``length`` phonemes of the passage (repeated as needed), cut at a word."""
    text = (PASSAGE * (length // len(PASSAGE) + 2))[: length + 1]
    cut = text.rfind(" ")
    return text[:cut].strip() if cut > 0 else text[:length]


@dataclass
class ProviderBenchmark:
    provider: str
    key: str
    startup_s: float
    first_segment_ms: float
    rtf: dict[str, float]  # by length in phonemes (JSON keys are strings)
    hardware: str = field(default_factory=hardware_name)
    onnxruntime: str = ort.__version__
    measured_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    cached: bool = False

    @property
    def long_rtf(self) -> float:
        return self.rtf[str(max(LENGTHS))]

    @staticmethod
    def from_dict(data: dict[str, object]) -> ProviderBenchmark:
        known = {k: v for k, v in data.items() if k in ProviderBenchmark.__dataclass_fields__}
        return ProviderBenchmark(**known)  # type: ignore[arg-type]


Measure = Callable[[KokoroModel, ProviderSession, Callable[[int], np.ndarray]], ProviderBenchmark]


def measure(
    model: KokoroModel,
    session: ProviderSession,
    style_for: Callable[[int], np.ndarray],
    runs: int = 2,
) -> ProviderBenchmark:
    """Time each length ``runs`` times after one untimed warm-up run; medians count."""
    rtf: dict[str, float] = {}
    first_segment_ms = 0.0
    for length in LENGTHS:
        phonemes = model.filter_phonemes(passage(length))
        feeds = model.feeds(phonemes, style_for(len(phonemes)), 1.0)
        audio = model.run_on(session.session, feeds)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            model.run_on(session.session, feeds)
            times.append(time.perf_counter() - started)
        elapsed = statistics.median(times)
        if length == LENGTHS[0]:
            first_segment_ms = round(elapsed * 1000, 1)
        rtf[str(length)] = round(elapsed / (len(audio) / SAMPLE_RATE), 4)
    key = cache_key(model.model_digest, session.spec, model.config)
    return ProviderBenchmark(session.label, key, round(session.startup_s, 3), first_segment_ms, rtf)


class BenchmarkCache:
    """benchmarks.json: cache key -> result."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text())
            self._entries: dict[str, dict[str, object]] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self._entries = {}

    def get(self, key: str) -> ProviderBenchmark | None:
        entry = self._entries.get(key)
        if not isinstance(entry, dict):
            return None
        try:
            result = ProviderBenchmark.from_dict(entry)
        except TypeError:
            return None
        result.cached = True
        return result

    def put(self, result: ProviderBenchmark) -> None:
        data = asdict(result)
        data.pop("cached")
        self._entries[result.key] = data
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._entries, indent=1, sort_keys=True))
        except OSError as err:
            _LOGGER.warning("Cannot save benchmark cache %s: %s", self.path, err)


def run_benchmark(
    model: KokoroModel,
    sessions: Sequence[ProviderSession],
    style_for: Callable[[int], np.ndarray],
    cache: BenchmarkCache,
    refresh: bool = False,
    measure_fn: Measure = measure,
) -> list[ProviderBenchmark]:
    """Benchmark ``sessions`` (cached results reused unless ``refresh``) and order routing."""
    results = []
    for session in sessions:
        key = cache_key(model.model_digest, session.spec, model.config)
        result = None if refresh else cache.get(key)
        if result is None:
            _LOGGER.info("Benchmarking %s…", session.label)
            result = measure_fn(model, session, style_for)
            cache.put(result)
        session.latency_ms = result.first_segment_ms
        session.rtf = result.long_rtf
        results.append(result)
    return results


def format_table(results: Sequence[ProviderBenchmark]) -> str:
    header = ["provider", "start-up s", "first segment ms"] + [f"RTF @{n}" for n in LENGTHS]
    rows = [
        [
            r.provider + (" (cached)" if r.cached else ""),
            f"{r.startup_s:.2f}",
            f"{r.first_segment_ms:.0f}",
            *[f"{r.rtf[str(n)]:.3f}" for n in LENGTHS],
        ]
        for r in results
    ]
    return text_table(header, rows)
