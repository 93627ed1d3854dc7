"""A float stand-in for upstream's fp32 Kokoro model, made from the int8 export.

    .venv/bin/python -m benchmarks.float_models [--model INT8] [--out DIR]

Upstream's ``kokoro-v1.0.onnx`` (fp32) and ``kokoro-v1.0.fp16.onnx`` need the internet;
the int8 export is here. It is the fp32 graph with its convolutions, matrix products and
LSTMs quantized dynamically, so turning each quantized operator back into its float one,
on its weights dequantized ((w - zero point) · scale), gives the fp32 graph: the same
operators and shapes, so the same work per frame; only the weights' values differ from
upstream's by their 8-bit rounding (its speech is heard the same: whisper writes the
same words as for the int8 export). Written to ``DIR/kokoro-v1.0.dequantized.onnx``:
``DynamicQuantizeLinear → ConvInteger → Add(quantized bias) → Cast → Mul(scales)`` as
``Conv`` with its float bias, ``MatMulInteger`` chains as ``MatMul``,
``DynamicQuantizeLSTM`` as ``LSTM``, quantized embeddings as float ones.

No float16 stand-in: onnxconverter-common's conversion of it (inputs and outputs kept
float32) runs, but what it says is noise to whisper, so it is not upstream's fp16 model
(which keeps some parts in float32, which ones is not known here); keeping the
harmonic source's, STFT's and the normalizations' operators in float32 made a graph
onnxruntime refuses.

For measurements only (benchmarks/profile_vocoder.py ``--model``): not a model to ship.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from wyoming_kokoro.engine.graph import GraphIndex, rebuild

HOME = Path.home() / ".local/share/wyoming-kokoro"


def dequantize(model: Any) -> dict[str, int]:
    """Rewrite ``model``'s dynamically quantized operators as float ones, in place;
    returns how many of each kind."""
    from onnx import helper, numpy_helper

    graph = model.graph
    index = GraphIndex.of(graph)
    init, made, only_reader = index.initializers, index.producers, index.only
    position = {id(node): i for i, node in enumerate(graph.node)}

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(init[name])

    floated: dict[str, str] = {}  # a quantized weight -> its float one (ALBERT shares them)

    def add(name: str, value: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(value, name))
        init[name] = graph.initializer[-1]
        return name

    def once(quantized: str, value: np.ndarray) -> str:
        if quantized not in floated:
            floated[quantized] = add(f"{quantized}/float", value)
        return floated[quantized]

    def float_input(name: str) -> str:
        quantizer = made[name]
        if quantizer.op_type != "DynamicQuantizeLinear":
            raise ValueError(f"{name} is not quantized at run time")
        return str(quantizer.input[0])

    def epilogue(node: Any) -> tuple[list[Any], str, str | None]:
        """The integer product's float epilogue: the nodes to drop, the float output, and
        the float bias (a ConvInteger's, quantized at run time from it: the Add's second
        input is Reshape(Cast(Floor(Div(bias, scale)))))."""
        bias, after = None, node.output[0]
        dropped = []
        tail = only_reader(after, "Add")
        if tail is not None:
            step = made[tail.input[1]]
            while step.op_type != "Div":
                step = made[step.input[0]]
            bias = str(step.input[0])
            dropped.append(tail)
            after = tail.output[0]
        cast = only_reader(after, "Cast")
        mul = only_reader(cast.output[0], "Mul") if cast is not None else None
        if mul is None:
            raise ValueError(f"{node.name}: no float epilogue")
        return [*dropped, cast, mul], str(mul.output[0]), bias

    def float_weights(node: Any, mul: Any) -> np.ndarray:
        """(w - zero point) · weight scale; the scale is the initializer that the
        epilogue's scale (input scale · weight scale) is made from."""
        product = made[mul.input[1]]
        scale = array(next(i for i in product.input if i in init))
        q = array(node.input[1]).astype(np.int32) - array(node.input[3]).astype(np.int32)
        if node.op_type == "ConvInteger" and scale.ndim == 1:  # per output channel
            scale = scale.reshape(-1, 1, 1)
        return (q * scale).astype(np.float32)

    replaced: dict[int, list[Any]] = {}  # the position of an old node -> its float node
    removed: set[int] = set()
    counts = {"Conv": 0, "MatMul": 0, "LSTM": 0, "Gather": 0}
    for node in list(graph.node):
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            dropped, output, bias = epilogue(node)
            inputs = [
                float_input(node.input[0]),
                once(node.input[1], float_weights(node, dropped[-1])),
            ]
            kind = "Conv" if node.op_type == "ConvInteger" else "MatMul"
            if bias is not None:
                if kind == "MatMul":
                    raise ValueError(f"{node.name}: a quantized bias after a product")
                inputs.append(bias)
            floated_node = helper.make_node(kind, inputs, [output], name=f"{node.output[0]}/float")
            floated_node.attribute.extend(node.attribute)
            replaced[position[id(node)]] = [floated_node]
            removed.update(position[id(old)] for old in dropped)
            counts[kind] += 1
        elif node.op_type == "DynamicQuantizeLSTM":
            inputs = list(node.input[:8])
            inputs[1] = add(f"{node.name}/float_w", lstm_weights(node, 1, array))
            inputs[2] = add(f"{node.name}/float_r", lstm_weights(node, 2, array))
            while inputs and not inputs[-1]:
                inputs.pop()
            lstm = helper.make_node(
                "LSTM", inputs, list(node.output), name=f"{node.output[0]}/float"
            )
            lstm.attribute.extend(node.attribute)
            replaced[position[id(node)]] = [lstm]
            counts["LSTM"] += 1
        elif node.op_type == "DequantizeLinear" and made.get(node.input[0]) is not None:
            gather = made[node.input[0]]
            if gather.op_type != "Gather" or node.input[0] not in [*gather.output]:
                continue
            table = array(gather.input[0]).astype(np.int32)
            zero = array(node.input[2]).astype(np.int32) if len(node.input) > 2 else 0
            w = ((table - zero) * array(node.input[1])).astype(np.float32)
            table_node = helper.make_node(
                "Gather",
                [add(f"{gather.name}/float_table", w), gather.input[1]],
                [node.output[0]],
                name=f"{gather.output[0]}/float",
            )
            table_node.attribute.extend(gather.attribute)
            replaced[position[id(gather)]] = [table_node]
            removed.add(position[id(node)])
            counts["Gather"] += 1
    rebuild(graph, replaced, removed)
    _drop_unused(model)
    return counts


def lstm_weights(node: Any, index: int, array: Any) -> np.ndarray:
    """A DynamicQuantizeLSTM's input (1) or recurrence (2) weights as LSTM's: dequantized
    per direction, (directions, inputs, 4·hidden) turned to (directions, 4·hidden, inputs).
    Its scales and zero points are inputs 8, 9 (W) and 10, 11 (R)."""
    q = array(node.input[index]).astype(np.int32)
    scale = array(node.input[6 + 2 * index])
    zero = array(node.input[7 + 2 * index]).astype(np.int32)
    w = (q - zero[:, None, None]) * scale[:, None, None]
    return np.ascontiguousarray(w.transpose(0, 2, 1)).astype(np.float32)


def _drop_unused(model: Any) -> None:
    """Remove the nodes and initializers that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=HOME / "kokoro-v1.0.int8.onnx")
    parser.add_argument("--out", type=Path, default=Path("/tmp/kokoro-float"))
    args = parser.parse_args()
    model = onnx.load(str(args.model))
    counts = dequantize(model)
    args.out.mkdir(parents=True, exist_ok=True)
    fp32 = args.out / "kokoro-v1.0.dequantized.onnx"
    onnx.save(model, str(fp32))
    print(f"{fp32}: {counts}")


if __name__ == "__main__":
    main()
