"""Where the vocoder's time goes, per operator type, for each version the split can build.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.profile_vocoder [--runs 3] [--json F]

Every version (as exported; the int8 kernels of engine/int8.py; those with the AdaIN
chains fused by engine/fuse.py) renders the same segment in the same run, turn by turn,
so the ratios hold on a shared machine. Prints ms per frame (best of ``--runs``), the
audio's log-mel difference from the exported vocoder (same length), and onnxruntime's
profile summed per operator type.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import onnxruntime as ort

from wyoming_kokoro.engine.session import SessionConfig
from wyoming_kokoro.engine.split import (
    DECODER_INPUTS,
    SplitSession,
    _cut_graph,
    load_parts,
    mel_difference,
)
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import read_voices_file

HOME = Path.home() / ".local/share/wyoming-kokoro"
PHONEMES = (
    "ðə lˈIvɪŋ ɹˈum lˈIts ɑɹ ˈɔn, ænd ðə fɹˈʌnt dˈɔɹ ɪz lˈɑkt. "
    "təmˈɑɹO lˈʊks sˈʌni wɪð ɐ lˈIt bɹˈiz fɹʌm ðə wˈɛst."
)


def by_op_type(profile: Path, runs: int) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for event in json.loads(profile.read_text()):
        args = event.get("args", {})
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            totals[args.get("op_name", "?")] += event["dur"] / 1000 / runs
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=HOME / "kokoro-v1.0.int8.onnx")
    parser.add_argument("--voices", type=Path, default=HOME / "voices-v1.0.bin")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = SessionConfig()
    model = KokoroModel(args.model, config, ["cpu"], model_digest="profile")
    style = read_voices_file(args.voices)["af_heart"][len(PHONEMES)]
    feeds = model.feeds(PHONEMES, style, 1.0)
    variants = _cut_graph(args.model)
    sessions: list[tuple[str, Any, Any]] = []
    for name, front, decoder in variants:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = f"/tmp/profile-{name.replace(' ', '_')}"
        halves = load_parts(front, decoder, options)
        sessions.append((name, SplitSession(*halves, 0.0, False), halves[1]))
    made = sessions[0][1]._front(feeds)
    frames = int(made[DECODER_INPUTS[0]].shape[-1])
    style_feed = feeds[sessions[0][1]._style]
    audio = [s._decode(made, style_feed, 0, frames) for _, s, _ in sessions]
    best = [math.inf] * len(sessions)
    for _ in range(args.runs):
        for index, (_, session, _) in enumerate(sessions):
            began = time.perf_counter()
            session._decode(made, style_feed, 0, frames)
            best[index] = min(best[index], (time.perf_counter() - began) / frames)
    report: dict[str, Any] = {"frames": frames, "versions": {}}
    reference = audio[-1]  # as exported
    for (name, _, decoder), seconds, sound in zip(sessions, best, audio, strict=True):
        profile = Path(decoder.end_profiling())
        ops = by_op_type(profile, args.runs + 1)
        profile.unlink(missing_ok=True)
        total = sum(ops.values())
        report["versions"][name] = {
            "ms_per_frame": round(seconds * 1000, 3),
            "ratio_to_exported": round(seconds / best[-1], 3),
            "log_mel_db_vs_exported": round(mel_difference(reference, sound), 4),
            "same_length": len(sound) == len(reference),
            "ms_by_op_type": {k: round(v, 2) for k, v in sorted(ops.items(), key=lambda i: -i[1])},
        }
        print(
            f"\n{name}: {seconds * 1000:.2f} ms/frame ({seconds / best[-1]:.2f}x as exported), "
            f"log-mel {mel_difference(reference, sound):.3f} dB"
        )
        for op, ms in sorted(ops.items(), key=lambda i: -i[1])[:12]:
            print(f"  {op:28s} {ms:8.1f} ms  {100 * ms / total:5.1f} %")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
