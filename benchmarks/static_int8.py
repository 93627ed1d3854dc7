"""Static int8 for the vocoder's largest convolutions: measured for speed and fidelity
(issue 22), not built by the server.

The export quantizes each convolution's input at run time (``DynamicQuantizeLinear``) and
keeps asymmetric uint8 weights (zero points 60-76). This script replaces the generator's
128-channel convolutions (the most frames, most of the convolution time) by onnxruntime's
static ``QLinearConv``: the input and output ranges calibrated on the voices' own audio
(min and max over a few segments and voices), the weights requantized per output channel
to symmetric int8 (onnxruntime's fast uint8 × int8 path; with the export's uint8 weights
``QLinearConv`` runs on the uint8 × uint8 kernel, 1.8-2.2x slower per convolution than
the server's integer kernels). Then it times the generator against the server's version
on one segment and measures both against the export's audio on segments and voices not
used for calibration (log-mel, benchmarks/fidelity.py's measure on the same length).

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.static_int8 [--channels 256] [--json F]
    flock /tmp/bench.lock .venv/bin/python -m benchmarks.static_int8 --single   # one conv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from wyoming_kokoro.engine.exact import rewrite_epilogues, rewrite_squares
from wyoming_kokoro.engine.graph import GraphIndex
from wyoming_kokoro.engine.int8 import rewrite_convolutions
from wyoming_kokoro.engine.session import SessionConfig
from wyoming_kokoro.engine.split import (
    DECODER_INPUTS,
    cut_model,
    load_parts,
    make_version,
    mel_difference,
)
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import read_voices_file

HOME = Path.home() / ".local/share/wyoming-kokoro"
CALIBRATION = [
    ("af_heart", "ðə lˈIvɪŋ ɹˈum lˈIts ɑɹ ˈɔn, ænd ðə fɹˈʌnt dˈɔɹ ɪz lˈɑkt."),
    ("am_michael", "təmˈɑɹO lˈʊks sˈʌni wɪð ɐ lˈIt bɹˈiz fɹʌm ðə wˈɛst."),
    ("bf_emma", "ðə kˈɪʧən wˈɪndO ɪz stˈɪl ˈOpən, sO jˈu mˌIt wˈɑnt tə klˈOz ɪt."),
    ("af_bella", "wˈʌn, tˈu, θɹˈi: ˈɔl ðə lˈæmps ɑɹ ˈɔf nˈW."),
]
HELD_OUT = [
    ("af_heart", "ðə mˈitɪŋ stˈɑɹts æt θɹˈi ɪn ðɪ ˌæftəɹnˈun, ɑn ðə sˈɛkənd flˈɔɹ."),
    ("am_adam", "ðə dɹˈIəɹ ʃˌʊd bi dˈʌn ɪn ɹˈʌfli hˈæf ɐn ˈWəɹ."),
    ("af_nicole", "ɪts twˈɛnti wˈʌn dɪɡɹˈiz ɪn ðə lˈIvɪŋ ɹˈum ɹˌIt nˈW."),
]


def targets(decoder: Any, channels: int) -> list[dict[str, Any]]:
    """The generator's dynamically quantized convolutions with ``channels`` outputs, in
    the export's shape: DynamicQuantizeLinear → ConvInteger → Add(bias) → Cast → Mul."""
    index = GraphIndex.of(decoder.graph)
    found = []
    for node in decoder.graph.node:
        if node.op_type != "ConvInteger":
            continue
        weights = index.value(node.input[1])
        zero = index.value(node.input[3])
        quantizer = index.producers.get(node.input[0])
        if weights is None or zero is None or weights.shape[0] != channels or quantizer is None:
            continue
        add = index.only(node.output[0], "Add")
        cast = None if add is None else index.only(add.output[0], "Cast")
        scale = None if cast is None else index.only(cast.output[0], "Mul")
        if add is None or cast is None or scale is None:
            continue
        if quantizer.op_type != "DynamicQuantizeLinear":
            continue
        reshape = index.producers[next(i for i in add.input if i != node.output[0])]
        floor = index.producers[index.producers[reshape.input[0]].input[0]]
        divide = index.producers[floor.input[0]]
        bias = index.value(divide.input[0])
        attrs = {a.name: a for a in node.attribute}
        found.append(
            {
                "conv": node,
                "x": quantizer.input[0],
                "y": scale.output[0],
                "weights": weights,
                "zero": int(zero),
                "weight_scale": weight_scale(index, scale, cast.output[0], quantizer),
                "bias": bias,
                "attrs": attrs,
            }
        )
    return found


def weight_scale(index: GraphIndex, scale: Any, converted: str, quantizer: Any) -> float:
    """The weight scale: besides the input's, the factor of the scale the epilogue uses."""
    product = index.producers[next(i for i in scale.input if i != converted)]
    factor = index.value(next(i for i in product.input if i != quantizer.output[1]))
    assert factor is not None
    return float(factor)


def calibrate(decoder: Any, found: list[dict[str, Any]], feeds: list[dict]) -> None:
    """Each target's input and output range over the calibration segments."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(decoder)
    names = [n for t in found for n in (t["x"], t["y"])]
    for name in names:
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for feed in feeds:
        for name, value in zip(names, session.run(names, feed), strict=True):
            lows[name] = min(lows.get(name, 0.0), float(value.min()))
            highs[name] = max(highs.get(name, 0.0), float(value.max()))
    for target in found:
        target["x_range"] = (lows[target["x"]], highs[target["x"]])
        target["y_range"] = (lows[target["y"]], highs[target["y"]])


def make_static(decoder: Any, found: list[dict[str, Any]]) -> int:
    """Replace each target by QuantizeLinear → QLinearConv → DequantizeLinear, in place."""
    from onnx import helper, numpy_helper

    graph = decoder.graph
    made: dict[str, list[Any]] = {}
    for number, target in enumerate(found):
        base = f"static/{number}"

        def asymmetric(low: float, high: float) -> tuple[float, int]:
            scale = (high - low) / 255 or 1.0
            return scale, int(np.clip(round(-low / scale), 0, 255))

        x_scale, x_zero = asymmetric(*target["x_range"])
        y_scale, y_zero = asymmetric(*target["y_range"])
        real = (target["weights"].astype(np.float32) - target["zero"]) * target["weight_scale"]
        per_channel = np.abs(real).reshape(real.shape[0], -1).max(axis=1) / 127
        per_channel[per_channel == 0] = 1.0
        weights = np.clip(np.round(real / per_channel[:, None, None]), -127, 127).astype(np.int8)
        bias = np.round(target["bias"] / (x_scale * per_channel)).astype(np.int32)
        constants = {
            f"{base}/xs": np.array(x_scale, np.float32),
            f"{base}/xz": np.array(x_zero, np.uint8),
            f"{base}/w": weights,
            f"{base}/ws": per_channel.astype(np.float32),
            f"{base}/wz": np.zeros(weights.shape[0], np.int8),
            f"{base}/ys": np.array(y_scale, np.float32),
            f"{base}/yz": np.array(y_zero, np.uint8),
            f"{base}/b": bias,
        }
        graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
        attrs = {k: helper.get_attribute_value(v) for k, v in target["attrs"].items()}
        made[target["y"]] = [
            helper.make_node("QuantizeLinear", [target["x"], f"{base}/xs", f"{base}/xz"],
                             [f"{base}/xq"]),
            helper.make_node(
                "QLinearConv",
                [f"{base}/xq", f"{base}/xs", f"{base}/xz", f"{base}/w", f"{base}/ws",
                 f"{base}/wz", f"{base}/ys", f"{base}/yz", f"{base}/b"],
                [f"{base}/yq"],
                **{k: v for k, v in attrs.items() if k in ("dilations", "pads", "strides",
                                                          "kernel_shape", "group")},
            ),
            helper.make_node("DequantizeLinear", [f"{base}/yq", f"{base}/ys", f"{base}/yz"],
                             [target["y"]]),
        ]  # fmt: skip
    rebuilt = []
    for node in graph.node:
        if node.output and node.output[0] in made:
            rebuilt.extend(made[node.output[0]])
        else:
            rebuilt.append(node)
    del graph.node[:]
    graph.node.extend(rebuilt)
    return len(made)


def single_convolutions(runs: int) -> dict[str, Any]:
    """One convolution alone, the server's integer kernels against static QLinearConv
    (with its QuantizeLinear and DequantizeLinear), on the export's uint8 weights and on
    symmetric int8 ones: best ms of ``runs``."""
    from onnx import TensorProto, helper, numpy_helper

    from tests.test_int8_float import conv_model

    def best(model: Any, x: np.ndarray) -> float:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])  # fmt: skip
        session.run(None, {"x": x})
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            session.run(None, {"x": x})
            times.append(time.perf_counter() - began)
        return round(min(times) * 1000, 2)

    rng = np.random.default_rng(0)
    results: dict[str, Any] = {}
    for channels, taps, dilation, steps in ((128, 7, 3, 33000), (128, 11, 5, 33000),
                                             (256, 3, 1, 5500)):  # fmt: skip
        pad = dilation * (taps - 1) // 2
        weights = rng.integers(0, 256, (channels, channels, taps), dtype=np.uint8)
        ours = conv_model(taps, dilation=dilation, pads=(pad, pad), channels=channels,
                          outputs=channels, weights=weights, weight_zero=64)  # fmt: skip
        rewrite_convolutions(ours)
        rewrite_epilogues(ours)
        x = rng.normal(0, 1, (1, channels, steps)).astype(np.float32)
        row = {"integer kernels": best(ours, x)}
        for name, w, zero in (
            ("static, uint8 weights", weights, np.array(64, np.uint8)),
            ("static, symmetric int8 weights", (weights.astype(np.int16) - 128).astype(np.int8),
             np.array(0, np.int8)),
        ):  # fmt: skip
            constants: dict[str, np.ndarray] = {
                "xs": np.array(8 / 255, np.float32),
                "xz": np.array(128, np.uint8),
                "w": w,
                "ws": np.array(0.004, np.float32),
                "wz": zero,
                "ys": np.array(0.05, np.float32),
                "yz": np.array(128, np.uint8),
                "b": np.zeros(channels, np.int32),
            }
            nodes = [
                helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
                helper.make_node("QLinearConv",
                                 ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                                 ["yq"], kernel_shape=[taps], dilations=[dilation],
                                 pads=[pad, pad]),
                helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
            ]  # fmt: skip
            graph = helper.make_graph(
                nodes, "static",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, None])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                [numpy_helper.from_array(v, k) for k, v in constants.items()],
            )  # fmt: skip
            static = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
            static.ir_version = 9
            row[name] = best(static, x)
        label = f"{channels} channels, {taps} taps, dilation {dilation}, {steps} steps"
        results[label] = row
        print(label, row)
    return results


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=HOME / "kokoro-v1.0.int8.onnx")
    parser.add_argument("--voices", type=Path, default=HOME / "voices-v1.0.bin")
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--single", action="store_true", help="time single convolutions only (synthetic)"
    )
    args = parser.parse_args()
    if args.single:
        timed = single_convolutions(10)
        if args.json:
            args.json.write_text(json.dumps(timed, indent=1))
        return
    model = KokoroModel(args.model, SessionConfig(), ["cpu"], model_digest="static")
    voices = read_voices_file(args.voices)
    front, exported = cut_model(args.model)

    kept_front, kept = onnx.ModelProto(), onnx.ModelProto()
    kept_front.CopyFrom(front)
    kept.CopyFrom(exported)
    rewrite_convolutions(kept)
    rewrite_convolutions(kept_front)
    for part in (kept, kept_front):
        rewrite_epilogues(part)
        rewrite_squares(part)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    reference = load_parts(make_version("as exported", front, exported), options)

    def decoder_feeds(voice: str, phonemes: str) -> dict[str, np.ndarray]:
        feeds = model.feeds(phonemes, voices[voice][len(phonemes)], 1.0)
        made = reference._front(feeds)
        out = {name: made[name] for name in DECODER_INPUTS}
        out[reference._style] = feeds[reference._style]
        return out

    static = onnx.ModelProto()
    static.CopyFrom(exported)
    found = targets(static, args.channels)
    calibrate(static, found, [decoder_feeds(v, p) for v, p in CALIBRATION])
    replaced = make_static(static, found)
    rewrite_convolutions(static)  # the other convolutions as the server makes them
    rewrite_epilogues(static)
    rewrite_squares(static)
    versions = {
        "kept (int8 kernels + exact rewrites)": load_parts(
            make_version("kept", kept_front, kept), options
        ),
        f"static int8 on {replaced} convolutions": load_parts(
            make_version("static", kept_front, static), options
        ),
    }
    report: dict[str, Any] = {"static_convolutions": replaced, "versions": {}}
    for name, session in versions.items():
        distances = []
        for voice, phonemes in HELD_OUT:
            feeds = model.feeds(phonemes, voices[voice][len(phonemes)], 1.0)
            want = reference.run(None, feeds)[0]
            got = session.run(None, feeds)[0]
            distances.append(round(mel_difference(want, got), 3) if len(got) == len(want) else None)
        feeds = model.feeds(CALIBRATION[0][1] + " " + HELD_OUT[0][1], voices["af_heart"][100], 1.0)
        made = session._front(feeds)
        frames = int(made[DECODER_INPUTS[0]].shape[-1])
        style = feeds[session._style]
        mid = session._mid(made, style)
        session._generate(mid, style, 0, frames)
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            session._generate(mid, style, 0, frames)
            times.append((time.perf_counter() - began) / frames * 1000)
        report["versions"][name] = {
            "ms_per_frame_median": round(float(np.median(times)), 3),
            "frames": frames,
            "log_mel_db_vs_exported_held_out": distances,
        }
        print(f"{name}: {np.median(times):.2f} ms/frame ({frames} frames), "
              f"log-mel vs exported on held-out segments {distances}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
