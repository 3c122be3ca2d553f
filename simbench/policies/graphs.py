"""Which ONNX graphs a runtime policy config runs per inference, for the latency model.

ACT: one graph, whose nodes the model splits into the pipeline's stages by name. SmolVLA: the
vision graph once, the prefill graph once and the expert graph ``num_steps`` times, with the
instruction's token count and the prefix length as the values of their symbolic dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simbench.errors import ConfigError
from simbench.latency.context import PolicyGraphs
from simbench.latency.roofline import GraphPart


def _stages(node: Mapping[str, Any]) -> tuple[tuple[str, str, float], ...]:
    raw = node.get("pipeline") or [{"name": "model", "unit": "cpu", "share": 1.0}]
    return tuple((str(s.get("name")), str(s.get("unit", "cpu")), float(s.get("share", 1.0))) for s in raw)


def policy_graphs(node: Mapping[str, Any]) -> PolicyGraphs:
    """(graphs, stages) of a ``runtime: onnx`` policy node; ConfigError for one without a model."""
    name = node.get("name")
    if node.get("runtime") != "onnx" or not node.get("model_path"):
        raise ConfigError(f"policy {name} has no ONNX model (runtime: {node.get('runtime')}); the latency model "
                          "prices a policy's ONNX graphs")
    if node.get("arch") == "smolvla":
        from simbench.policies.onnx_model import model_metadata
        from simbench.policies.smolvla.onnx_runtime import component_paths
        from simbench.policies.smolvla.tokenizer import encode

        paths = component_paths(node.get("model_path"), node.get("component_precision"))
        meta = model_metadata(paths["vision"])
        steps = int(node.get("num_steps") or meta["simbench.num_steps"])
        visual = _visual_tokens(paths["vision"])
        text = len(encode(meta["simbench.instruction"]))
        dims = {"text": text, "prefix": visual + text + 1}
        parts = tuple(GraphPart(c, paths[c], steps if c == "expert" else 1, dims) for c in ("vision", "prefill",
                                                                                             "expert"))
        return parts, _stages(node)
    from simbench.policies.factory import model_metadata_file

    return (GraphPart(None, model_metadata_file(node)),), _stages(node)


def _visual_tokens(vision: Any) -> int:
    """Tokens the vision graph emits (its output's second dimension)."""
    from simbench.latency.graph_cost import load_graph

    out = load_graph(vision).graph.output[0].type.tensor_type.shape.dim
    return int(out[1].dim_value)
