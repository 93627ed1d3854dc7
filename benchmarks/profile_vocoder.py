"""Where the vocoder's time goes, per operator type, for each version the split can build.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.profile_vocoder [--runs 3] [--json F]
        [--threads N] [--steps]

Every version the split builds (engine/split.py: as exported; the int8 kernels of
engine/int8.py; with them, the Snakes on engine/native.py's kernel, where it builds here),
its generator only (the frame-rate half runs once before it), and with
``--steps`` the rewrites it leaves out (the AdaIN chains fused by engine/fuse.py, the
Snake of engine/snake.py, the MatMulIntegerToFloat convolutions of engine/int8_float.py;
for a float model, ``--model`` the fp32 stand-in of benchmarks/float_models.py, its
exact version with Snake on Cos and with fused AdaIN too), renders the same segment in
the same run, turn by turn, so the ratios hold on a shared machine. Prints ms per frame (median
and best of ``--runs``; with ``--threads 1`` also the median thread CPU time, which
another process's load barely moves), the audio's log-mel difference from the exported
vocoder (same length), and onnxruntime's profile summed per operator type.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wyoming_kokoro.engine.exact import rewrite_epilogues, rewrite_squares
from wyoming_kokoro.engine.fuse import fuse_adain
from wyoming_kokoro.engine.int8 import rewrite_convolutions
from wyoming_kokoro.engine.int8_float import rewrite_convolutions_to_float
from wyoming_kokoro.engine.session import SessionConfig
from wyoming_kokoro.engine.snake import rewrite_snake
from wyoming_kokoro.engine.split import (
    DECODER_INPUTS,
    SplitSession,
    Version,
    _cut_graph,
    _native_library,
    cut_model,
    load_parts,
    make_version,
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


def candidates(model_path: Path) -> list[Version]:
    """Versions the split does not build, for --steps: the int8 kernels unfolding every
    convolution with slices and without engine/exact.py's rewrites (the kept version
    before them); and, not faster here or
    unable to carry the generator's state from part to part (see engine/fuse.py,
    engine/snake.py and engine/int8_float.py), without carried state: the int8 kernels
    with the AdaIN chains fused, then with Snake on Cos too; MatMulIntegerToFloat with
    fused AdaIN, without and with Snake on Cos."""
    import onnx

    front, exported = cut_model(model_path)
    fast_front, fast = onnx.ModelProto(), onnx.ModelProto()
    fast_front.CopyFrom(front)
    fast.CopyFrom(exported)
    if not rewrite_convolutions(fast):
        return float_candidates(front, exported)
    rewrite_convolutions(fast_front)
    sliced_front, sliced = onnx.ModelProto(), onnx.ModelProto()
    sliced_front.CopyFrom(front)
    sliced.CopyFrom(exported)
    rewrite_convolutions(sliced, tiled=False)
    rewrite_convolutions(sliced_front, tiled=False)
    made = [make_version("int8 kernels with slices, without exact rewrites", sliced_front, sliced)]
    for name, base, rewrites in (
        ("int8 kernels + fused AdaIN", fast, [fuse_adain]),
        ("int8 kernels + fused AdaIN + Snake on Cos", fast, [fuse_adain, rewrite_snake]),
        ("int8 float epilogue + fused AdaIN", exported, [rewrite_convolutions_to_float,
                                                         fuse_adain]),
        ("int8 float epilogue + fused AdaIN + Snake on Cos", exported,
         [rewrite_convolutions_to_float, fuse_adain, rewrite_snake]),
    ):  # fmt: skip
        model = onnx.ModelProto()
        model.CopyFrom(base)
        for rewrite in rewrites:
            rewrite(model)
        made.append(make_version(name, fast_front, model, carry=False))
    return made


def float_candidates(front: Any, exported: Any) -> list[Version]:
    """For a float model (no int8 convolutions), the float rewrites the split leaves out,
    on top of its exact ones: Snake on Cos (the generator still carries its state), then
    with the AdaIN chains fused too (without carried state)."""
    import onnx

    made = []
    for name, rewrites, carry in (
        ("exact rewrites + Snake on Cos", [rewrite_snake], True),
        ("exact rewrites + fused AdaIN + Snake on Cos", [fuse_adain, rewrite_snake], False),
    ):
        models = []
        for base in (front, exported):
            model = onnx.ModelProto()
            model.CopyFrom(base)
            rewrite_epilogues(model)
            rewrite_squares(model)
            models.append(model)
        for rewrite in rewrites:
            rewrite(models[1])
        made.append(make_version(name, models[0], models[1], carry=carry))
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=HOME / "kokoro-v1.0.int8.onnx")
    parser.add_argument("--voices", type=Path, default=HOME / "voices-v1.0.bin")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all)")
    parser.add_argument("--steps", action="store_true", help="the rewrites not built too")
    parser.add_argument(
        "--before",
        action="store_true",
        help="the int8 kernels with slices and without engine/exact.py too",
    )
    args = parser.parse_args()
    config = SessionConfig()
    model = KokoroModel(args.model, config, ["cpu"], model_digest="profile")
    style = read_voices_file(args.voices)["af_heart"][len(PHONEMES)]
    feeds = model.feeds(PHONEMES, style, 1.0)
    library = _native_library(SessionConfig(cache_dir=HOME), build=True)
    versions = _cut_graph(args.model, library)
    if args.steps or args.before:
        extra = candidates(args.model)
        versions = (extra if args.steps else extra[:1]) + versions
    sessions: list[tuple[str, SplitSession, Any]] = []
    for version in versions:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = args.threads
        options.enable_profiling = True
        options.profile_file_prefix = (
            f"/tmp/profile-{version.name.replace(' ', '_').replace('/', '_')}"
        )
        split = load_parts(version, options)
        sessions.append((version.name, split, split.generator))
    first = sessions[-1][1]
    made = first._front(feeds)
    frames = int(made[DECODER_INPUTS[0]].shape[-1])
    style_feed = feeds[first._style]
    mid = first._mid(made, style_feed)
    audio = [s._generate(mid, style_feed, 0, frames)[0] for _, s, _ in sessions]
    wall: list[list[float]] = [[] for _ in sessions]
    cpu: list[list[float]] = [[] for _ in sessions]
    for _ in range(args.runs):
        for index, (_, session, _) in enumerate(sessions):
            began, used = time.perf_counter(), time.thread_time()
            session._generate(mid, style_feed, 0, frames)
            wall[index].append((time.perf_counter() - began) / frames)
            cpu[index].append((time.thread_time() - used) / frames)
    median = [float(np.median(w)) for w in wall]
    best = [min(w) for w in wall]
    cpu_median = [float(np.median(c)) for c in cpu]
    report: dict[str, Any] = {"frames": frames, "versions": {}}
    reference = audio[-1]  # as exported
    for (name, _, decoder), seconds, fastest, used, sound in zip(
        sessions, median, best, cpu_median, audio, strict=True
    ):
        profile = Path(decoder.end_profiling())
        ops = by_op_type(profile, args.runs + 1)
        profile.unlink(missing_ok=True)
        total = sum(ops.values())
        report["versions"][name] = {
            "ms_per_frame_median": round(seconds * 1000, 3),
            "ms_per_frame_best": round(fastest * 1000, 3),
            "ratio_to_exported": round(seconds / median[-1], 3),
            "threads": args.threads,
            "log_mel_db_vs_exported": round(mel_difference(reference, sound), 4),
            "same_length": len(sound) == len(reference),
            "same_bits": bool(np.array_equal(sound, reference)),
            "ms_by_op_type": {k: round(v, 2) for k, v in sorted(ops.items(), key=lambda i: -i[1])},
        }
        if args.threads == 1:
            report["versions"][name]["cpu_ms_per_frame_median"] = round(used * 1000, 3)
        cpu_note = f", CPU {used * 1000:.2f} ms/frame" if args.threads == 1 else ""
        print(
            f"\n{name}: {seconds * 1000:.2f} ms/frame median, {fastest * 1000:.2f} best "
            f"({seconds / median[-1]:.2f}x as exported){cpu_note}, "
            f"log-mel {mel_difference(reference, sound):.3f} dB"
        )
        for op, ms in sorted(ops.items(), key=lambda i: -i[1])[:12]:
            print(f"  {op:28s} {ms:8.1f} ms  {100 * ms / total:5.1f} %")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
