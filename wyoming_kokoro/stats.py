"""Request timing records, the one writer that appends them to a JSON-lines file, and the
summary (``python -m wyoming_kokoro.stats STATS_FILE``)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import queue
import re
import sys
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from .config import StatsSettings
from .tables import text_table

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
    text_format: str = "text"  # text | ssml | ssml-as-text (malformed SSML read as text)
    cache_hits: int = 0  # segments answered from the phrase cache
    lexicon_entries: int = 0  # words and phrases said as the lexicon says
    fallback: str | None = None  # "<provider>: <error>" when a segment was retried on CPU
    keepalive_s: float = 0.0  # silence sent while a paused stream waited for text
    # per provider label: segments, inference_s, failures, fallbacks (this request only)
    providers: dict[str, dict[str, float]] = field(default_factory=dict)
    started: float = field(default_factory=monotonic, repr=False)
    text_started: float | None = field(default=None, repr=False)
    recorded: bool = field(default=False, repr=False)  # written to the stats file already

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

    def cache_hit(self) -> None:
        self.segments += 1
        self.cache_hits += 1
        if not self.providers:
            self.provider = "cache"

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
        self.keepalive_s = round(self.keepalive_s, 3)
        work = (self.g2p_ms + self.inference_ms) / 1000
        spoken = self.audio_seconds - self.keepalive_s  # keep-alive silence costs no work
        self.rtf = round(work / spoken, 4) if spoken > 0 else None

    def to_json(self) -> str:
        record = asdict(self)
        record.pop("started")
        record.pop("text_started")
        record.pop("recorded")
        return json.dumps(record, ensure_ascii=False)


_Writer = TypeVar("_Writer", bound="StatsWriter")


class StatsWriter:
    """Appends records from one background thread: lines never interleave or tear.

    An unwritable path gives one warning; the server keeps serving.
    """

    @classmethod
    def from_settings(cls: type[_Writer], settings: StatsSettings) -> _Writer:
        """The server's writer: its file (or none), rotated at its size, so many kept."""
        return cls(settings.stats_path, int(settings.stats_max_mb * 10**6), settings.stats_keep)

    def __init__(self, path: Path | None, max_bytes: int = 10 * 10**6, keep: int = 5) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._warned = False
        self._thread: threading.Thread | None = None
        if path is not None:
            self._thread = threading.Thread(target=self._run, name="stats-writer", daemon=True)
            self._thread.start()

    def write(self, record: RequestStats) -> None:
        if self._thread is None:
            return
        try:
            line = record.to_json()
        except Exception:  # a record that cannot be written is logged, never fatal
            _LOGGER.exception("Cannot serialize a stats record")
            return
        self._queue.put(line)

    def _rotate(self, incoming: int) -> None:
        """Before a write that would pass max_bytes: stats.jsonl -> .1 -> .2 … (keep N)."""
        assert self.path is not None
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        if self.keep == 0:
            self.path.unlink()
            return
        old = self.path.with_name(f"{self.path.name}.{self.keep}")
        old.unlink(missing_ok=True)
        for number in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if older.exists():
                older.rename(self.path.with_name(f"{self.path.name}.{number + 1}"))
        self.path.rename(self.path.with_name(f"{self.path.name}.1"))

    def _append(self, lines: list[str]) -> None:
        assert self.path is not None
        text = "".join(line + "\n" for line in lines)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate(len(text.encode("utf-8", "backslashreplace")))
            # Client text may hold lone surrogates: escaped, the line is still UTF-8 JSON.
            with self.path.open("a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
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
                try:
                    self._append(lines)
                except Exception:  # the writer outlives any record
                    _LOGGER.exception("Writing stats records failed")
            if stop:
                return

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued and stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None


# --------------------------------------------------------------------------- summary


def read_records(path: Path, since: datetime | None = None) -> list[dict[str, Any]]:
    """The stats file's records (rotated-away lines are not read), optionally since a time."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                _LOGGER.warning("%s:%d is not a JSON line; skipped", path, number)
                continue
            if since is not None:
                try:
                    when = datetime.fromisoformat(str(record.get("time")))
                except ValueError:
                    continue
                if when < since:
                    continue
            records.append(record)
    return records


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2026-11-24``, ``2026-11-24T08:00``, or a span back from now: ``30m``, ``24h``, ``7d``."""
    now = now or datetime.now(timezone.utc)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip())
    if match:
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - timedelta(seconds=seconds)
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarize(records: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Rows per value of ``by`` (voice, provider, mode): counts and p50/p95 figures."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record.get(by) or "-"), []).append(record)
    rows = []
    for name in sorted(groups):
        group = groups[name]
        row: dict[str, Any] = {
            by: name,
            "requests": len(group),
            "errors": sum(r.get("outcome") != "ok" for r in group),
        }
        for field_name in ("first_audio_ms", "total_ms", "rtf"):
            values = [
                float(r[field_name]) for r in group if isinstance(r.get(field_name), (int, float))
            ]
            row[f"{field_name}_p50"] = percentile(values, 0.5) if values else None
            row[f"{field_name}_p95"] = percentile(values, 0.95) if values else None
        rows.append(row)
    return rows


def format_summary(rows: list[dict[str, Any]], by: str) -> str:
    header = [by, "requests", "errors", "first audio p50/p95 ms", "total p50/p95 ms", "RTF p50/p95"]

    def pair(row: dict[str, Any], name: str, digits: int) -> str:
        low, high = row[f"{name}_p50"], row[f"{name}_p95"]
        if low is None:
            return "-"
        return f"{low:.{digits}f} / {high:.{digits}f}"

    return text_table(
        header,
        [
            [
                str(r[by]),
                str(r["requests"]),
                str(r["errors"]),
                pair(r, "first_audio_ms", 0),
                pair(r, "total_ms", 0),
                pair(r, "rtf", 3),
            ]
            for r in rows
        ],
    )


def plot(records: list[dict[str, Any]], out: Path) -> None:
    """First-audio distribution and RTF over time, as a PNG (needs the plot extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'wyoming-kokoro[plot]'") from None
    first = [float(r["first_audio_ms"]) for r in records if r.get("first_audio_ms") is not None]
    timed = [
        (datetime.fromisoformat(str(r["time"])), float(r["rtf"]))
        for r in records
        if r.get("rtf") is not None and r.get("time")
    ]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(first, bins=min(40, max(5, len(first) // 3)), color="#3b7dd8")
    left.set_title("First audio")
    left.set_xlabel("milliseconds")
    left.set_ylabel("requests")
    if timed:
        right.plot([t for t, _ in timed], [v for _, v in timed], "o", markersize=3, color="#d8753b")
    right.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    right.set_title("Real-time factor over time (below 1 = faster than real time)")
    right.set_ylabel("RTF")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(out, format="png", dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """``python -m wyoming_kokoro.stats STATS_FILE [--since …] [--plot out.png]``."""
    parser = argparse.ArgumentParser(
        prog="python -m wyoming_kokoro.stats",
        description="Summarize a wyoming-kokoro stats file: p50/p95 first audio, total time "
        "and RTF per voice, provider and mode.",
    )
    parser.add_argument("stats_file", type=Path)
    parser.add_argument("--since", help="only records since: 2026-11-24, 2026-11-24T08:00, 24h, 7d")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="also draw the figures here")
    args = parser.parse_args(argv)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError:
        parser.error(f"--since: cannot read {args.since!r}")
    try:
        records = read_records(args.stats_file, since)
    except OSError as err:
        print(f"error: cannot read {args.stats_file}: {err.strerror}", file=sys.stderr)
        return 1
    print(f"{len(records)} requests in {args.stats_file}" + (f" since {since}" if since else ""))
    for by in ("voice", "provider", "mode"):
        print()
        print(format_summary(summarize(records, by), by))
    if args.plot is not None:
        plot(records, args.plot)
        print(f"\nplot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
