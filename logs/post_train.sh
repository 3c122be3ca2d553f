#!/bin/bash
set -e
cd /work/main
export MUJOCO_GL=egl
[ -d data/teabag_mug_v1 ] || mv data/teabag_mug data/teabag_mug_v1
[ -d data/teabag_mug ] || mv data/teabag_mug_v3 data/teabag_mug
[ -d outputs/train/act_v1 ] || mv outputs/train/act outputs/train/act_v1
[ -d outputs/train/act ] || mv outputs/train/act_v4 outputs/train/act
python -m simbench export 2>&1 | grep -v -i warn | tail -20
cp simbench/models/act/export_report.json results/reference/export_report.json
python -m simbench.training.evaluate act_fp32 act_fp16 act_int8 act_int8_dynamic act_int4 act_mixed --json results/reference/act_variants_ideal_timing.json 2>&1 | grep -v -i warn | grep -v "eval act"
