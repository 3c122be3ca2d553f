"""The session options the host asks the board for: simbench's own (``load_session``).

The agent cannot import simbench, so the options travel in every ``load`` request as a
``SessionSpec``; ``tests/hil/test_session_spec.py`` checks that the agent's builder and
``simbench.policies.onnx_model.load_session`` give identical ``SessionOptions``.
"""

from __future__ import annotations

from collections.abc import Sequence

from simbench_agent.session import SessionSpec

from simbench.policies.onnx_model import DISABLED_ORT_OPTIMIZERS


def host_session_spec(threads: int, providers: Sequence[str] = ("CPUExecutionProvider",)) -> SessionSpec:
    return SessionSpec(threads=threads, inter_op_threads=1, providers=tuple(providers),
                       disabled_optimizers=tuple(DISABLED_ORT_OPTIMIZERS), optimization_level="all", sequential=True)


__all__ = ["host_session_spec"]
