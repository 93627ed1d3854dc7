"""Routing segments to provider sessions, CPU fallback, cool-down and utilization."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .providers import ProviderSpec

_LOGGER = logging.getLogger(__name__)


def provider_label(spec: ProviderSpec) -> str:
    """How stats and logs name a provider (CoreML's two flavours are told apart)."""
    if spec.ort_name == "CoreMLExecutionProvider":
        return f"{spec.ort_name}:{spec.key}"
    return spec.ort_name


@dataclass
class ProviderUsage:
    requests: int = 0
    segments: int = 0
    inference_s: float = 0.0
    failures: int = 0
    fallbacks: int = 0

    def to_dict(self) -> dict[str, float]:
        data = asdict(self)
        data["inference_s"] = round(self.inference_s, 3)
        return data


@dataclass
class ProviderSession:
    """A session on one provider, with what the router knows about it."""

    spec: ProviderSpec
    session: Any  # has onnxruntime's run(output_names, feeds)
    startup_s: float = 0.0
    latency_ms: float | None = None  # benchmark: first short segment
    rtf: float | None = None  # benchmark: processing time / audio time on long segments
    unhealthy_until: float = 0.0
    from_cache: bool = False  # opened from the optimized-model cache

    @property
    def label(self) -> str:
        return provider_label(self.spec)


@dataclass
class SegmentResult:
    audio: np.ndarray
    provider: str  # label of the provider that produced the audio
    inference_s: float
    fallback: str | None = None  # "<failed provider>: <error>" when CPU stepped in
    failed_provider: str | None = None


@dataclass
class Router:
    """Short segments to the lowest-latency session, long ones to the highest-throughput one.

    Benchmark figures decide where there are any; the plan's priority order otherwise. A
    failed run is retried on CPU and its provider rests for ``cooldown`` seconds.
    """

    sessions: list[ProviderSession]
    cpu_factory: Callable[[], ProviderSession]
    short_threshold: int = 150
    cooldown: float = 60.0
    clock: Callable[[], float] = time.monotonic
    usage: dict[str, ProviderUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cpu: ProviderSession | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for session in self.sessions:
            self.usage.setdefault(session.label, ProviderUsage())
            if session.spec.key == "cpu":
                self._cpu = session

    def cpu(self) -> ProviderSession:
        if self._cpu is None:
            self._cpu = self.cpu_factory()
            self.usage.setdefault(self._cpu.label, ProviderUsage())
        return self._cpu

    def choose(self, num_phonemes: int) -> ProviderSession:
        now = self.clock()
        healthy = [s for s in self.sessions if s.unhealthy_until <= now]
        if not healthy:
            return self.cpu()
        short = num_phonemes <= self.short_threshold
        order = {id(s): i for i, s in enumerate(self.sessions)}

        def rank(session: ProviderSession) -> tuple[int, float]:
            measured = session.latency_ms if short else session.rtf
            if measured is not None:
                return (0, measured)
            return (1, float(order[id(session)]))

        return min(healthy, key=rank)

    def run(self, num_phonemes: int, infer: Callable[[Any], np.ndarray]) -> SegmentResult:
        """Run ``infer(session)`` on the chosen session, falling back to CPU on failure."""
        chosen = self.choose(num_phonemes)
        started = time.perf_counter()
        try:
            audio = infer(chosen.session)
        except Exception as err:
            if chosen.spec.key == "cpu":
                raise
            failure = f"{chosen.label}: {err}"
            chosen.unhealthy_until = self.clock() + self.cooldown
            _LOGGER.warning(
                "Provider %s failed (%s); retrying this segment on CPU and resting it for %.0f s",
                chosen.label,
                err,
                self.cooldown,
            )
            cpu = self.cpu()
            retry_started = time.perf_counter()
            audio = infer(cpu.session)
            elapsed = time.perf_counter() - retry_started
            with self._lock:
                self.usage[chosen.label].failures += 1
                cpu_usage = self.usage[cpu.label]
                cpu_usage.fallbacks += 1
                cpu_usage.segments += 1
                cpu_usage.inference_s += elapsed
            return SegmentResult(audio, cpu.label, elapsed, failure, chosen.label)
        elapsed = time.perf_counter() - started
        with self._lock:
            usage = self.usage[chosen.label]
            usage.segments += 1
            usage.inference_s += elapsed
        return SegmentResult(audio, chosen.label, elapsed)

    def count_request(self, providers: list[str]) -> None:
        with self._lock:
            for label in providers:
                self.usage.setdefault(label, ProviderUsage()).requests += 1

    def summary(self) -> str:
        with self._lock:
            rows = [
                f"{label}: {u.requests} requests, {u.segments} segments, "
                f"{u.inference_s:.1f} s inference, {u.failures} failures, {u.fallbacks} fallbacks"
                for label, u in self.usage.items()
            ]
        return "; ".join(rows)
