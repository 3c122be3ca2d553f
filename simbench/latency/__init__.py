"""Where inference latencies come from.

``latency=NAME`` selects ``conf/latency/NAME.yaml``, whose ``name`` is one of
:data:`simbench.registry.LATENCY_SOURCES`, or a ``target: module:Class`` beside the core (``latency=imx95`` is the ``device_profile`` source
over ``conf/device/imx95.yaml``; ``latency=predicted`` prices the policy's ONNX graphs on that file's
device model). Every source samples seconds from a seeded
``numpy.random.Generator`` the scheduler owns, so runs are reproducible bit for bit.
"""
