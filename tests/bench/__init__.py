"""Tests of the benchmark suite (bench/): that it runs and reports, never how fast."""
