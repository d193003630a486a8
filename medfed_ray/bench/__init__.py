"""Benchmarks that time medfed-ray's hot paths against baselines measured in the same run."""
