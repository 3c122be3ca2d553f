"""``python -m simbench export [overrides]``: checkpoint -> ONNX fp32 -> precision variants.

Options: conf/export.yaml. The fp32 export is checked against torch (``max_parity``) before anything
is written; a failed check writes nothing and exits 1. An ``out_dir`` that holds files is left alone
(``out_dir-2``...) unless ``replace=true``. The pipeline is :mod:`simbench.export.run`.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    from simbench.config.compose import compose_dict
    from simbench.errors import ParityFailed
    from simbench.export.run import export

    try:
        final = export(compose_dict("export", argv))
    except ParityFailed as err:
        print(f"error: {err}; nothing written", file=sys.stderr)
        return 1
    print(f"report: {final / 'export_report.json'}")
    return 0
