"""Advocate's performance benchmarks: `python -m bench [--quick] [--backend ...]`.

See BENCHMARKS.md at the repository root for what is measured, the targets and results.
"""
