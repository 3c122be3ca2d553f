"""The contract between the scheduler and a policy.

A policy is called by the simulated inference server with the observation the server took; it
returns the next ``actions_per_chunk`` actions, the first of which corresponds to the observation's
own timestep (LeRobot stamps chunk action i with ``obs.timestep + i``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from simbench.policies.request import PolicyRequest


@runtime_checkable
class ChunkPolicy(Protocol):
    """Anything with ``predict_chunk``; ONNX Runtime sessions, torch models and the scripted expert."""

    name: str
    actions_per_chunk: int
    action_dim: int

    def reset(self, seed: int) -> None:
        """Forget per-episode state (and reseed any stochastic parts)."""

    def predict_chunk(self, request: PolicyRequest) -> NDArray[np.float64]:
        """Return an array of shape (actions_per_chunk, action_dim) for ``request.observation``."""
