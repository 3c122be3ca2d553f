"""simbench board agent: serves ONNX Runtime benchmarks and inference to a simbench host.

Board side of simbench's hardware-in-the-loop (``docs/hil.md``). Dependencies: numpy, onnxruntime,
msgpack. The host imports :mod:`simbench_agent.protocol` (the message definitions) and nothing else.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
