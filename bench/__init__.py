"""Reproducible benchmarks of the case engine, each against a no-op baseline in the same run.

`python -m bench` (or `make bench`) starts one headless Temporal dev server and one embedded
PostgreSQL, runs every benchmark against them and prints each figure next to its baseline as a
ratio, so that load from other processes on the machine affects both sides alike. See
BENCHMARKS.md for the figures and what they mean.
"""
