"""Kokoro's int8 convolutions as ``MatMulIntegerToFloat``: the product, its scale and its
bias in one kernel, on weights converted once.

The export's convolution is ``DynamicQuantizeLinear → ConvInteger → Add(quantized bias)
→ Cast(float) → Mul(input scale · weight scale)``; engine/int8.py keeps that epilogue
(three passes over the int32/float output) and converts the quantized input to int8 at
run time (``BitwiseXor``, ``Cast``) so that the weights can stay uint8 on the left.

:func:`rewrite_convolutions_to_float` turns the layout around, time by channels, so that
the weights are the right-hand matrix that onnxruntime's ``MatMulIntegerToFloat``
(com.microsoft, CPU) packs once at load:

- the uint8 input, transposed to time × channels (one byte per value), padded with its
  zero point, one strided slice per kernel tap, stacked along the channels: the columns;
- the uint8 weights moved to int8 offline (w XOR 0x80 = w - 128, their zero point too:
  w - zero point is unchanged), as a taps·input × output matrix: onnxruntime's fast
  uint8 × int8 kernel;
- ``MatMulIntegerToFloat(columns, weights, input scale, weight scale, zero points,
  bias)``, where the bias is the export's quantized bias times the same scale (a vector),
  then transposed back to channels × time.

The integer product is exact; what differs from the export is the float epilogue's
rounding: (acc + qbias)·s becomes acc·s + qbias·s (the tests bound it: 2^-21 of the
output's scale on synthetic graphs).

Not in the split's versions (engine/split.py): on this project's 2-core x86 machine the
68 rewritten convolutions were slower than engine/int8.py's (8.41 against 8.26 ms/frame
of CPU time on one thread, with fused AdaIN, medians of 7): the product costs the same,
and the two transposes and the concatenation along the last axis (~9 % and ~7 % of the
vocoder) cost more than the epilogue and conversions they save.
``benchmarks/profile_vocoder.py --steps`` measures it again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from .graph import GraphIndex
from .int8 import tap_columns

_MS = "com.microsoft"
_TO_TIME = [0, 2, 1]
_FLAT = "int8_float/flat"
_TIME_AXIS = "int8_float/axis1"


def rewrite_convolutions_to_float(model: Any) -> int:
    """Rewrite ``model``'s dynamically quantized 1-D convolutions and their float epilogue
    (see the module's docstring) in place; returns how many. A convolution of another
    shape (2-D, grouped, auto-padded, per-channel weight zero points or scales, an input
    not from DynamicQuantizeLinear) or whose epilogue is not the export's is left as it
    is. The rewritten convolutions take one item per batch (Kokoro runs one)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    index = GraphIndex.of(graph)
    initializers, producers = index.initializers, index.producers
    added: list[Any] = []

    def constant(name: str, value: np.ndarray) -> str:
        if name not in initializers:
            tensor = numpy_helper.from_array(value, name)
            initializers[name] = tensor
            added.append(tensor)
        return name

    value, only = index.value, index.only

    def other(node: Any, known: str) -> str | None:
        if len(node.input) != 2 or known not in node.input:
            return None
        a, b = node.input
        return b if a == known else a

    transposed: dict[str, str] = {}  # quantized input -> the same, time by channels
    following: dict[int, list[Any]] = defaultdict(list)  # nodes placed after node i

    def by_time(name: str) -> str:
        """The quantized input, transposed once, right after its quantizer (convolutions
        may share it)."""
        if name not in transposed:
            out = f"{name}/by_time"
            node = helper.make_node("Transpose", [name], [out], name=out, perm=_TO_TIME)
            following[index_of[id(producers[name])]].append(node)
            transposed[name] = out
        return transposed[name]

    constant(_FLAT, np.array([-1], dtype=np.int64))
    constant(_TIME_AXIS, np.array([1], dtype=np.int64))
    removed: set[int] = set()
    replaced: dict[int, list[Any]] = {}
    index_of = {id(node): i for i, node in enumerate(graph.node)}
    for conv in graph.node:
        if conv.op_type != "ConvInteger" or len(conv.input) != 4:
            continue
        x, w, x_zero, w_zero = conv.input
        weights, weight_zero = value(w), value(w_zero)
        if weights is None or weight_zero is None:
            continue
        quantizer = producers.get(x)
        if (
            quantizer is None
            or quantizer.op_type != "DynamicQuantizeLinear"
            or list(quantizer.output).index(x) != 0
            or quantizer.output[2] != x_zero
        ):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if (
            weights.dtype != np.uint8
            or weights.ndim != 3
            or weight_zero.size != 1
            or attrs.get("group", 1) != 1
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
        ):
            continue
        # The epilogue: [Add(quantized bias)] → Cast(float) → Mul(input scale · weight scale).
        chain = [conv]
        quantized_bias = None
        add = only(conv.output[0], "Add")
        if add is not None:
            quantized_bias = other(add, conv.output[0])
            chain.append(add)
        cast = only(chain[-1].output[0], "Cast")
        if cast is None or helper.get_attribute_value(cast.attribute[0]) != TensorProto.FLOAT:
            continue
        scale = only(cast.output[0], "Mul")
        if scale is None:
            continue
        chain += [cast, scale]
        multiplier = other(scale, cast.output[0])
        factors = producers.get(multiplier or "")
        if factors is None or factors.op_type != "Mul":
            continue
        weight_scale = other(factors, quantizer.output[1])
        scale_value = None if weight_scale is None else value(weight_scale)
        if scale_value is None or scale_value.size != 1 or multiplier is None:
            continue
        outputs_, inputs, taps = weights.shape
        if quantized_bias is not None:
            shaper = producers.get(quantized_bias)
            target = None if shaper is None or shaper.op_type != "Reshape" else value(
                shaper.input[1]
            )  # fmt: skip
            # One value per output channel: [1, C, 1], as the export has it ([1, -1, 1]).
            wide = [] if target is None else [int(d) for d in target.reshape(-1) if d != 1]
            if target is None or wide not in ([outputs_], [-1]):
                continue
        dilation = int(attrs.get("dilations", [1])[0])
        stride = int(attrs.get("strides", [1])[0])
        before, after = (int(p) for p in attrs.get("pads", [0, 0]))
        base = conv.name or conv.output[0]
        nodes: list[Any] = []
        source = by_time(x)
        if before or after:
            pads = constant(f"{base}/pads", np.array([0, before, 0, 0, after, 0], dtype=np.int64))
            padded = f"{base}/padded"
            nodes.append(helper.make_node("Pad", [source, pads, x_zero], [padded], name=padded))
            source = padded
        columns = tap_columns(
            source, f"{base}/", taps, dilation, stride, 2, _TIME_AXIS, constant, nodes
        )
        # Columns are stacked tap by tap along the channels: the weights' rows follow.
        signed = (weights ^ np.uint8(0x80)).view(np.int8)
        matrix = np.ascontiguousarray(signed.transpose(2, 1, 0).reshape(taps * inputs, outputs_))
        zero8 = (weight_zero.reshape(()) ^ np.uint8(0x80)).view(np.int8)
        operands = [
            columns,
            constant(f"{base}/weights_int8", matrix),
            quantizer.output[1],
            weight_scale,
            x_zero,
            constant(f"{base}/weight_zero_int8", np.array(zero8, dtype=np.int8)),
        ]
        if quantized_bias is not None:
            flat, cast_bias, bias = (f"{base}/bias_{s}" for s in ("flat", "float", "scaled"))
            nodes.append(helper.make_node("Reshape", [quantized_bias, _FLAT], [flat], name=flat))
            nodes.append(
                helper.make_node("Cast", [flat], [cast_bias], name=cast_bias, to=TensorProto.FLOAT)
            )
            nodes.append(helper.make_node("Mul", [cast_bias, multiplier], [bias], name=bias))
            operands.append(bias)
        product = f"{base}/product_by_time"
        nodes.append(
            helper.make_node("MatMulIntegerToFloat", operands, [product], name=product, domain=_MS)
        )
        nodes.append(
            helper.make_node(
                "Transpose", [product], [scale.output[0]], name=f"{base}/by_channel", perm=_TO_TIME
            )
        )
        positions = [index_of[id(n)] for n in chain]
        removed.update(positions)
        replaced[max(positions)] = nodes
    if not replaced:
        return 0
    if not any(o.domain == _MS for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_MS, 1))
    rebuilt = [
        n
        for i, node in enumerate(graph.node)
        for n in [*(replaced.get(i, []) if i in removed else [node]), *following.get(i, [])]
    ]
    del graph.node[:]
    graph.node.extend(rebuilt)
    used = {name for node in rebuilt for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + [t for t in added if t.name in used])
    return len(replaced)
