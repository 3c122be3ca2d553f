"""Board and host build the same ONNX Runtime session: the agent's builder, fed the spec the host
sends, gives SessionOptions identical to ``load_session``'s, and the same disabled fusions."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import onnxruntime as ort
from simbench_agent.session import SessionSpec, build_session

from simbench.hil.spec import host_session_spec
from simbench.policies.onnx_model import DISABLED_ORT_OPTIMIZERS, load_session
from tests.hil.helpers import tiny_model

FIELDS = (
    "intra_op_num_threads",
    "inter_op_num_threads",
    "execution_mode",
    "graph_optimization_level",
    "log_severity_level",
    "enable_profiling",
    "enable_mem_pattern",
    "enable_cpu_mem_arena",
    "use_deterministic_compute",
)


def _captured(build) -> tuple[dict, dict]:
    seen: dict = {}
    real = ort.InferenceSession

    def spy(path, so, providers=None, disabled_optimizers=None, **kw):
        seen.update(
            so={f: getattr(so, f) for f in FIELDS},
            kw={"providers": list(providers), "disabled": list(disabled_optimizers)},
        )
        return real(path, so, providers=providers, disabled_optimizers=disabled_optimizers, **kw)

    with mock.patch.object(ort, "InferenceSession", spy):
        build()
    return seen["so"], seen["kw"]


def test_agent_and_host_sessions_identical(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny.onnx")
    for threads in (1, 2):
        host = _captured(lambda: load_session(model, threads))
        spec = SessionSpec.from_wire(host_session_spec(threads).to_wire())  # through the wire, as the board gets it
        board = _captured(lambda: build_session(str(model), spec))
        assert host == board
        assert board[1]["disabled"] == list(DISABLED_ORT_OPTIMIZERS)
