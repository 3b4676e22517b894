"""Benchmarks of the hub: scenarios measured side by side with their baselines in one run,
load generated from processes outside the hub's. Run `python -m bench --help`. Nothing here is
a test: figures are printed and recorded, never asserted."""
