"""Kokoro's Snake activations rewritten around one ``Cos`` and fewer passes over memory.

The vocoder's generator applies Snake ~48 times, one learned frequency α per channel:

    y = x + sin(αx)² / α

The export spells it ``Mul(α, x) → Sin → Pow(·, 2) → Mul(1/(α+1e-9), ·) → Add(x, ·)``:
five full passes over the activations. Since sin²(θ) = (1 - cos 2θ) / 2, with
c = 1/(2(α+1e-9)) per channel (the export's reciprocal, halved: exact),

    y = x + c - c·cos(2αx)

and a per-channel ``a·t + b`` is one ``BatchNormalization`` (mean 0, variance 1,
epsilon 0: its scale and offset are exactly ``a`` and ``b``). :func:`rewrite_snake` emits

- where ``x`` comes from an ``InstanceNormalization`` used by this Snake only (the AdaIN
  that engine/fuse.py made): the normalization's scale and offset (one value per channel)
  are multiplied by 2α, so it makes u = 2αx itself, and since x = c·u (to rounding),
  ``y = c·(u - cos u) + c``: ``Cos``, ``Sub``, ``BatchNormalization``, three passes;
- elsewhere: ``Mul(x, 2α) → Cos → BatchNormalization(-c, c) → Add(x, ·)``, four.

The result differs from the export's by float rounding, absolute ~|c| ulp (the constant
c cancels in the sum): the rewrite is made only where every channel has |α| >= 1e-3
(|c| <= 500), and the tests bound the difference on synthetic graphs.

Not in the split's versions (engine/split.py): on this project's 2-core x86 machine it
rewrote 47 of the int8 vocoder's 48 Snakes (41 folded) and was not faster, since ``Cos``
costs what ``Sin`` did (one thread, ~12-16 % of the vocoder) and the passes it saves are
the cheap ones: 8.27 against 8.26 ms/frame of CPU time on one thread, medians of 7,
audio 0.80 dB log-mel from the unrewritten. ``benchmarks/profile_vocoder.py --steps``
measures it again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import GraphIndex

MIN_ALPHA = 1e-3  # below it, c = 1/(2α) is so large that its rounding is heard
# Where x is rebuilt as c·u (the normalization folded), c·2α must be 1 to this: the
# export's 1e-9 beside α, and rounding.
_RECONSTRUCTION = 1e-6


@dataclass(frozen=True)
class SnakeSite:
    """One Snake as the export spells it (see the module's docstring)."""

    nodes: tuple[Any, ...]
    """Its five nodes in order: Mul(α, x), Sin, the square, the weighting, Add(x, ·)."""
    x: str
    alpha: np.ndarray
    """α, one value per channel."""
    reciprocal: np.ndarray
    """The export's 1/(α + 1e-9), one value per channel."""

    @property
    def output(self) -> str:
        return str(self.nodes[-1].output[0])


def find_snakes(graph: Any, index: GraphIndex | None = None) -> list[SnakeSite]:
    """The graph's Snake activations: α a constant (one value per channel of a 3-D
    tensor), the square ``Pow(·, 2)`` or ``Mul(s, s)``, the weighting a product by 1/α
    or a quotient by α, and no intermediate result read elsewhere."""
    index = index or GraphIndex.of(graph)
    constant, only = index.value, index.only

    def split(node: Any) -> tuple[str, np.ndarray] | None:
        """(the tensor, the constant) of a two-input node with one constant input."""
        if len(node.input) != 2:
            return None
        for mine, theirs in ((0, 1), (1, 0)):
            value = constant(node.input[mine])
            if value is not None and constant(node.input[theirs]) is None:
                return node.input[theirs], value
        return None

    def per_channel(value: np.ndarray) -> np.ndarray | None:
        if value.dtype != np.float32 or value.ndim != 3 or value.shape[0] != 1:
            return None
        if value.shape[2] != 1:
            return None
        return value.reshape(-1)

    sites: list[SnakeSite] = []
    for scale in graph.node:
        if scale.op_type != "Mul":
            continue
        parts = split(scale)
        if parts is None:
            continue
        x, alpha_value = parts
        alpha = per_channel(alpha_value)
        if alpha is None:
            continue
        sin = only(scale.output[0], "Sin")
        if sin is None:
            continue
        square = only(sin.output[0], "Pow", "Mul")
        if square is None:
            continue
        if square.op_type == "Mul":
            if list(square.input) != [sin.output[0], sin.output[0]]:
                continue
        else:
            exponent = constant(square.input[1])
            if square.input[0] != sin.output[0] or exponent is None or exponent.size != 1:
                continue
            if float(exponent.reshape(-1)[0]) != 2.0:
                continue
        weigh = only(square.output[0], "Mul", "Div")
        if weigh is None:
            continue
        if weigh.op_type == "Mul":
            factor = split(weigh)
            if factor is None or factor[0] != square.output[0]:
                continue
            reciprocal = per_channel(factor[1])
        else:
            divisor = constant(weigh.input[1])
            if weigh.input[0] != square.output[0] or divisor is None:
                continue
            flat = per_channel(divisor)
            reciprocal = None if flat is None else (1 / flat).astype(np.float32)
        if reciprocal is None or reciprocal.shape != alpha.shape:
            continue
        add = only(weigh.output[0], "Add")
        if add is None or sorted(add.input) != sorted([x, weigh.output[0]]):
            continue
        sites.append(SnakeSite((scale, sin, square, weigh, add), x, alpha, reciprocal))
    return sites


def rewrite_snake(model: Any, fold_into_norm: bool = True) -> int:
    """Rewrite ``model``'s Snake activations (see the module's docstring) in place; returns
    how many. ``fold_into_norm``: fold 2α into a preceding InstanceNormalization where
    there is one. A Snake whose α is not a constant (one value per channel of a 3-D
    tensor), whose intermediate results are used elsewhere, or with a tiny α, is left as
    it is."""
    from onnx import helper, numpy_helper

    graph = model.graph
    index = GraphIndex.of(graph)
    producers, consumers, outputs = index.producers, index.consumers, index.outputs

    added: list[Any] = []
    made: set[str] = set()
    removed: set[int] = set()
    before: dict[int, list[Any]] = defaultdict(list)  # nodes placed before node i
    replaced: dict[int, list[Any]] = {}
    renamed: dict[int, str] = {}  # normalization node -> its new output
    index_of = {id(node): i for i, node in enumerate(graph.node)}
    count = 0
    for site in find_snakes(graph, index):
        if float(np.abs(site.alpha).min()) < MIN_ALPHA:
            continue
        scale, _, _, _, add = site.nodes
        x, alpha, reciprocal = site.x, site.alpha, site.reciprocal
        half = (reciprocal / 2).astype(np.float32)  # c, exactly half the export's
        double = (alpha * 2).astype(np.float32)  # 2α, exact
        base = scale.name or scale.output[0]
        channels = len(alpha)

        def init(role: str, value: np.ndarray, base: str = base) -> str:
            name = f"{base}/snake_{role}"
            added.append(numpy_helper.from_array(value.astype(np.float32), name))
            return name

        def shared(role: str, fill: float, channels: int = channels) -> str:
            """A constant vector of ``channels`` values, one per width for all sites."""
            name = f"snake/{role}{channels}"
            if name not in made:
                added.append(numpy_helper.from_array(np.full(channels, fill, np.float32), name))
                made.add(name)
            return name

        norm = producers.get(x)
        foldable = (
            fold_into_norm
            and norm is not None
            and norm.op_type == "InstanceNormalization"
            and len(norm.input) == 3
            and x not in outputs
            and {id(u) for u in consumers.get(x, [])} == {id(scale), id(add)}
            and float(np.abs(half.astype(np.float64) * double - 1).max()) <= _RECONSTRUCTION
        )
        nodes: list[Any] = []
        if foldable:
            assert norm is not None
            position = index_of[id(norm)]
            factor_name = init("2alpha", double)
            folded = []
            for role, name in (("scale", norm.input[1]), ("bias", norm.input[2])):
                out = f"{base}/snake_norm_{role}"
                before[position].append(
                    helper.make_node("Mul", [name, factor_name], [out], name=out)
                )
                folded.append(out)
            del norm.input[1:]
            norm.input.extend(folded)
            u = f"{base}/snake_2ax"
            renamed[position] = u
            cos, diff, c = f"{base}/snake_cos", f"{base}/snake_diff", init("c", half)
            nodes.append(helper.make_node("Cos", [u], [cos], name=cos))
            nodes.append(helper.make_node("Sub", [u, cos], [diff], name=diff))
            nodes.append(
                helper.make_node(
                    "BatchNormalization",
                    [diff, c, c, shared("zeros", 0.0), shared("ones", 1.0)],
                    [add.output[0]],
                    name=f"{base}/snake",
                    epsilon=0.0,
                )
            )
        else:
            u, cos, term = f"{base}/snake_2ax", f"{base}/snake_cos", f"{base}/snake_term"
            column = init("2alpha", double.reshape(1, -1, 1))
            nodes.append(helper.make_node("Mul", [x, column], [u], name=u))
            nodes.append(helper.make_node("Cos", [u], [cos], name=cos))
            nodes.append(
                helper.make_node(
                    "BatchNormalization",
                    [
                        cos,
                        init("minus_c", -half),
                        init("c", half),
                        shared("zeros", 0.0),
                        shared("ones", 1.0),
                    ],
                    [term],
                    name=term,
                    epsilon=0.0,
                )
            )
            nodes.append(helper.make_node("Add", [x, term], [add.output[0]], name=f"{base}/snake"))
        positions = [index_of[id(n)] for n in site.nodes]
        removed.update(positions)
        replaced[max(positions)] = nodes
        count += 1
    if not count:
        return 0
    for position, name in renamed.items():
        node = graph.node[position]
        del node.output[:]
        node.output.append(name)
    rebuilt = [
        n
        for i, node in enumerate(graph.node)
        for n in [*before.get(i, []), *(replaced.get(i, []) if i in removed else [node])]
    ]
    del graph.node[:]
    graph.node.extend(rebuilt)
    graph.initializer.extend(added)
    return count
