"""Benchmarks of the pipeline against plainly labelled references (make bench)."""
