"""Test helpers (not part of the product): synthetic timelines with known ground truth and a
tiny loopback HTTP server for the load tools.

Imported as ``tests.support.<module>``: pytest puts the repository root on ``sys.path``
(``pythonpath = ["."]`` in pyproject.toml); the benchmark scripts under ``tests/benchmarks``
insert it themselves.
"""
