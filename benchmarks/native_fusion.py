"""What native fused kernels for Snake and AdaIN would save, measured before building them.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.native_fusion [--runs 7] [--json F]

Issue 22 asks for the vocoder at 0.6x; the exact graph rewrites reached 0.89x, and what
is left outside the integer products is the generator's elementwise chains, which
onnxruntime runs one small operator at a time (``Sin`` on one thread). Before anyone
commits to shipping a compiled kernel library per platform, this measures the gain:

1. a C file (below) compiled here with the system compiler (``cc -O3 -march=native
   -ffast-math -fopenmp``; glibc's vector ``sinf``) fusing each chain into one pass on
   both cores: Snake ``x + sin(αx)² / α`` and AdaIN ``(1 + γ)(x - μ)/√(σ² + ε) + β``
   (statistics, then one pass);
2. the same chains as the int8 kernels' generator runs them, as small onnxruntime graphs
   (Snake: Mul, Sin, Mul, Mul, Add; AdaIN: ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt,
   Div, Mul, Add), on the same tensors, both timed in turn (medians);
3. the kept vocoder's onnxruntime profile on the 275-frame test sentence, each kernel
   attributed to its site (Snake: each ``Sin`` with the multiply before it and the three
   operators after; AdaIN: the nodes of the ``adain`` blocks, with the state the
   generator carries), and the vocoder's time per frame re-estimated with each site's
   time scaled by the measured ratio.

The fused kernels are not the export's arithmetic (another ``sin``, another order of
sums), so their audio would not be the export's: at the int8 vocoder's one-ulp distance
(0.65 dB) or more. The figure is an upper bound on what such kernels give here, not a
version of the model.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wyoming_kokoro.engine.snake import SnakeSite, find_snakes

SOURCE = r"""
#include <math.h>

void snake(const float *x, const float *alpha, const float *reciprocal, float *y,
           long channels, long steps, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long c = 0; c < channels; c++) {
        const float a = alpha[c], r = reciprocal[c];
        const float *in = x + c * steps;
        float *out = y + c * steps;
        #pragma omp simd
        for (long t = 0; t < steps; t++) {
            float s = sinf(a * in[t]);
            out[t] = in[t] + r * (s * s);
        }
    }
}

void adain(const float *x, const float *scale, const float *shift, float *y,
           long channels, long steps, float epsilon, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long c = 0; c < channels; c++) {
        const float *in = x + c * steps;
        float *out = y + c * steps;
        float sum = 0.0f;
        #pragma omp simd reduction(+:sum)
        for (long t = 0; t < steps; t++) sum += in[t];
        const float mean = sum / (float)steps;
        float squares = 0.0f;
        #pragma omp simd reduction(+:squares)
        for (long t = 0; t < steps; t++) {
            float d = in[t] - mean;
            squares += d * d;
        }
        const float gain = scale[c] / sqrtf(squares / (float)steps + epsilon);
        const float offset = shift[c] - mean * gain;
        #pragma omp simd
        for (long t = 0; t < steps; t++) out[t] = in[t] * gain + offset;
    }
}
"""

HOME = Path.home() / ".local/share/wyoming-kokoro"
EPSILON = 1e-5


def build(folder: Path) -> Any:
    """The fused kernels, compiled here; raises RuntimeError without a C compiler."""
    source, library = folder / "fused.c", folder / "fused.so"
    source.write_text(SOURCE)
    command = ["cc", "-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC"]
    try:
        subprocess.run([*command, str(source), "-o", str(library), "-lm"], check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(f"cannot compile the fused kernels: {err}") from err
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read as OpenMP starts, below
    lib = ctypes.CDLL(str(library))
    pointer, size = ctypes.POINTER(ctypes.c_float), ctypes.c_long
    number = ctypes.c_int
    lib.snake.argtypes = [pointer, pointer, pointer, pointer, size, size, number]
    lib.adain.argtypes = [pointer, pointer, pointer, pointer, size, size, ctypes.c_float, number]
    return lib


def _ptr(array: np.ndarray) -> Any:
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def native_snake(lib: Any, x: np.ndarray, alpha: np.ndarray, threads: int = 2) -> np.ndarray:
    reciprocal = (1.0 / (alpha + 1e-9)).astype(np.float32)
    y = np.empty_like(x)
    lib.snake(_ptr(x), _ptr(alpha), _ptr(reciprocal), _ptr(y), x.shape[1], x.shape[2], threads)
    return y


def native_adain(
    lib: Any, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, threads: int = 2
) -> np.ndarray:
    scale = (1.0 + gamma).astype(np.float32)
    y = np.empty_like(x)
    lib.adain(_ptr(x), _ptr(scale), _ptr(beta), _ptr(y), x.shape[1], x.shape[2], EPSILON, threads)
    return y


def chain_sessions() -> dict[str, Any]:
    """The export's Snake and AdaIN chains as onnxruntime sessions (x, per-channel inputs),
    with the vocoder's session defaults (threads spinning between runs: each kind is timed
    in a block of its own, so that they do not take the cores from the other)."""
    from onnx import TensorProto, helper, numpy_helper

    def session(nodes: list[Any], inputs: list[str], extra: list[Any]) -> Any:
        graph = helper.make_graph(
            nodes,
            "chain",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in inputs],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            extra,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    axes = numpy_helper.from_array(np.array([2], dtype=np.int64), "axes")
    eps = numpy_helper.from_array(np.array(EPSILON, dtype=np.float32), "eps")
    snake = [
        helper.make_node("Mul", ["alpha", "x"], ["ax"]),
        helper.make_node("Sin", ["ax"], ["s"]),
        helper.make_node("Mul", ["s", "s"], ["s2"]),
        helper.make_node("Mul", ["reciprocal", "s2"], ["r"]),
        helper.make_node("Add", ["x", "r"], ["y"]),
    ]
    adain = [
        helper.make_node("ReduceMean", ["x", "axes"], ["mean"]),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("ReduceMean", ["d2", "axes"], ["var"]),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["n"]),
        helper.make_node("Mul", ["scale", "n"], ["g"]),
        helper.make_node("Add", ["g", "beta"], ["y"]),
    ]
    return {
        "snake": session(snake, ["x", "alpha", "reciprocal"], []),
        "adain": session(adain, ["x", "scale", "beta"], [axes, eps]),
    }


def timed(function: Any, arguments: tuple[Any, ...], runs: int) -> float:
    """Median seconds of ``function(*arguments)``."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function(*arguments)
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def measure_chains(lib: Any, shapes: set[tuple[str, int, int]], runs: int) -> dict[str, Any]:
    """Per (kind, channels, steps): ms of the onnxruntime chain and of the fused kernel
    (medians), and the largest difference between their outputs."""
    sessions = chain_sessions()
    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    fused: Any
    arguments: tuple[Any, ...]
    for kind, channels, steps in sorted(shapes):
        x = rng.normal(0, 1, (1, channels, steps)).astype(np.float32)
        column = (1, channels, 1)
        if kind == "snake":
            alpha = rng.uniform(0.2, 3.0, channels).astype(np.float32)
            reciprocal = (1.0 / (alpha + 1e-9)).astype(np.float32)
            feeds = {
                "x": x,
                "alpha": alpha.reshape(column),
                "reciprocal": reciprocal.reshape(column),
            }
            fused, arguments = native_snake, (lib, x, alpha)
        else:
            gamma = rng.normal(0, 0.3, channels).astype(np.float32)
            beta = rng.normal(0, 0.3, channels).astype(np.float32)
            scale = (1.0 + gamma).astype(np.float32)
            feeds = {"x": x, "scale": scale.reshape(column), "beta": beta.reshape(column)}
            fused, arguments = native_adain, (lib, x, gamma, beta)
        session = sessions[kind]
        want, got = session.run(None, feeds)[0], fused(*arguments)
        ort_ms = timed(session.run, (None, feeds), runs) * 1000
        time.sleep(0.2)  # onnxruntime's threads stop spinning
        fused_ms = timed(fused, arguments, runs) * 1000
        report[f"{kind} {channels}x{steps}"] = {
            "onnxruntime_ms": round(ort_ms, 3),
            "fused_ms": round(fused_ms, 3),
            "ratio": round(fused_ms / ort_ms, 3),
            "max_abs_difference": float(np.abs(got - want).max()),
        }
    return report


@dataclass
class Segment:
    """The kept vocoder version's sessions, and its generator's feeds for the test sentence
    (profile_vocoder's) made whole in one part."""

    version: Any
    split: Any
    frames: int
    feeds: dict[str, np.ndarray]


def kept_segment(options: Any = None) -> Segment:
    """The split's kept version (its first: fastest expected) on ``options``, after one
    run of the generator on the test sentence, whose feeds it keeps."""
    from benchmarks.profile_vocoder import PHONEMES
    from wyoming_kokoro.engine.session import SessionConfig
    from wyoming_kokoro.engine.split import DECODER_INPUTS, _cut_graph, load_parts
    from wyoming_kokoro.engine.synthesizer import KokoroModel
    from wyoming_kokoro.engine.voices import read_voices_file

    model_path = HOME / "kokoro-v1.0.int8.onnx"
    model = KokoroModel(model_path, SessionConfig(), ["cpu"], model_digest="native")
    style = read_voices_file(HOME / "voices-v1.0.bin")["af_heart"][len(PHONEMES)]
    feeds = model.feeds(PHONEMES, style, 1.0)
    version = _cut_graph(model_path)[0]
    split = load_parts(version, options)
    made = split._front(feeds)
    frames = int(made[DECODER_INPUTS[0]].shape[-1])
    style_feed = feeds[split._style]
    captured: dict[str, np.ndarray] = {}
    run = split.generator.run

    def capture(names: Any, generator_feeds: dict[str, np.ndarray], *rest: Any) -> Any:
        captured.update(generator_feeds)
        return run(names, generator_feeds, *rest)

    split.generator.run = capture  # the feeds as SplitSession makes them
    try:
        split._generate(split._mid(made, style_feed), style_feed, 0, frames)
    finally:
        split.generator.run = run
    return Segment(version, split, frames, captured)


def vocoder_sites(runs: int) -> dict[str, Any]:
    """The kept vocoder on the test sentence: its wall time per frame (median of
    ``runs``), and each kernel's time per run from onnxruntime's profile, attributed to a
    Snake site (by its ``Sin``), an AdaIN site (by its block), or the rest; each site with
    the shape of the tensor it works on."""
    import onnx

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = "/tmp/profile-native"
    segment = kept_segment(options)
    generator, frames = segment.split.generator, segment.frames
    walls = []
    for _ in range(runs):
        began = time.perf_counter()
        generator.run(None, segment.feeds)
        walls.append(time.perf_counter() - began)
    profile = Path(generator.end_profiling())
    events = [
        e
        for e in json.loads(profile.read_text())
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
    ]
    profile.unlink(missing_ok=True)
    site_of = site_map(onnx.load_from_string(segment.version.models[2]).graph)
    sites: dict[str, dict[str, Any]] = defaultdict(lambda: {"ms": 0.0, "shape": None})
    other = 0.0
    for event in events:
        node = event["name"].removesuffix("_kernel_time")
        ms = event["dur"] / 1000 / (runs + 1)  # and kept_segment's run
        if node not in site_of:
            other += ms
            continue
        key, kind, measured = site_of[node]
        sites[key]["ms"] += ms
        sites[key]["kind"] = kind
        if measured:  # the Sin, or the block's first ReduceMean: the site's tensor
            shape = event["args"]["input_type_shape"][0]["float"]
            sites[key]["shape"] = (int(shape[-2]), int(shape[-1]))
    return {
        "frames": frames,
        "wall_ms": float(np.median(walls)) * 1000,
        "other_ms": other,
        "sites": dict(sites),
    }


def site_map(graph: Any) -> dict[str, tuple[str, str, bool]]:
    """Node name -> (site, kind, whether its input is the site's tensor): the five nodes of
    each Snake (by its ``Sin``), the nodes of each ``adain`` block (AdaIN; its first
    ``ReduceMean`` reads the block's tensor)."""
    sites: dict[str, tuple[str, str, bool]] = {}
    for snake in find_snakes(graph):
        sin = snake.nodes[1]
        for node in snake.nodes:
            sites[node.name] = (sin.name, "snake", node is sin)
    for node in graph.node:
        if "/adain" not in node.name or node.name in sites:
            continue
        block = node.name[: node.name.index("/", node.name.index("/adain") + 1)]
        first = node.op_type == "ReduceMean" and not any(
            site == block and measured for site, _, measured in sites.values()
        )
        sites[node.name] = (block, "adain", first)
    return sites


class StagedGenerator:
    """The generator run as onnxruntime stages with each Snake between them done by
    ``snake(x, site)`` (a prototype: a shipped kernel would be a custom operator inside
    the graph; here each stage boundary also costs a session run). Tensors stay
    onnxruntime's between stages (``run_with_ort_values``; numpy views of them for the
    kernel: no copies). ``spinning``: the stages' threads spin between operators (the
    session default), which starves a kernel that runs on threads of its own."""

    def __init__(
        self,
        model: Any,
        snake: Any,
        feeds: dict[str, np.ndarray],
        spinning: bool = True,
    ) -> None:
        from onnx import helper

        graph = model.graph
        self.snake = snake
        self.snakes = find_snakes(graph)
        in_snake = {n.name: k for k, snake in enumerate(self.snakes) for n in snake.nodes}
        outputs = [o.name for o in graph.output]
        # Which stage each node runs in: the nodes between two Snakes, in graph order.
        stages: list[list[Any]] = [[]]
        self.after_stage: list[int | None] = []  # the Snake that follows each stage
        done: set[int] = set()
        for node in _topological(graph):
            if node.name in in_snake:
                k = in_snake[node.name]
                if k not in done:
                    done.add(k)
                    self.after_stage.append(k)
                    stages.append([])
                continue
            stages[-1].append(node)
        self.after_stage.append(None)
        produced_in = {
            o: index for index, nodes in enumerate(stages) for n in nodes for o in n.output
        }
        init = {i.name: i for i in graph.initializer}
        read_later: dict[int, set[str]] = defaultdict(set)  # per stage: its tensors read after it
        for index, nodes in enumerate(stages):
            for node in nodes:
                for name in node.input:
                    if name in produced_in and produced_in[name] < index:
                        read_later[produced_in[name]].add(name)
        for snake in self.snakes:
            if snake.x in produced_in:
                read_later[produced_in[snake.x]].add(snake.x)
        for name in outputs:
            if name in produced_in:
                read_later[produced_in[name]].add(name)
        # Types of every boundary tensor: one run of the whole generator that returns them.
        probe = helper.make_model(graph=graph, opset_imports=model.opset_import)
        probe.ir_version = model.ir_version
        crossing = set().union(*read_later.values(), *({t.x, t.output} for t in self.snakes))
        boundary = sorted(crossing - set(outputs) - set(feeds))
        probe.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in boundary)
        session = ort.InferenceSession(
            probe.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        values = dict(
            zip([o.name for o in probe.graph.output], session.run(None, feeds), strict=True)
        )
        values.update(feeds)
        self.sessions: list[Any] = []
        self.stage_inputs: list[list[str]] = []
        self.stage_outputs: list[list[str]] = []
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        for index, nodes in enumerate(stages):
            if not nodes:  # two Snakes in a row
                self.sessions.append(None)
                self.stage_inputs.append([])
                self.stage_outputs.append([])
                continue
            reads = {i for n in nodes for i in n.input if i}
            inputs = sorted(r for r in reads if r not in init and produced_in.get(r) != index)
            results = sorted(read_later[index])
            sub = helper.make_graph(
                nodes,
                f"stage{index}",
                [_value_info(n, values[n]) for n in inputs],
                [_value_info(n, values[n]) for n in results],
                [init[r] for r in sorted(reads) if r in init],
            )
            staged = helper.make_model(sub, opset_imports=model.opset_import)
            staged.ir_version = model.ir_version
            self.sessions.append(
                ort.InferenceSession(
                    staged.SerializeToString(), options, providers=["CPUExecutionProvider"]
                )
            )
            self.stage_inputs.append(inputs)
            self.stage_outputs.append(results)
        self.outputs = outputs

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        values = {n: ort.OrtValue.ortvalue_from_numpy(v) for n, v in feeds.items()}
        for index, session in enumerate(self.sessions):
            if session is not None:
                inputs = {n: values[n] for n in self.stage_inputs[index]}
                made = session.run_with_ort_values(self.stage_outputs[index], inputs)
                values.update(zip(self.stage_outputs[index], made, strict=True))
            k = self.after_stage[index]
            if k is not None:
                snake = self.snakes[k]
                y = self.snake(values[snake.x].numpy(), snake)
                values[snake.output] = ort.OrtValue.ortvalue_from_numpy(y)
        return [values[n].numpy() for n in self.outputs]


def fused_snake(lib: Any, threads: int) -> Any:
    """A staged generator's Snake on the compiled kernel, on ``threads`` threads."""

    def snake(x: np.ndarray, site: SnakeSite) -> np.ndarray:
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        lib.snake(
            _ptr(x), _ptr(site.alpha), _ptr(site.reciprocal), _ptr(y),
            x.shape[-2], x.shape[-1], threads,
        )  # fmt: skip
        return y

    return snake


def numpy_snake(rows: int = 8) -> Any:
    """A staged generator's Snake in numpy (its SIMD ``sin``; one thread), ``rows``
    channels at a time so that the five steps stay in the cache."""

    def snake(x: np.ndarray, site: SnakeSite) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1])
        alpha = site.alpha.reshape(-1, 1)
        reciprocal = site.reciprocal.reshape(-1, 1)
        y = np.empty_like(flat)
        scratch = np.empty((rows, flat.shape[1]), dtype=np.float32)
        for start in range(0, flat.shape[0], rows):
            part, out = flat[start : start + rows], scratch[: min(rows, len(flat) - start)]
            np.multiply(alpha[start : start + rows], part, out=out)
            np.sin(out, out=out)
            np.multiply(out, out, out=out)
            np.multiply(reciprocal[start : start + rows], out, out=out)
            np.add(part, out, out=y[start : start + rows])
        return y.reshape(x.shape)

    return snake


def _topological(graph: Any) -> list[Any]:
    """The graph's nodes, each after those whose outputs it reads (a rewritten graph's list
    need not be in that order), otherwise in the list's order."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    waiting = list(graph.node)
    ordered: list[Any] = []
    while waiting:
        ready = [n for n in waiting if all(i in known for i in n.input)]
        if not ready:
            raise ValueError("the graph has a cycle or reads a tensor nothing makes")
        ready_ids = {id(n) for n in ready}
        waiting = [n for n in waiting if id(n) not in ready_ids]
        for node in ready:
            ordered.append(node)
            known.update(node.output)
    return ordered


def _value_info(name: str, value: np.ndarray) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(value.dtype), [None] * value.ndim
    )


def end_to_end(lib: Any, runs: int) -> dict[str, Any]:
    """The kept generator against staged ones with their Snakes on other kernels, on the
    test sentence, timed in turn: ms per frame, and the audio's log-mel distance."""
    import onnx

    from wyoming_kokoro.engine.split import mel_difference

    segment = kept_segment()
    real_run, captured, frames = segment.split.generator.run, segment.feeds, segment.frames
    generator = onnx.load_from_string(segment.version.models[2])
    variants = {
        "compiled kernel, 1 thread": StagedGenerator(generator, fused_snake(lib, 1), captured),
        "compiled kernel, 2 threads, stages not spinning": StagedGenerator(
            generator, fused_snake(lib, 2), captured, spinning=False
        ),
        "numpy, 1 thread": StagedGenerator(generator, numpy_snake(), captured),
    }
    audio_name = segment.split.generator.get_outputs()[0].name
    want = real_run([audio_name], captured)[0].reshape(-1)
    kept: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):  # in turn, so that load on the machine falls on all
        kept.append(timed(real_run, ([audio_name], captured), 1))
        for name, staged in variants.items():
            time.sleep(0.05)
            times[name].append(timed(staged.run, (captured,), 1))
    kept_ms = float(np.median(kept)) * 1000 / frames
    report: dict[str, Any] = {
        "frames": frames,
        "snakes": len(next(iter(variants.values())).snakes),
        "stages": len(next(iter(variants.values())).sessions),
        "kept_ms_per_frame": round(kept_ms, 3),
        "staged": {},
    }
    for name, staged in variants.items():
        got = staged.run(captured)[staged.outputs.index(audio_name)].reshape(-1)
        ms = float(np.median(times[name])) * 1000 / frames
        report["staged"][name] = {
            "ms_per_frame": round(ms, 3),
            "ratio": round(ms / kept_ms, 3),
            "log_mel_db": round(mel_difference(want, got), 3) if len(got) == len(want) else None,
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also run the generator in stages with every Snake on the fused kernel",
    )
    args = parser.parse_args()
    staged = None
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            staged = end_to_end(build(Path(folder)), args.runs)
        print(
            f"generator in {staged['stages']} stages around its {staged['snakes']} Snakes, "
            f"against the kept one ({staged['kept_ms_per_frame']:.2f} ms/frame):"
        )
        for name, row in staged["staged"].items():
            print(
                f"  Snake on {name}: {row['ms_per_frame']:.2f} ms/frame ({row['ratio']:.2f}x), "
                f"audio {row['log_mel_db']} dB log-mel from the kept version's"
            )
        print()
    vocoder = vocoder_sites(max(3, args.runs // 2))
    shapes = {(site["kind"], *site["shape"]) for site in vocoder["sites"].values() if site["shape"]}
    with tempfile.TemporaryDirectory() as folder:
        chains = measure_chains(build(Path(folder)), shapes, args.runs)
    for name, row in chains.items():
        print(
            f"{name:18s} onnxruntime {row['onnxruntime_ms']:7.2f} ms  "
            f"fused {row['fused_ms']:6.2f} ms  ({row['ratio']:.2f}x)  "
            f"max |diff| {row['max_abs_difference']:.1e}"
        )
    per_kind: dict[str, list[float]] = {"snake": [0.0, 0.0], "adain": [0.0, 0.0]}
    for site in vocoder["sites"].values():
        if site["shape"] is None:
            vocoder["other_ms"] += site["ms"]
            continue
        ratio = chains[f"{site['kind']} {site['shape'][0]}x{site['shape'][1]}"]["ratio"]
        per_kind[site["kind"]][0] += site["ms"]
        per_kind[site["kind"]][1] += site["ms"] * ratio
    frames = vocoder["frames"]
    kernel = vocoder["other_ms"] + sum(ms for ms, _ in per_kind.values())
    fused_kernel = vocoder["other_ms"] + sum(fused for _, fused in per_kind.values())
    wall = vocoder["wall_ms"] / frames
    estimate = wall * fused_kernel / kernel
    print(
        f"\nkept vocoder, {frames} frames: {wall:.2f} ms/frame; kernel ms per frame: Snake "
        f"sites {per_kind['snake'][0] / frames:.2f} (fused {per_kind['snake'][1] / frames:.2f}),"
        f" AdaIN sites {per_kind['adain'][0] / frames:.2f} (fused "
        f"{per_kind['adain'][1] / frames:.2f}), the rest {vocoder['other_ms'] / frames:.2f}"
    )
    print(f"with the fused kernels: ~{estimate:.2f} ms/frame ({estimate / wall:.2f}x)")
    if args.json:
        report = {
            "chains": chains,
            "frames": frames,
            "ms_per_frame": round(wall, 3),
            "kernel_ms_per_frame": {
                "snake": round(per_kind["snake"][0] / frames, 3),
                "snake_fused": round(per_kind["snake"][1] / frames, 3),
                "adain": round(per_kind["adain"][0] / frames, 3),
                "adain_fused": round(per_kind["adain"][1] / frames, 3),
                "rest": round(vocoder["other_ms"] / frames, 3),
            },
            "estimate_ms_per_frame": round(estimate, 3),
            "estimate_ratio": round(estimate / wall, 3),
            "end_to_end": staged,
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
