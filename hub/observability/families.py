"""Counter and histogram families recorded with plain arithmetic, exported at scrape time.

prometheus_client's `Counter.inc` and `Histogram.observe` run four to six Python calls and
take a lock per update (`inc` -> `_raise_if_not_observable` -> `_is_observable` -> the
value's `inc` under its mutex). A REST GET makes about fifteen updates across its three hops,
which came to about 140,000 CPU instructions per request, a tenth of what the hub spends on
the request itself (docs/benchmarks.md). Here a series is a slotted object that the code
recording it adds to directly (`series.value += 1`, `Timing.observe`), and each family is a
prometheus_client collector, registered in the hub's registry, that turns its series into
`CounterMetricFamily` / `HistogramMetricFamily` when Prometheus scrapes: the same names,
labels, types, buckets and `_created` series as prometheus_client's own metrics write.

No lock: every series is recorded on the event loop's thread (the gRPC wrappers and the HTTP
middleware all run there) and read there when `/metrics` is served, so no update can
interleave with another or with a scrape.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

DEFAULT_BUCKETS: tuple[float, ...] = tuple(Histogram.DEFAULT_BUCKETS)
"""prometheus_client's default bounds, 0.005 to 10 s and +Inf."""


class Count:
    """One counter series: add to `value`."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()


class Timing:
    """One histogram series: `observe` a value; the buckets are kept per bound (not
    cumulative) and summed up at scrape time."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        """Counts `value` in the first bucket whose bound is >= it (the last is +Inf)."""
        self.counts[bisect_left(self._bounds, value)] += 1
        self.sum += value


_Series = TypeVar("_Series", Count, Timing)


class _Family(Collector, Generic[_Series]):
    """A family's name, help text and label names, and its series by label values;
    registered in `registry` once made."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._series: dict[tuple[str, ...], _Series] = {}
        registry.register(self)

    def series(self, *labelvalues: str) -> _Series:
        """The series of `labelvalues`, created at the first call; keep it."""
        found = self._series.get(labelvalues)
        if found is None:
            found = self._series[labelvalues] = self._new()
        return found

    @abstractmethod
    def _new(self) -> _Series:
        """A new series of this family."""


class CounterFamily(_Family[Count]):
    """A counter family (`name` ends in `_total`) and its series by label values."""

    def _new(self) -> Count:
        return Count()

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for values, count in self._series.items():
            family.add_metric(values, count.value, created=count.created)
        return [family]


class HistogramFamily(_Family[Timing]):
    """A histogram family and its series by label values, with `bounds` (ending in +Inf)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        bounds: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self._bounds = tuple(bounds)
        # The `le` values exactly as prometheus_client writes them (the function is untyped).
        self._le = [floatToGoString(bound) for bound in self._bounds]  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry)

    def _new(self) -> Timing:
        return Timing(self._bounds)

    def collect(self) -> Iterable[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for values, timing in self._series.items():
            buckets = []
            total = 0
            for le, count in zip(self._le, timing.counts, strict=True):
                total += count
                buckets.append((le, float(total)))
            family.add_metric(values, buckets, timing.sum)
            family.samples.append(
                Sample(
                    f"{self._name}_created",
                    dict(zip(self._labelnames, values, strict=True)),
                    timing.created,
                )
            )
        return [family]
