"""Lookups over an ONNX graph, and its nodes rebuilt, for the graph rewrites (int8, exact,
fuse, snake, int8_float)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class GraphIndex:
    """Who makes and who reads each tensor of a graph, and its constants."""

    initializers: dict[str, Any]
    producers: dict[str, Any]
    consumers: dict[str, list[Any]]
    outputs: set[str]

    @classmethod
    def of(cls, graph: Any) -> GraphIndex:
        consumers: dict[str, list[Any]] = defaultdict(list)
        for node in graph.node:
            for name in dict.fromkeys(node.input):  # a node reading a tensor twice is one user
                consumers[name].append(node)
        return cls(
            {t.name: t for t in graph.initializer},
            {out: node for node in graph.node for out in node.output},
            consumers,
            {o.name for o in graph.output},
        )

    def value(self, name: str) -> np.ndarray | None:
        """The tensor's value if it is a constant (an initializer or a Constant node)."""
        from onnx import numpy_helper

        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producers.get(name)
        if node is not None and node.op_type == "Constant" and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def ints(self, name: str) -> list[int] | None:
        """A constant's values as a flat list of ints (axes, pads, starts); None if the
        tensor is not a constant."""
        value = self.value(name)
        return None if value is None else [int(v) for v in value.reshape(-1)]

    def mean_over_time(self, node: Any) -> bool:
        """``node`` is a ``ReduceMean`` over the last axis of a 3-D tensor (axis 2 or -1,
        given as an attribute or a constant input), keeping it: how the export spells an
        instance normalization's statistics."""
        from onnx import helper

        if node.op_type != "ReduceMean":
            return False
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1:
            axes = self.ints(node.input[1])
        return attrs.get("keepdims", 1) == 1 and axes is not None and list(axes) in ([2], [-1])

    def only(self, name: str, *ops: str) -> Any | None:
        """The single consumer of ``name`` if it is one of ``ops`` and nothing else reads it."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type not in ops or name in self.outputs:
            return None
        return users[0]


def rebuild(
    graph: Any, replaced: dict[int, list[Any]], removed: AbstractSet[int] = frozenset()
) -> None:
    """The graph's nodes again, in order: the node at each position of ``replaced`` gives
    way to those nodes, those at ``removed`` (and not replaced) to none."""
    nodes = [
        n
        for i, node in enumerate(graph.node)
        for n in replaced.get(i, [] if i in removed else [node])
    ]
    del graph.node[:]
    graph.node.extend(nodes)


@dataclass
class GraphEdit:
    """One rewrite's edits of a graph, made at once by :meth:`apply` (:func:`rebuild`):
    the node at each position of ``replaced`` gives way to those nodes, those at
    ``removed`` to none. ``index`` and positions are the graph's before the edit."""

    graph: Any
    index: GraphIndex
    position: dict[int, int]
    replaced: dict[int, list[Any]] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, graph: Any) -> GraphEdit:
        return cls(graph, GraphIndex.of(graph), {id(n): i for i, n in enumerate(graph.node)})

    def at(self, node: Any) -> int:
        """The node's position in the graph before the edit."""
        return self.position[id(node)]

    def apply(self) -> None:
        rebuild(self.graph, self.replaced, self.removed)
