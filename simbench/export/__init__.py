"""Trained policies -> ONNX: ``run`` (``python -m simbench export``: options, staging, publishing), each
architecture's exporter (``act``, ``smolvla``), trained ACT -> ONNX (``onnx_export``), ONNX Runtime vs
torch parity (``parity``) and the precision variants (``quantize``: fp16, dynamic
int8, static int8 QDQ, int4 weight-only, per-component mixes)."""
