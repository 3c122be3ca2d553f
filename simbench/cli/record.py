"""``python -m simbench record``: record scripted-expert demonstrations as a LeRobotDataset v3.0.

Composed from ``conf/record.yaml``; every value is validated before anything is written. The
recorder (worker processes, slots, takeover episodes) is :mod:`simbench.dataset.recording`.
"""

from __future__ import annotations

OPTIONS = ("output", "clusters", "episodes_per_cluster", "recovery_share", "cameras", "image_size", "fps", "max_tries",
           "workers", "seed", "action_noise.share", "action_noise.std_rad", "action_noise.tau_s", "takeover.policy",
           "takeover.model_path", "takeover.episodes_per_cluster", "takeover.switch_s", "takeover.finish_grasp")


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        print("Overrides (conf/record.yaml): " + ", ".join(f"{key}=" for key in OPTIONS))
        return 0
    from simbench.config.compose import compose_dict
    from simbench.dataset.recording import record, record_config

    cfg = record_config(compose_dict("record", argv))
    summary = record(cfg)
    print(f"wrote {cfg.output}: {summary['kept']} episodes kept, {summary['discarded']} discarded, "
          f"{summary['slots_without_success']} slots without success, {summary['wall_time_s']} s")
    return 0
