"""An aggregate function beside the core, as a user adds one: this file and ``conf/scheduler/halfway.yaml``."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from simbench.scheduler.aggregate import AggregateParams, Aggregator


def halfway(params: AggregateParams) -> Aggregator:
    """Old and new action weigh the same."""

    def aggregate(old: NDArray[np.float64], new: NDArray[np.float64], n_old: NDArray[np.int64]) -> NDArray[np.float64]:
        return 0.5 * old + 0.5 * new

    return aggregate
