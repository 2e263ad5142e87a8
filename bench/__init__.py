"""Benchmarks for citeqa: `python -m bench.run` writes bench/results.md and bench/results.json."""
