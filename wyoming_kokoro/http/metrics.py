"""What the stats records say, kept in memory for the web page and ``GET /metrics``.

``ObservedStatsWriter`` is the server's one stats writer (it still writes the JSONL
file); it also counts every record, from either front door, into :class:`Metrics` and
keeps the last ones for the page's live figures. The Prometheus text exposition is
written by hand (a few counters and histograms need no client library).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..stats import RequestStats, StatsWriter, percentile

RECENT = 100  # records kept for the page
FIRST_AUDIO_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)


class _Histogram:
    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1
        self.total += 1
        self.sum += value


class Metrics:
    """Counters and histograms by mode (oneshot, stream, http) and outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = {}
        self.first_audio: dict[str, _Histogram] = {}
        self.rtf: dict[str, _Histogram] = {}
        self.audio_seconds: dict[str, float] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)

    def observe(self, record: RequestStats) -> None:
        with self._lock:
            key = (record.mode, record.outcome)
            self.requests[key] = self.requests.get(key, 0) + 1
            self.audio_seconds[record.mode] = (
                self.audio_seconds.get(record.mode, 0.0) + record.audio_seconds
            )
            if record.first_audio_ms is not None:
                histogram = self.first_audio.setdefault(
                    record.mode, _Histogram(FIRST_AUDIO_BUCKETS_S)
                )
                histogram.observe(record.first_audio_ms / 1000)
            if record.rtf is not None:
                self.rtf.setdefault(record.mode, _Histogram(RTF_BUCKETS)).observe(record.rtf)
            self.recent.append(
                {
                    "time": record.time,
                    "mode": record.mode,
                    "voice": record.voice,
                    "provider": record.provider,
                    "outcome": record.outcome,
                    "characters": record.characters,
                    "first_audio_ms": record.first_audio_ms,
                    "total_ms": record.total_ms,
                    "audio_seconds": record.audio_seconds,
                    "rtf": record.rtf,
                }
            )

    def summary(self) -> dict[str, Any]:
        """The last requests and their p50/p95 first audio and RTF (for the page)."""
        with self._lock:
            recent = list(self.recent)
        figures: dict[str, Any] = {"requests": len(recent)}
        for name in ("first_audio_ms", "rtf"):
            values = [float(r[name]) for r in recent if r[name] is not None]
            figures[f"{name}_p50"] = percentile(values, 0.5) if values else None
            figures[f"{name}_p95"] = percentile(values, 0.95) if values else None
        return {"figures": figures, "recent": recent[-20:][::-1]}

    def exposition(self, queue_depth: int, provider: str, ready: bool) -> str:
        """The Prometheus text format (version 0.0.4)."""
        lines: list[str] = []

        def family(name: str, kind: str, text: str) -> None:
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            family("kokoro_requests_total", "counter", "Requests answered, by mode and outcome.")
            for (mode, outcome), count in sorted(self.requests.items()):
                lines.append(f'kokoro_requests_total{{mode="{mode}",outcome="{outcome}"}} {count}')
            family("kokoro_errors_total", "counter", "Requests that failed, by mode.")
            errors: dict[str, int] = {}
            for (mode, outcome), count in self.requests.items():
                errors.setdefault(mode, 0)
                if outcome == "error":
                    errors[mode] += count
            for mode, count in sorted(errors.items()):
                lines.append(f'kokoro_errors_total{{mode="{mode}"}} {count}')
            family("kokoro_audio_seconds_total", "counter", "Seconds of audio made, by mode.")
            for mode, seconds in sorted(self.audio_seconds.items()):
                lines.append(f'kokoro_audio_seconds_total{{mode="{mode}"}} {seconds:.3f}')
            _histograms(
                lines,
                family,
                "kokoro_first_audio_seconds",
                "Time from the first text to the first audio sent.",
                self.first_audio,
            )
            _histograms(
                lines, family, "kokoro_rtf", "Real-time factor (work / audio time).", self.rtf
            )
        family("kokoro_queue_depth", "gauge", "Inference jobs waiting for the engine.")
        lines.append(f"kokoro_queue_depth {queue_depth}")
        family("kokoro_model_ready", "gauge", "1 once the model is loaded.")
        lines.append(f"kokoro_model_ready {int(ready)}")
        family("kokoro_provider_info", "gauge", "The execution provider the model runs on.")
        lines.append(f'kokoro_provider_info{{provider="{_label(provider)}"}} 1')
        return "\n".join(lines) + "\n"


def _histograms(
    lines: list[str],
    family: Callable[[str, str, str], None],
    name: str,
    text: str,
    by_mode: dict[str, _Histogram],
) -> None:
    family(name, "histogram", text)
    for mode, histogram in sorted(by_mode.items()):
        for bound, count in zip(histogram.bounds, histogram.counts, strict=False):
            lines.append(f'{name}_bucket{{mode="{mode}",le="{_number(bound)}"}} {count}')
        lines.append(f'{name}_bucket{{mode="{mode}",le="+Inf"}} {histogram.total}')
        lines.append(f'{name}_sum{{mode="{mode}"}} {histogram.sum:.6f}')
        lines.append(f'{name}_count{{mode="{mode}"}} {histogram.total}')


def _number(value: float) -> str:
    return "+Inf" if math.isinf(value) else f"{value:g}"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ObservedStatsWriter(StatsWriter):
    """The stats writer, counting each record into ``metrics`` as it is written."""

    def __init__(self, path: Path | None, max_bytes: int = 10 * 10**6, keep: int = 5) -> None:
        super().__init__(path, max_bytes, keep)
        self.metrics = Metrics()

    def write(self, record: RequestStats) -> None:
        super().write(record)
        self.metrics.observe(record)
