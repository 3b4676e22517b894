"""families.py writes what prometheus_client's own Counter and Histogram write."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from hub.observability.families import CounterFamily, HistogramFamily

_CREATED = re.compile(r"^(\w+_created\{[^}]*\}) \S+$", re.MULTILINE)


def _without_creation_times(registry: CollectorRegistry) -> str:
    """The text format with each `_created` value (a time) replaced by a fixed one."""
    return _CREATED.sub(r"\1 T", generate_latest(registry).decode())


def test_the_same_updates_give_the_same_text_as_prometheus_client() -> None:
    """Counts and observations (on bucket bounds, between them, above the last finite
    one) in two label sets: every line equal, `_created` series included."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = CounterFamily("c_total", "A counter.", ("a", "b"), ours)
    histogram = HistogramFamily("h_seconds", "A histogram.", ("a",), ours)
    reference_counter = Counter("c_total", "A counter.", ("a", "b"), registry=theirs)
    reference_histogram = Histogram("h_seconds", "A histogram.", ("a",), registry=theirs)
    for labels, times in ((("x", "1"), 3), (("y", "2"), 1)):
        counter.series(*labels).value += times
        reference_counter.labels(*labels).inc(times)
    for label, seconds in (("x", 0.005), ("x", 0.3), ("y", 12.0), ("x", 0.0)):
        histogram.series(label).observe(seconds)
        reference_histogram.labels(label).observe(seconds)
    assert _without_creation_times(theirs) == _without_creation_times(ours)
