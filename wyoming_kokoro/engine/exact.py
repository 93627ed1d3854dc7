"""Rewrites that make the same numbers in fewer passes over memory.

The int8 vocoder is chaotic to float rounding (a one-ulp change of its input moves the
audio ~0.65 dB log-mel), so only rewrites that give the same floats bit for bit can be
applied to the model the server runs. Two such are worth making:

- **The integer epilogue in the product's kernel.** After engine/int8.py, each
  convolution ends ``MatMulInteger → [Slice →] Unsqueeze → Add(quantized bias, int32) →
  Cast(float) → Mul(scale)``: three passes over its int32/float output. onnxruntime's
  ``MatMulIntegerToFloat`` (com.microsoft, CPU) converts the sums to float in the matrix
  kernel's own output stage; with both scales 1 it gives ``float(sum)``, as ``Cast`` does.
  The bias is then added in float. Both sides round the same exact integer once:
  ``float(sum)`` is exact while |sum| < 2^24, the export's bias is ``floor(bias / scale)``
  cast from a float (so a float itself), and a float sum of two floats, like the cast of
  an int32 sum, is that sum correctly rounded. :func:`rewrite_epilogues` rewrites a
  convolution only when its weights bound the sum below 2^24 for any input (255 · the
  largest row sum of |weight - zero point|); every one of Kokoro's is.
- **Squares as products.** The Snake activations square with ``Pow(·, 2)``, which
  onnxruntime computes as ``x * x``, at half the speed of ``Mul(x, x)`` here (4.0 against
  1.8 ms on 128 × 72000 values): the same product (:func:`rewrite_squares`).

Measured on this project's 2-core x86 machine (AVX-512 VNNI): see the README's vocoder
profile. ``benchmarks/profile_vocoder.py --before`` measures it again. Measured and not
made: quantizing each convolution's input to int8 directly (``ReduceMin``, ``ReduceMax``,
``DynamicQuantizeLinear``'s scale and zero point step by step on scalars, then
``QuantizeLinear``: the same integers) instead of ``DynamicQuantizeLinear`` to uint8 and
``BitwiseXor``/``Cast`` to int8; twice as fast on one 128 × 72000 input, no faster over
the vocoder's (61 against 58 ms per run of kernel time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import GraphIndex, rebuild

_ONE = "exact/one"
_MS_DOMAIN = "com.microsoft"
EXACT_LIMIT = 2**24  # integers up to here are floats, exactly


def sum_bound(weights: np.ndarray, zero_point: int) -> int:
    """The largest |Σ (w - zero point)(x - x zero point)| any uint8 input can make, for
    uint8 ``weights`` of shape (outputs, inputs) and a zero point of the input in 0-255."""
    rows = np.abs(weights.astype(np.int64) - int(zero_point)).sum(axis=1)
    return int(rows.max(initial=0)) * 255


def rewrite_epilogues(model: Any) -> int:
    """Rewrite the epilogues of engine/int8.py's convolutions in ``model`` (see the
    module's docstring) in place; returns how many. A product whose sums the weights do
    not bound below 2^24, whose intermediate results are used elsewhere, or that is not
    followed by exactly ``[Slice →] [Unsqueeze →] [Add(int32) →] Cast(float)``, is left
    alone. The int32 bias must be a float's value (as the export's is), or the rewrite
    would round it once more."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    index = GraphIndex.of(graph)
    added = False
    replaced: dict[int, list[Any]] = {}
    removed: set[int] = set()
    position = {id(node): i for i, node in enumerate(graph.node)}
    for node in graph.node:
        if node.op_type != "MatMulInteger" or len(node.input) != 4:
            continue
        weights, zero = index.value(node.input[0]), index.value(node.input[2])
        if weights is None or zero is None or weights.dtype != np.uint8 or weights.ndim != 2:
            continue
        if zero.size != 1 or sum_bound(weights, int(zero.reshape(-1)[0])) >= EXACT_LIMIT:
            continue
        chain = [node]
        current = index.only(node.output[0], "Slice", "Unsqueeze", "Add", "Cast")
        while current is not None and current.op_type != "Cast":
            chain.append(current)
            current = index.only(current.output[0], "Slice", "Unsqueeze", "Add", "Cast")
        if current is None:
            continue
        cast_to = next((a.i for a in current.attribute if a.name == "to"), None)
        middle = [n.op_type for n in chain[1:]]
        in_order = [op for op in ("Slice", "Unsqueeze", "Add") if op in middle]
        if cast_to != TensorProto.FLOAT or middle != in_order:
            continue
        if any(n.op_type == "Add" and n.input[0] == n.input[1] for n in chain):
            continue  # no bias: the sums doubled
        if not added:
            graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), _ONE))
            added = True
        base = node.output[0]
        a, b, a_zero, b_zero = node.input
        nodes = [
            helper.make_node(
                "MatMulIntegerToFloat",
                [a, b, _ONE, _ONE, a_zero, b_zero],
                [f"{base}/float"],
                name=f"{base}/float",
                domain=_MS_DOMAIN,
            )
        ]
        value = f"{base}/float"
        for before, step in zip(chain, chain[1:], strict=False):
            out = current.output[0] if step is chain[-1] else f"{step.output[0]}/float"
            if step.op_type in ("Unsqueeze", "Slice"):
                nodes.append(
                    helper.make_node(step.op_type, [value, *step.input[1:]], [out], name=out)
                )
            else:  # Add(int32): the other input is the quantized bias
                bias = next(i for i in step.input if i != before.output[0])
                as_float = f"{base}/bias"  # one per product: made where it is used
                nodes.append(
                    helper.make_node(
                        "Cast", [bias], [as_float], name=as_float, to=TensorProto.FLOAT
                    )
                )
                nodes.append(helper.make_node("Add", [value, as_float], [out], name=out))
            value = out
        if len(chain) == 1:
            nodes[0].output[0] = current.output[0]
        # In the place of the cast, where the bias (made after the product) is known too.
        replaced[position[id(current)]] = nodes
        removed.update(position[id(n)] for n in chain)
    if not replaced:
        return 0
    if not any(o.domain == _MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_MS_DOMAIN, 1))
    rebuild(graph, replaced, removed)
    return len(replaced)


def rewrite_squares(model: Any) -> int:
    """``Pow(x, 2)`` as ``Mul(x, x)`` in ``model``, in place; returns how many."""
    from onnx import helper

    index = GraphIndex.of(model.graph)
    replaced: dict[int, list[Any]] = {}
    for i, node in enumerate(model.graph.node):
        if node.op_type != "Pow" or len(node.input) != 2:
            continue
        exponent = index.value(node.input[1])
        if exponent is None or exponent.size != 1 or float(exponent.reshape(-1)[0]) != 2.0:
            continue
        x = node.input[0]
        replaced[i] = [helper.make_node("Mul", [x, x], list(node.output), name=node.name)]
    if replaced:
        rebuild(model.graph, replaced)
    return len(replaced)
