"""simbench: simulate a learned robot policy on an edge board before any robot time is spent.

The pieces, each in its own subpackage:
- ``simbench.scheduler``: SimPy model of the async action queue (LeRobot semantics) and the sync baseline.
- ``simbench.latency``: where inference latencies come from (distributions, traces, device profiles, host).
- ``simbench.envs``: environments the scheduler drives (``timing`` without physics, the MuJoCo scene).
- ``simbench.policies``: policies that turn an observation into an action chunk.
"""

__version__ = "0.1.0"

import logging

# PyOpenGL (under MuJoCo's renderer) logs "No OpenGL_accelerate module loaded" at INFO in every
# process that renders; it says nothing about a run, so only its warnings and errors get through.
# Set here, on import, so sweep workers in other processes are quiet too.
logging.getLogger("OpenGL").setLevel(logging.WARNING)
