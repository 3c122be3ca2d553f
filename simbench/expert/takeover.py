"""Expert takeover: a trained policy drives, then the scripted expert finishes from where it got to.

Why: a policy trained only on the expert's episodes is scored on the states *it* reaches, and its
small errors compound into states the demonstrations never show (a grasp 2 cm off, the jaw
re-opened over the table, the bag hanging at the jaw's edge). DAgger's answer is to label the
states the learner visits with the expert's action. The expert here is a planner, not a function
of the state, so the label of a visited state is the expert's demonstration *from* it: the policy
runs synchronously (zero latency, ``n_action_steps`` per chunk) until a drawn switch time, the
expert is reset on the scene as it is then and records the rest of the episode: it carries a bag
that hangs in the jaws (>= 2 cm up, within 3 cm of the pinch point) and otherwise re-opens and
approaches afresh. ``finish_grasp`` instead finishes a grasp the policy made (jaws shut on the bag:
close and lift). It is off by default: committing to the policy's off-centre grasps teaches lifting
bad grasps, where re-opening teaches the re-grasp that recovers (the comparison:
docs/2026-11-29-history-notes.md). Only the expert's part is recorded; ``python -m simbench record``
keeps it like any other demonstration when the expert succeeds (``takeover`` in
``conf/record.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simbench.envs.teabag_scheduler_env import TeaBagSchedulerEnv
from simbench.expert.expert import Phase, ScriptedExpert, pouch_in_mug
from simbench.expert.rollout import ExpertEpisode, finish_with_expert, scene_state
from simbench.policies.base import ChunkPolicy
from simbench.rollout import run_episode

HOLD_LIFT_M = 0.02
"""A bag this far above where it started and within 3 cm of the pinch point hangs in the jaws: the
expert carries it (with ``finish_grasp``: lifts it to carrying height first) instead of re-grasping."""
JAW_ON_BAG_RAD = 0.5
"""Below this the jaw is shut on something (open is 0.7 rad; on the 34 mm bag it stops at ~0.31,
~0.4 when the bag sits at the pads' edge)."""


@dataclass(frozen=True)
class Takeover:
    """What happened before the expert took over (kept with the episode's metadata)."""

    switch_s: float
    """Simulated time at which the expert took over (the first chunk boundary after the drawn time)."""
    phase: str
    """The expert's first phase: "carry" (the bag hung in the jaws), "approach" (anything else); with
    ``finish_grasp`` "lift" (jaws shut on the bag off the table) or "close" (shut on it on the
    table) instead of "carry"; "" when the expert did not take over."""
    outcome: str
    """"expert": the expert took over; "policy_done": the policy finished the task before the switch;
    "in_mug": the bag already lay in the mug (nothing left to demonstrate); "timeout": no time left."""


def run_takeover_episode(
    env: TeaBagSchedulerEnv,
    policy: ChunkPolicy,
    n_action_steps: int,
    seed: int,
    options: dict[str, object],
    switch_s: float,
    record_every: int = 2,
    noise_std_rad: float = 0.0,
    noise_tau_s: float = 0.3,
    finish_grasp: bool = False,
) -> tuple[ExpertEpisode | None, Takeover]:
    """Policy until ``switch_s``, then the expert; (the expert's recorded part or None, what happened).

    The policy runs whole chunks (``n_action_steps`` ticks each), so the switch is the first
    replanning point at or after ``switch_s``: where the policy would have been asked again.
    """
    sim = env.env
    max_ticks = max(1, int(np.ceil(switch_s / sim.control_dt - 1e-9)))
    result = run_episode(env, policy, seed, dict(options), n_action_steps, max_ticks=max_ticks)
    t = sim.time_s
    if result["success"]:
        return None, Takeover(t, "", "policy_done")
    if t >= sim.time_limit_s - 1e-9:
        return None, Takeover(t, "", "timeout")
    state = scene_state(sim)
    if pouch_in_mug(state):
        return None, Takeover(t, "", "in_mug")
    expert = ScriptedExpert(sim.model)
    near = expert.holds(state, q=state.qpos)  # the bag within 3 cm of the pinch point of the joints as they are
    lifted = float(state.pouch_pos[2]) - env.pouch_start_z >= HOLD_LIFT_M
    if finish_grasp:
        shut = near and float(state.qpos[5]) < JAW_ON_BAG_RAD
        start = Phase.LIFT if shut and lifted else Phase.CLOSE if shut else Phase.APPROACH
    else:
        start = Phase.CARRY if near and lifted else Phase.APPROACH
    expert.reset(np.random.default_rng([seed, 7]), state, start=start)
    phase = start.value
    episode = finish_with_expert(sim, expert, seed, record_every, noise_std_rad=noise_std_rad, noise_tau_s=noise_tau_s)
    if episode.success and episode.attempts == 0:
        # The bag reached the mug without the expert ever grasping it: the policy had already let
        # go over the mug. The expert's frames would label the policy's release with "go back to
        # the bag" (its approach), so they are not a demonstration.
        return None, Takeover(t, phase, "policy_done")
    return episode, Takeover(t, phase, "expert")
