"""Kokoro's int8 convolutions moved onto onnxruntime's fast integer kernels.

The kokoro-v1.0.int8 export quantizes its convolutions dynamically: each one's input is
quantized to uint8 at run time (DynamicQuantizeLinear) and ConvInteger multiplies it by
uint8 weights. onnxruntime's CPU matrix kernels are fast for uint8 × int8 products (one
instruction per four products on x86: VNNI, or pmaddubsw), and slower for uint8 × uint8.

:func:`rewrite_convolutions` turns each such 1-D ConvInteger into the same integer
arithmetic on the fast kernel:

- the quantized input is moved to int8 (x XOR 0x80 = x - 128), and so is its zero point:
  x - zero point, the only thing the product uses, is unchanged;
- it is unfolded into columns, padded with its zero point: a stride-1 convolution by
  repeating each channel once per tap and reading the copies as rows that each start
  ``dilation`` later (:func:`tiled_columns`: one copy of the input per tap, and a few
  columns past the output that the product drops); a strided one by one strided slice
  per tap, stacked (:func:`tap_columns`: two copies per tap);
- ``MatMulInteger(weights, columns)``: the uint8 weights (reshaped to output × input·taps
  in the columns' order) on the left, the int8 columns on the right; the int32 result is
  ConvInteger's.

Integer sums are exact, so the rewritten graph gives the same output, bit for bit.
Measured on this project's 2-core x86 machine (AVX-512 VNNI): the vocoder's 68 convolutions
made it 8.4 ms per frame, rewritten 6.65 (with slices; the repeated rows were 0.96x the
vocoder's time of the slices later). Other CPUs may differ: engine/split.py times both
vocoders once and keeps the faster (see ``open_split``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .graph import rebuild

_FLIP = "int8_rewrite/0x80"
_BATCH_AXIS = "int8_rewrite/axis0"
_TIME_AXIS = "int8_rewrite/axis1"
_LAST = np.iinfo(np.int64).max


def tap_columns(
    source: str,
    prefix: str,
    taps: int,
    dilation: int,
    stride: int,
    axis: int,
    time_axis: str,
    constant: Callable[[str, np.ndarray], str],
    nodes: list[Any],
) -> str:
    """A convolution's input ``source`` (already padded) as the columns of one matrix
    product: for each tap, the input from that tap's offset, every ``stride``-th step in
    time (a ``Slice`` along ``time_axis``), the taps stacked along ``axis`` (a ``Concat``);
    the input itself for one tap at stride 1. Appends the nodes to ``nodes``; ``constant``
    makes an initializer and returns its name."""
    from onnx import helper

    if taps == 1 and stride == 1:
        return source
    span = dilation * (taps - 1)
    step = constant(f"{prefix}stride", np.array([stride], dtype=np.int64))
    slices = []
    for tap in range(taps):
        start = tap * dilation
        stop = start - span if start < span else _LAST  # from the padded length
        sliced = f"{prefix}tap{tap}"
        starts = constant(f"{prefix}start{tap}", np.array([start], dtype=np.int64))
        stops = constant(f"{prefix}stop{tap}", np.array([stop], dtype=np.int64))
        nodes.append(
            helper.make_node(
                "Slice", [source, starts, stops, time_axis, step], [sliced], name=sliced
            )
        )
        slices.append(sliced)
    if taps == 1:
        return slices[0]
    columns = f"{prefix}columns"
    nodes.append(helper.make_node("Concat", slices, [columns], name=columns, axis=axis))
    return columns


def tiled_columns(
    source: str,
    prefix: str,
    channels: int,
    taps: int,
    dilation: int,
    constant: Callable[[str, np.ndarray], str],
    nodes: list[Any],
) -> tuple[str, int]:
    """A stride-1 convolution's padded input ``source`` (channels × P) as the columns of
    one matrix product, with one copy: each channel's row repeated ``taps`` times and
    ``taps · dilation`` more values (``Concat``), read as ``taps`` rows of P + dilation
    values (``Reshape``, free). Row j then starts j · dilation later in the input, so its
    value t is the input's t + j · dilation for every t below the output's length
    P - (taps - 1) · dilation; the last ``taps · dilation`` columns are not outputs, and
    the product's are dropped. Rows come channel by channel, taps within (the layout of
    the weights, output × input × tap). Returns the columns and how many to drop."""
    from onnx import helper

    width = taps * dilation
    tail = constant(f"{prefix}/tail", np.zeros((channels, width), dtype=np.int8))
    repeated, by_tap, rows = f"{prefix}/repeated", f"{prefix}/by_tap", f"{prefix}/rows"
    nodes.append(
        helper.make_node("Concat", [source] * taps + [tail], [repeated], name=repeated, axis=1)
    )
    per_tap = constant(f"{prefix}/tap_shape", np.array([channels, taps, -1], dtype=np.int64))
    nodes.append(helper.make_node("Reshape", [repeated, per_tap], [by_tap], name=by_tap))
    flat = constant(f"{prefix}/rows_shape", np.array([channels * taps, -1], dtype=np.int64))
    nodes.append(helper.make_node("Reshape", [by_tap, flat], [rows], name=rows))
    return rows, width


def rewrite_convolutions(model: Any, tiled: bool = True) -> int:
    """Rewrite ``model``'s dynamically quantized 1-D convolutions (see the module's
    docstring) in place; returns how many. Needs opset 18 (BitwiseXor); a model below it,
    and any convolution of another shape (2-D, grouped, auto-padded, per-channel weight
    zero points, an input not from DynamicQuantizeLinear), is left as it is. The rewritten
    convolutions take one item per batch (Kokoro runs one). ``tiled=False`` unfolds
    stride-1 convolutions with slices too (benchmarks/profile_vocoder.py compares)."""
    from onnx import TensorProto, helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 18:
        return 0
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    added: list[Any] = []

    def constant(name: str, value: np.ndarray) -> str:
        if name not in initializers:
            tensor = numpy_helper.from_array(value, name)
            initializers[name] = tensor
            added.append(tensor)
        return name

    def quantized(name: str, output: int) -> bool:
        node = producers.get(name)
        return (
            node is not None
            and node.op_type == "DynamicQuantizeLinear"
            and list(node.output).index(name) == output
        )

    signed: dict[str, str] = {}  # uint8 tensor -> the same values minus 128, as int8

    def to_int8(name: str, nodes: list[Any]) -> str:
        if name not in signed:
            flipped, cast = f"{name}/xor80", f"{name}/int8"
            nodes.append(helper.make_node("BitwiseXor", [name, _FLIP], [flipped], name=flipped))
            to = TensorProto.INT8
            nodes.append(helper.make_node("Cast", [flipped], [cast], name=cast, to=to))
            signed[name] = cast
        return signed[name]

    constant(_FLIP, np.array(0x80, dtype=np.uint8))
    constant(_BATCH_AXIS, np.array([0], dtype=np.int64))
    constant(_TIME_AXIS, np.array([1], dtype=np.int64))
    replaced: dict[int, list[Any]] = {}
    for index, node in enumerate(graph.node):
        if node.op_type != "ConvInteger" or len(node.input) != 4:
            continue
        x, w, x_zero, w_zero = node.input
        if w not in initializers or w_zero not in initializers:
            continue
        if not (quantized(x, 0) and quantized(x_zero, 2)):
            continue
        weights = numpy_helper.to_array(initializers[w])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        if (
            weights.dtype != np.uint8
            or weights.ndim != 3
            or numpy_helper.to_array(initializers[w_zero]).size != 1
            or attrs.get("group", 1) != 1
            or auto_pad not in (b"NOTSET", "NOTSET")
        ):
            continue
        outputs, inputs, taps = weights.shape
        dilation = int(attrs.get("dilations", [1])[0])
        stride = int(attrs.get("strides", [1])[0])
        before, after = (int(p) for p in attrs.get("pads", [0, 0]))
        base = node.name or node.output[0]
        nodes: list[Any] = []
        x8, zero8 = to_int8(x, nodes), to_int8(x_zero, nodes)
        source = f"{base}/channels_by_time"
        nodes.append(helper.make_node("Squeeze", [x8, _BATCH_AXIS], [source], name=source))
        if before or after:
            pads = constant(f"{base}/pads", np.array([0, before, 0, after], dtype=np.int64))
            padded = f"{base}/padded"
            nodes.append(helper.make_node("Pad", [source, pads, zero8], [padded], name=padded))
            source = padded
        if tiled and stride == 1 and taps > 1:
            rows, width = tiled_columns(source, base, inputs, taps, dilation, constant, nodes)
            # Rows are channel by channel, each channel's taps together: the weights'
            # own layout.
            matrix = np.ascontiguousarray(weights.reshape(outputs, inputs * taps))
        else:
            rows = tap_columns(
                source, f"{base}/", taps, dilation, stride, 0, _TIME_AXIS, constant, nodes
            )
            # Columns are stacked tap by tap: the weights' rows follow the same order.
            matrix = np.ascontiguousarray(
                weights.transpose(0, 2, 1).reshape(outputs, taps * inputs)
            )
            width = 0
        product = f"{base}/product"
        wide = f"{base}/wide" if width else product
        nodes.append(
            helper.make_node(
                "MatMulInteger",
                [constant(f"{base}/weights", matrix), rows, w_zero, zero8],
                [wide],
                name=wide,
            )
        )
        if width:  # the columns past the output's length are dropped
            starts = constant(f"{base}/from", np.array([0], dtype=np.int64))
            ends = constant(f"{base}/to", np.array([-width], dtype=np.int64))
            nodes.append(
                helper.make_node("Slice", [wide, starts, ends, _TIME_AXIS], [product], name=product)
            )
        nodes.append(
            helper.make_node(
                "Unsqueeze", [product, _BATCH_AXIS], [node.output[0]], name=f"{base}/batch"
            )
        )
        replaced[index] = nodes
    if not replaced:
        return 0
    rebuild(graph, replaced)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + [t for t in added if t.name in used])
    return len(replaced)
