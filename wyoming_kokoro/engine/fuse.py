"""Kokoro's AdaIN chains folded into one InstanceNormalization each.

Kokoro's vocoder normalizes each channel over time ~50 times, with a style-dependent scale
and offset (AdaIN). The export spells it out in small operators, each a full pass over the
activations:

    mean = ReduceMean(x, time);  d = x - mean;  var = ReduceMean(d * d, time)
    y = (1 + gamma) * d / Sqrt(var + eps) + beta

That is ONNX's ``InstanceNormalization(x, 1 + gamma, beta, epsilon=eps)`` exactly (its
scale and offset may be computed tensors, one value per channel): one kernel reading the
activations twice and writing them once, instead of seven passes. The result differs
from the chain by float rounding only (the tests bound it: 1e-4 relative to the output's
scale on synthetic graphs).

Not in the split's versions (engine/split.py): the generator takes each
normalization's mean and variance from the parts before it (engine/carry.py), which
``InstanceNormalization`` cannot take, and a segment in one part must be the export's
audio bit for bit. It was 0.95x the kernel time of the int8 kernels' version here, its
audio 0.84 dB log-mel from the export's. ``benchmarks/profile_vocoder.py --steps``
measures it again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import GraphIndex, rebuild

_CHANNELS = "fuse/channels"


def fuse_adain(model: Any) -> int:
    """Rewrite ``model``'s AdaIN chains (see the module's docstring) in place; returns how
    many. A chain whose intermediate results are used elsewhere, that normalizes over
    other axes than the last of a 3-D tensor, or whose epsilon is not a constant, is left
    as it is."""
    from onnx import helper, numpy_helper

    graph = model.graph
    index = GraphIndex.of(graph)
    initializers, consumers, outputs = index.initializers, index.consumers, index.outputs
    shapes = {
        v.name: [
            d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim
        ]
        for v in [*graph.input, *graph.value_info]
        if v.type.tensor_type.HasField("shape")
    }

    constant, only = index.value, index.only

    def over_time(node: Any) -> bool:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("keepdims", 1) != 1:
            return False
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1:
            value = constant(node.input[1])
            axes = None if value is None else value.reshape(-1).tolist()
        return axes is not None and [int(a) for a in axes] in ([2], [-1])

    def other(node: Any, known: str) -> str:
        a, b = node.input
        return b if a == known else a

    added = False
    removed: set[int] = set()
    replaced: dict[int, list[Any]] = {}
    index_of = {id(node): i for i, node in enumerate(graph.node)}
    for first in graph.node:
        if first.op_type != "ReduceMean" or not over_time(first):
            continue
        x = first.input[0]
        sub = only(first.output[0], "Sub")
        if sub is None or list(sub.input) != [x, first.output[0]]:
            continue
        d = sub.output[0]
        users = consumers.get(d, [])
        square = next((u for u in users if u.op_type == "Mul" and list(u.input) == [d, d]), None)
        div = next((u for u in users if u.op_type == "Div" and u.input[0] == d), None)
        if square is None or div is None or len(users) != 2 or d in outputs:
            continue
        second = only(square.output[0], "ReduceMean")
        if second is None or not over_time(second):
            continue
        plus = only(second.output[0], "Add")
        if plus is None:
            continue
        eps = constant(other(plus, second.output[0]))
        if eps is None or eps.size != 1:
            continue
        root = only(plus.output[0], "Sqrt")
        if root is None or list(div.input) != [d, root.output[0]] or root.output[0] in outputs:
            continue
        if len(consumers.get(root.output[0], [])) != 1:
            continue
        scale = only(div.output[0], "Mul")
        if scale is None:
            continue
        shift = only(scale.output[0], "Add")
        if shift is None:
            continue
        gamma, beta = other(scale, div.output[0]), other(shift, scale.output[0])
        shape = shapes.get(x)
        if shape is not None and len(shape) != 3:
            continue
        base = first.name or first.output[0]
        nodes = []
        flat = []
        for role, name in (("scale", gamma), ("bias", beta)):
            out = f"{base}/adain_{role}"
            nodes.append(helper.make_node("Reshape", [name, _CHANNELS], [out], name=out))
            flat.append(out)
        nodes.append(
            helper.make_node(
                "InstanceNormalization",
                [x, *flat],
                [shift.output[0]],
                name=f"{base}/adain",
                epsilon=float(eps.reshape(-1)[0]),
            )
        )
        chain = (first, sub, square, second, plus, root, div, scale, shift)
        positions = [index_of[id(n)] for n in chain]
        removed.update(positions)
        # Placed where the last of the chain was: its scale and offset are made by then.
        replaced[max(positions)] = nodes
        added = True
    if not added:
        return 0
    if _CHANNELS not in initializers:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), _CHANNELS))
    rebuild(graph, replaced, removed)
    return len(replaced)
