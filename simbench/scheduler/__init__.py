"""SimPy model of action-chunk execution: LeRobot's async client/server and the sync baseline.

Entry point: :func:`simbench.scheduler.episode.simulate_episode`.
The client's rules: :class:`simbench.scheduler.client.RobotClient` (the DES and the wall clock drive it).
"""
