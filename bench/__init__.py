"""Benchmarks: `venv/bin/python -m bench.NAME` prints figures and ratios (not part of `make test`)."""
