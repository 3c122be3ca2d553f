"""What a latency source is built with besides its own config node: the model it times.

Every source is built the same way, ``Source.from_config(node, context)`` (the ``LATENCY_SOURCES``
registry, or a ``target: module:Class`` in the node for a source beside the core). The context hands
it the policy's name, its ONNX graphs with their sha256 (all three of SmolVLA's), where the node sits
in the config (for one-line errors) and, for plug-ins that need more of the run (the board), the
whole composed run config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simbench.errors import ConfigError
from simbench.hashing import file_sha256
from simbench.latency.roofline import GraphPart

PolicyGraphs = tuple[tuple[GraphPart, ...], tuple[tuple[str, str, float], ...]]
"""A policy's graphs and its pipeline stages as (name, unit, share of the latency)."""
GraphsOf = Callable[[str | None], PolicyGraphs]
"""The graphs of a policy by name (None: the run's own policy, as composed)."""


@dataclass(frozen=True)
class LatencyContext:
    """The run's model as a latency source sees it."""

    policy: str
    """The policy's name (``act_int8``, a user's ``onnx``...)."""
    key: str = "latency"
    """Where the source's node sits in the config (``policy.pipeline[1].latency``), for error lines."""
    graphs_of: GraphsOf | None = None
    """The graphs of the run's policy (None) or of a shipped one by name; None where no model is known."""
    run: Any = field(default=None, compare=False)
    """The whole composed run config, read-only: only for sources beside the core (``latency=board``)."""

    def graphs(self, name: str | None = None) -> PolicyGraphs | None:
        """The graphs of the run's policy (or of ``name``); None when it has none (no ONNX model)."""
        if self.graphs_of is None:
            return None
        try:
            return self.graphs_of(name)
        except ConfigError:
            return None

    def model_sha256(self, name: str | None = None) -> tuple[str, ...] | None:
        """The sha256 of each graph file of the run's policy (or of ``name``), in order; None without graphs."""
        graphs = self.graphs(name)
        if graphs is None:
            return None
        return tuple(file_sha256(part.path) for part in graphs[0])


__all__ = ["GraphsOf", "LatencyContext", "PolicyGraphs"]
