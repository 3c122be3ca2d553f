"""``python -m simbench predict [+policy=NAME] [latency.device=D latency.threads=N latency.unit=U latency.precision=P]``.

With a policy: the device model's predicted latency of its shipped ONNX graph(s) per pipeline
component, per op class and per unit, and the total (``latency=predicted``; the published figure
beside it when the board has one). Without one: every shipped variant's prediction next to what
``latency=imx95`` uses for it. Bad input: one ``error:`` line, exit code 2.
"""

from __future__ import annotations

HELP = __doc__ or ""


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(HELP)
        return 0
    from simbench.config.compose import split_argv

    split_argv(argv, "predict", "Hydra overrides (+policy=NAME, latency.*)", multirun_ok=False)
    from simbench.reporting.prediction import predict_all, predict_one

    has_policy = any(a.split("=")[0].lstrip("+~") == "policy" for a in argv)
    print(predict_one(argv) if has_policy else predict_all(argv))
    return 0
