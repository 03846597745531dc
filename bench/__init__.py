"""Benchmarks of the sync engine against the sandboxes: ``python -m bench.run``."""
