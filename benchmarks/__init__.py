"""Benchmarks: each prints a Markdown table with our figure, the peer's figure on the same input
in the same run, and the ratio. Run one with ``python -m benchmarks.<name>``, all with
``python -m benchmarks``."""
