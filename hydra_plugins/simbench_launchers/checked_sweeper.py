"""``hydra/sweeper=simbench_basic`` (what ``python -m simbench run -m`` uses unless told otherwise): Hydra's basic
sweeper (every combination of the ``-m`` overrides) without its own up-front composition of every job in the calling
process.

``python -m simbench run`` composes and validates every run before Hydra starts
(:func:`simbench.config.compose.check_all`, one Hydra compose per set of group choices); Hydra's basic
sweeper would compose each job once more, serially, before launching any (~0.1 s a job, half the
wall time of a 1,000-job timing sweep on 2 workers). The launcher still composes each job where it
runs, as with Hydra's sweeper.
"""

from dataclasses import dataclass
from typing import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore


class CheckedBasicSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        return None  # checked by simbench.config.compose.check_all before Hydra started


@dataclass
class CheckedBasicSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.simbench_launchers.checked_sweeper.CheckedBasicSweeper"


ConfigStore.instance().store(
    group="hydra/sweeper", name="simbench_basic", node=CheckedBasicSweeperConf, provider="simbench"
)
