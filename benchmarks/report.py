"""The benchmark's table: ours beside kokoro-onnx and every Wyoming peer, with ratios.

The ratio column compares with the first Wyoming peer when one was measured (targets
from issue 13), else with kokoro-onnx (the earlier targets).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from wyoming_kokoro.tables import text_table

Runs = list[dict[str, float]]


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))]


def median(runs: Runs, key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else math.nan


def ms(runs: Runs, key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return ""
    return f"{statistics.median(values) * 1000:.0f} / {p(values, 0.95) * 1000:.0f} ms"


def rtf(runs: Runs) -> float:
    return statistics.median(r["total_s"] / r["audio_s"] for r in runs if r["audio_s"] > 0)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs and math.isfinite(theirs) else ""


def report(results: dict[str, Any]) -> None:
    ours = results["ours"]
    onnx: dict[str, Any] = results.get("peer") or {}
    peers: dict[str, Any] = results.get("peers") or {}
    ref = next(iter(peers.values()), None)

    def onnx_value(kind: str, key: str, lead: bool = False) -> float:
        runs = onnx.get(f"{kind}_create") or []
        values = [r[key] + (r["lead_s"] if lead else 0.0) for r in runs]
        return statistics.median(values) if values else math.nan

    def row(label: str, key: str, kind: str, target_peer: str, target_onnx: str,
            onnx_key: str = "", onnx_lead: bool = False) -> tuple[str, ...]:  # fmt: skip
        onnx_v = onnx_value(kind, onnx_key, onnx_lead) if onnx_key else math.nan
        mine = median(ours[kind], key)
        if ref is not None:
            ratio, target = _ratio(mine, median(ref[kind], key)), target_peer
        else:
            ratio, target = _ratio(mine, onnx_v), target_onnx
        onnx_cell = f"{onnx_v * 1000:.0f} ms" if math.isfinite(onnx_v) else ""
        return (label, ms(ours[kind], key), onnx_cell,
                *(ms(v[kind], key) for v in peers.values()), ratio, target)  # fmt: skip

    blank = ("",) * len(peers)
    rows = [
        row("short command: first audio (median / p95)", "first_audio_s", "short", "",
            "<= 1.05", "create_s"),
        row("short command: first speech (median / p95)", "first_speech_s", "short", "<= 0.6",
            "", "create_s", True),
        row("paragraph: first audio (median / p95)", "first_audio_s", "paragraph", "",
            "<= 0.08", "create_s"),
        row("paragraph: first speech (median / p95)", "first_speech_s", "paragraph", "<= 0.35",
            "", "create_s", True),
    ]  # fmt: skip
    stream_yield = [r["first_yield_s"] + r["lead_s"] for r in onnx.get("paragraph_stream", [])]
    if stream_yield:
        first_yield = f"{statistics.median(stream_yield) * 1000:.0f} ms"
        rows.append(("paragraph: kokoro-onnx create_stream, first speech", "", first_yield,
                     *blank, "", ""))  # fmt: skip
    totals = [f"{median(v['paragraph'], 'total_s'):.2f} s" for v in peers.values()]
    onnx_total = onnx_value("paragraph", "create_s")
    onnx_cell = f"{onnx_total:.2f} s" if math.isfinite(onnx_total) else ""
    rows.append(("paragraph: total (median)", f"{median(ours['paragraph'], 'total_s'):.2f} s",
                 onnx_cell, *totals, "", ""))  # fmt: skip
    our_rtf = rtf(ours["paragraph"])
    onnx_runs = onnx.get("paragraph_create") or []
    onnx_rtf = (statistics.median(r["create_s"] / r["audio_s"] for r in onnx_runs)
                if onnx_runs else math.nan)  # fmt: skip
    ref_rtf = rtf(ref["paragraph"]) if ref is not None else onnx_rtf
    rows.append(("steady RTF (paragraph, median)", f"{our_rtf:.3f}",
                 f"{onnx_rtf:.3f}" if onnx_runs else "",
                 *(f"{rtf(v['paragraph']):.3f}" for v in peers.values()),
                 _ratio(our_rtf, ref_rtf), "<= 0.85" if ref is not None else "<= 0.9"))  # fmt: skip
    for label, key, target in (("first audio", "first_audio_s", ""),
                               ("first speech", "first_speech_s", "")):  # fmt: skip
        mine = median(ours["stream"], key)
        rows.append((f"LLM stream: {label} after first chunk (median / p95)",
                     ms(ours["stream"], key), "", *(ms(v["stream"], key) for v in peers.values()),
                     _ratio(mine, median(ref["stream"], key)) if ref else "", target))  # fmt: skip

    def before_last(runs: Runs) -> str:
        early = sum(r["first_audio_s"] < r["last_chunk_s"] for r in runs)
        return f"{early} of {len(runs)}"

    rows.append(("LLM stream: first audio before the last text chunk", before_last(ours["stream"]),
                 "", *(before_last(v["stream"]) for v in peers.values()), "", ""))  # fmt: skip
    rows.append(("cache hit: first audio (median / p95)", _fine_ms(ours["cache_hit"]), "",
                 *(_fine_ms(v["cache_hit"]) for v in peers.values()), "", "<= 15 ms"))  # fmt: skip
    idle_p95 = p([r["first_audio_s"] for r in ours["short"]], 0.95)
    loaded = ours["concurrent"]["short_first_audio_s"]
    loaded_p95 = p(loaded, 0.95) if loaded else math.nan
    rows += [
        ("8 clients: short first audio p95 / idle p95",
         f"{loaded_p95 * 1000:.0f} / {idle_p95 * 1000:.0f} ms", "", *blank,
         f"{loaded_p95 / idle_p95:.2f}", "<= 2.5"),
        ("8 clients: errors", str(len(ours["concurrent"]["errors"])), "", *blank, "", "0"),
        ("Describe answered after start", f"{results['startup']['describe_s']:.2f} s", "",
         *blank, "", "<= 1 s"),
        ("model ready after first start (optimizes the model)",
         f"{results['startup']['ready_s']:.2f} s", "", *blank, "", ""),
        ("model ready after a later start (cached)",
         f"{results['startup'].get('ready_cached_s', math.nan):.2f} s", "", *blank, "",
         "<= 3 s"),
        ("resident memory (end / peak)",
         f"{results['memory']['rss_mb']:.0f} / {results['memory']['peak_rss_mb']:.0f} MB", "",
         *blank, "", "<= 500 MB"),
    ]  # fmt: skip
    header = ("measure", "wyoming-kokoro", "kokoro-onnx", *peers, "ratio", "target")
    print()
    print(text_table(header, rows))
    m = results["machine"]
    print(
        f"\n{m['cpu']}, {m['cores']} cores, onnxruntime {m['onnxruntime']}, "
        f"{results['model']}, voice {results['voice']}, {results['rounds']} rounds; "
        f"ratio: ours / {next(iter(peers), 'kokoro-onnx')}"
    )


def _fine_ms(runs: Runs) -> str:
    values = [r["first_audio_s"] for r in runs]
    return f"{statistics.median(values) * 1000:.1f} / {p(values, 0.95) * 1000:.1f} ms"
