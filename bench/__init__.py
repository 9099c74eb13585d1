"""Reproducible benchmarks; each module prints its figures and saves them to results/."""
