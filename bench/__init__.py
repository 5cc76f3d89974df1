"""Benchmarks of the product against baselines measured in the same run.

``python -m bench`` measures cold start, warm latency, AWS requests per call,
behaviour under concurrent load, package size and memory, then writes
``docs/PERFORMANCE.md`` and ``docs/performance.png``.
"""
