"""Benchmarks: `python -m bench NAME [--size N]`; each prints one JSON object as its last line."""
