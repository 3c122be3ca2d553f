"""``python -m simbench look``: see what the scene and the expert do.

Writes ``contact_sheet.png`` (rows: start, grasp, release; columns: the cameras) and ``episode.mp4``
(the cameras side by side) for one expert episode, from ``conf/look.yaml``
(:mod:`simbench.reporting.look`).
"""

from __future__ import annotations


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    from simbench.config.compose import compose_dict
    from simbench.reporting.look import look, look_config

    sheet, video, success = look(look_config(compose_dict("look", argv)))
    print(f"wrote {sheet} and {video} (expert {'succeeded' if success else 'failed'})")
    return 0
