"""The vocoder's state carried from one part to the next.

Kokoro's generator is convolutional except in two places, where every output sample
depends on the whole segment:

- ~44 instance normalizations (AdaIN): each channel is normalized by its mean and
  variance over all the segment's frames;
- the harmonic source's phase: a running sum (``CumSum``) of the pitch from the first
  frame on.

A part rendered alone normalizes over its own frames and starts its phase at zero, so it
is not the segment's audio (a one-sentence command in two parts was ~2.6 dB log-mel from
one inference). :func:`carry_state` rewrites the generator so that each part can take what
the parts before it measured:

    mean = a * mean_own + b * prior_mean
    var  = a * var_own  + b * (prior_var + (prior_mean - mean)^2)
    phase = CumSum(...) + prior_phase

where ``a`` and ``b`` are the shares of the frames seen so far that are the part's own and
the prior's (``var_own`` is taken about the combined mean, so the two variances add
exactly). With ``a = 1, b = 0`` and zero priors every value is the export's to the bit
(``m * 1 + 0 * 0`` is ``m``), so the first part, and a segment in one part, is the
model's own audio. The combined mean and variance and the phase are graph outputs: the
next part's priors.

The segment's frame-rate half (the decoder blocks before the generator; ~2 % of the
vocoder's work) is cut off by :func:`split_generator` and runs on the whole segment at
once, so its normalizations are exact in every part too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import GraphIndex

# Where the vocoder of kokoro-v1.0 (the kokoro-onnx exports) is cut between its
# frame-rate blocks and the generator: the decoder's last block's output (two steps per
# frame) and the pitch curve as the generator's source reads it.
GENERATOR_INPUTS = (
    "/decoder/decoder/decode.3/Div_4_output_0",
    "/decoder/decoder/Unsqueeze_output_0",
)
OWN_SHARE = "carry/own_share"
PRIOR_SHARE = "carry/prior_share"
PRIOR_PHASE = "carry/prior_phase"
PHASE = "carry/phase"  # the running phase, one step per step of the pitch curve


@dataclass
class CarrySites:
    """The names a carried generator reads and writes besides the export's own."""

    norms: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Per normalization: prior mean, prior variance (inputs), mean, variance (outputs)."""
    phase: bool = False

    @classmethod
    def of(cls, inputs: list[str], outputs: list[str]) -> CarrySites:
        """The sites of a carried generator, from its sessions' input and output names."""
        sites = cls(phase=PRIOR_PHASE in inputs and PHASE in outputs)
        while (names := _norm_names(len(sites.norms)))[0] in inputs and names[2] in outputs:
            sites.norms.append(names)
        return sites

    def priors(
        self, state: dict[str, np.ndarray] | None, own: int, seen: int, phase_step: int = 0
    ) -> dict[str, np.ndarray]:
        """The carried inputs for a part of ``own`` frames after ``seen`` frames whose
        statistics ``state`` holds (None: the first part, as the export renders it); the
        part starts at ``phase_step`` of the state's running phase (its steps before).
        Nothing for a generator that carries nothing."""
        if not self.norms and not self.phase:
            return {}
        share = 0.0 if state is None or seen <= 0 else seen / (seen + own)
        feeds: dict[str, np.ndarray] = {}
        if self.norms:
            feeds[OWN_SHARE] = np.array([1.0 - share], dtype=np.float32)
            feeds[PRIOR_SHARE] = np.array([share], dtype=np.float32)
        for prior_mean, prior_var, mean, var in self.norms:
            if state is None:
                feeds[prior_mean] = feeds[prior_var] = np.zeros((1, 1, 1), dtype=np.float32)
            else:
                feeds[prior_mean], feeds[prior_var] = state[mean], state[var]
        if self.phase:
            if state is None or phase_step <= 0:
                feeds[PRIOR_PHASE] = np.zeros(1, dtype=np.float32)
            else:
                feeds[PRIOR_PHASE] = state[PHASE][:, phase_step - 1 : phase_step, :]
        return feeds

    @property
    def outputs(self) -> list[str]:
        names = [name for _, _, mean, var in self.norms for name in (mean, var)]
        return [*names, PHASE] if self.phase else names


def _norm_names(k: int) -> tuple[str, str, str, str]:
    """Normalization ``k``'s prior mean and variance (inputs), mean and variance (outputs)."""
    return (f"carry/prior_mean.{k}", f"carry/prior_var.{k}", f"carry/mean.{k}", f"carry/var.{k}")


def split_generator(decoder: Any) -> tuple[Any, Any]:
    """The vocoder's frame-rate half and its generator, as two models whose run in turn
    is the vocoder's (same nodes, same order). Raises ValueError for other exports."""
    from onnx.utils import Extractor

    names = {o for node in decoder.graph.node for o in node.output}
    missing = [n for n in GENERATOR_INPUTS if n not in names]
    if missing:
        raise ValueError(f"this export has no tensor {missing[0]}")
    inputs = [i.name for i in decoder.graph.input]
    style = [n for n in inputs if "style" in n.lower()]
    if len(style) != 1:
        raise ValueError("no style input")
    extractor = Extractor(decoder)
    mid = extractor.extract_model(inputs, list(GENERATOR_INPUTS))
    generator = extractor.extract_model(
        [*GENERATOR_INPUTS, style[0]], [o.name for o in decoder.graph.output]
    )
    return mid, generator


def computes_in_float16(graph: Any) -> bool:
    """Whether most of the graph's float constants are float16 (an fp16 export)."""
    from onnx import TensorProto

    kinds = [i.data_type for i in graph.initializer]
    return kinds.count(TensorProto.FLOAT16) > kinds.count(TensorProto.FLOAT)


def carry_state(model: Any) -> CarrySites:
    """Rewrite ``model`` (a generator) in place as the module's docstring says; returns
    the names it now reads and writes. Normalizations not spelled as the export spells
    them (mean, difference, mean of its square, over the last axis) are left alone.
    Raises ValueError for a generator that computes in float16 (the state it would carry
    is float32, and its operators cannot take both)."""
    from onnx import TensorProto, helper

    graph = model.graph
    if computes_in_float16(graph):
        raise ValueError("the vocoder computes in float16, and its carried state is float32")
    index = GraphIndex.of(graph)
    sites = CarrySites()
    added: list[Any] = []

    for node in list(graph.node):
        if not index.mean_over_time(node):
            continue
        x, mean = node.input[0], node.output[0]
        subs = [n for n in index.consumers.get(mean, []) if n.op_type == "Sub"]
        if len(subs) != 1 or list(subs[0].input) != [x, mean]:
            continue
        if len(index.consumers[mean]) != 1:
            continue
        diff = subs[0].output[0]
        squares = [
            n
            for n in index.consumers.get(diff, [])
            if n.op_type == "Mul" and n.input[0] == n.input[1]
        ]
        if len(squares) != 1:
            continue
        var_nodes = [
            n for n in index.consumers.get(squares[0].output[0], []) if index.mean_over_time(n)
        ]
        if len(var_nodes) != 1:
            continue
        var = var_nodes[0].output[0]
        k = len(sites.norms)
        prior_mean, prior_var, out_mean, out_var = _norm_names(k)
        if k == 0:
            for name in (OWN_SHARE, PRIOR_SHARE):
                graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1]))
        for name in (prior_mean, prior_var):
            graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, 1]))
        t = f"carry/{k}/"
        added += [
            helper.make_node("Mul", [mean, OWN_SHARE], [t + "own_mean"]),
            helper.make_node("Mul", [prior_mean, PRIOR_SHARE], [t + "prior_mean"]),
            helper.make_node("Add", [t + "own_mean", t + "prior_mean"], [out_mean]),
            helper.make_node("Sub", [prior_mean, out_mean], [t + "shift"]),
            helper.make_node("Mul", [t + "shift", t + "shift"], [t + "shift2"]),
            helper.make_node("Add", [prior_var, t + "shift2"], [t + "prior_about"]),
            helper.make_node("Mul", [t + "prior_about", PRIOR_SHARE], [t + "prior_var"]),
            helper.make_node("Mul", [var, OWN_SHARE], [t + "own_var"]),
            helper.make_node("Add", [t + "own_var", t + "prior_var"], [out_var]),
        ]
        subs[0].input[1] = out_mean
        for user in index.consumers.get(var, []):
            for i, name in enumerate(user.input):
                if name == var:
                    user.input[i] = out_var
        for name in (out_mean, out_var):
            graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
        sites.norms.append(_norm_names(k))

    cumsums = [n for n in graph.node if n.op_type == "CumSum"]
    if len(cumsums) == 1:
        running = cumsums[0].output[0]
        users = index.consumers.get(running, [])
        graph.input.append(helper.make_tensor_value_info(PRIOR_PHASE, TensorProto.FLOAT, None))
        added.append(helper.make_node("Add", [running, PRIOR_PHASE], [PHASE]))
        for user in users:
            for i, name in enumerate(user.input):
                if name == running:
                    user.input[i] = PHASE
        graph.output.append(helper.make_tensor_value_info(PHASE, TensorProto.FLOAT, None))
        sites.phase = True
    _insert_sorted(graph, added)
    return sites


def _insert_sorted(graph: Any, added: list[Any]) -> None:
    """Append ``added`` with every node after the nodes it reads from (ONNX wants a
    graph's nodes in topological order); the others keep their order."""
    from collections import deque

    nodes = [*graph.node, *added]
    made = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    waiting = [0] * len(nodes)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in set(node.input):
            if name in made and made[name] != i:
                waiting[i] += 1
                readers.setdefault(made[name], []).append(i)
    ready = deque(i for i, count in enumerate(waiting) if count == 0)
    order: list[int] = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for j in readers.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) != len(nodes):
        raise ValueError("the rewritten graph has a cycle")
    del graph.node[:]
    graph.node.extend(nodes[i] for i in order)
