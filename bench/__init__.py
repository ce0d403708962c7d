"""Benchmarks: ``python -m bench NAME [--quick]`` prints figures and writes bench/results/NAME.json."""
