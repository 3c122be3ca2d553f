"""Environments the scheduler drives.

``base.SchedulerEnv`` is the contract between the scheduler and an environment; ``timing`` is the
physics-free environment used for timing sweeps; the MuJoCo tea-bag scene plugs into the same
contract through ``simbench.envs.teabag_mug`` (a Gymnasium env registered as
``simbench/TeaBagMug-v0``).
"""

from gymnasium.envs.registration import register, registry

if "simbench/TeaBagMug-v0" not in registry:
    # Registration is data: importing this package does not import MuJoCo.
    register(id="simbench/TeaBagMug-v0", entry_point="simbench.envs.teabag_mug:TeaBagMugEnv")
