"""Reppu's benchmarks. `python3 dev.py bench` runs them and rewrites
docs/benchmarks.md with the results."""
