"""Where inference latencies come from.

``latency=NAME`` selects ``conf/latency/NAME.yaml`` and the class registered under that name in
:data:`simbench.latency.factory.LATENCY_SOURCES`. Every source samples seconds from a seeded
``numpy.random.Generator`` the scheduler owns, so runs are reproducible bit for bit.
"""
