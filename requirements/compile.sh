#!/usr/bin/env bash
# Re-compile the locks from pyproject.toml's ranges (uv pip compile). Every lock shares the base
# install's pins (-c base.txt). Locks with torch are for Linux x86_64: they take the CPU wheel
# torch==2.13.0+cpu (PyTorch's CPU index, or a local wheel via --find-links) and no CUDA packages.
#   bash requirements/compile.sh            # after changing a range in pyproject.toml
set -euo pipefail
cd "$(dirname "$0")/.."
uv="uv pip compile pyproject.toml --python-version 3.11 --no-header -q"
find_links=(--find-links "${TORCH_WHEELS:-/opt/wheels}")
$uv --universal -o requirements/base.txt
for extra in test ray optuna nightly rerun; do
  $uv --universal --extra "$extra" -c requirements/base.txt -o "requirements/$extra.txt"
done
linux=(--python-platform x86_64-manylinux_2_28 "${find_links[@]}")
$uv "${linux[@]}" --extra train -c requirements/base.txt -o requirements/train.txt
# what CI and the README's second command install: every extra the test suite uses
$uv "${linux[@]}" --extra test --extra train --extra ray --extra optuna --extra nightly --extra rerun -c requirements/base.txt \
  -o requirements/dev.txt
