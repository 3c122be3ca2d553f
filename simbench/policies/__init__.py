"""Policies: turn an observation into an action chunk (LeRobot's ``predict_action_chunk`` role)."""
