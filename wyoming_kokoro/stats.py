"""Request timing records and the one writer that appends them to a JSON-lines file."""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import monotonic

_LOGGER = logging.getLogger(__name__)


@dataclass
class RequestStats:
    """One request's timings. Times are milliseconds; ``rtf`` = processing / audio time."""

    mode: str  # oneshot | stream
    voice: str
    language: str
    provider: str
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    characters: int = 0
    phonemes: int = 0
    segments: int = 0
    g2p_ms: float = 0.0
    first_audio_ms: float | None = None
    inference_ms: float = 0.0
    total_ms: float = 0.0
    audio_seconds: float = 0.0
    rtf: float | None = None
    outcome: str = "ok"  # ok | error | cancelled
    error: str | None = None
    fallback: str | None = None  # "<provider>: <error>" when a segment was retried on CPU
    # per provider label: segments, inference_s, failures, fallbacks (this request only)
    providers: dict[str, dict[str, float]] = field(default_factory=dict)
    started: float = field(default_factory=monotonic, repr=False)
    text_started: float | None = field(default=None, repr=False)

    def segment_done(
        self,
        provider: str,
        inference_s: float,
        fallback: str | None = None,
        failed_provider: str | None = None,
    ) -> None:
        """Account one synthesized segment to the provider that produced it."""
        self.segments += 1
        self.inference_ms += inference_s * 1000
        usage = self.providers.setdefault(
            provider, {"segments": 0, "inference_s": 0.0, "failures": 0, "fallbacks": 0}
        )
        usage["segments"] += 1
        usage["inference_s"] = round(usage["inference_s"] + inference_s, 3)
        if fallback is not None:
            usage["fallbacks"] += 1
            self.fallback = fallback
            if failed_provider is not None:
                failed = self.providers.setdefault(
                    failed_provider,
                    {"segments": 0, "inference_s": 0.0, "failures": 0, "fallbacks": 0},
                )
                failed["failures"] += 1
        produced = [label for label, u in self.providers.items() if u["segments"]]
        self.provider = "+".join(produced)

    def text_arrived(self) -> None:
        """Mark the moment the first text arrived: first audio is measured from here."""
        if self.text_started is None:
            self.text_started = monotonic()

    def audio_sent(self, seconds: float) -> None:
        if self.first_audio_ms is None:
            origin = self.text_started if self.text_started is not None else self.started
            self.first_audio_ms = round((monotonic() - origin) * 1000, 1)
        self.audio_seconds += seconds

    def finish(self, outcome: str = "ok", error: str | None = None) -> None:
        self.outcome, self.error = outcome, error
        origin = self.text_started if self.text_started is not None else self.started
        self.total_ms = round((monotonic() - origin) * 1000, 1)
        self.g2p_ms = round(self.g2p_ms, 1)
        self.inference_ms = round(self.inference_ms, 1)
        self.audio_seconds = round(self.audio_seconds, 3)
        work = (self.g2p_ms + self.inference_ms) / 1000
        self.rtf = round(work / self.audio_seconds, 4) if self.audio_seconds > 0 else None

    def to_json(self) -> str:
        record = asdict(self)
        record.pop("started")
        record.pop("text_started")
        return json.dumps(record, ensure_ascii=False)


class StatsWriter:
    """Appends records from one background thread: lines never interleave or tear.

    An unwritable path gives one warning; the server keeps serving.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._warned = False
        self._thread: threading.Thread | None = None
        if path is not None:
            self._thread = threading.Thread(target=self._run, name="stats-writer", daemon=True)
            self._thread.start()

    def write(self, record: RequestStats) -> None:
        if self._thread is not None:
            self._queue.put(record.to_json())

    def _append(self, lines: list[str]) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))
        except OSError as err:
            if not self._warned:
                self._warned = True
                _LOGGER.warning(
                    "Cannot write stats file %s (%s); serving on without it",
                    self.path,
                    err.strerror or err,
                )

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            lines: list[str] = []
            stop = line is None
            if line is not None:
                lines.append(line)
            while not stop:  # batch whatever else is waiting
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    lines.append(more)
            if lines:
                self._append(lines)
            if stop:
                return

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued and stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
