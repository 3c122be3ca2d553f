"""Hardware in the loop: talk to a board agent (``hil/agent``), measure models there, run policies on it.

``board.py`` (which board, the loopback agent), ``client.py`` (the protocol's host side),
``measure.py`` (``hil measure``: trace + JSON record), ``board_policy.py`` (``latency=board``: the
policy runs on the board in lockstep with the simulation). Guide: ``docs/hil.md``.
"""
