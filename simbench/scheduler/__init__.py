"""SimPy model of action-chunk execution: LeRobot's async client/server and the sync baseline.

Entry point: :func:`simbench.scheduler.episode.simulate_episode`.
"""
