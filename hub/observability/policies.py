"""The gateway policies' state as metrics, read at scrape time.

- `hub_circuit_breaker_state{service}` gauge: 0 closed, 1 open, 2 half-open, per backend
  gRPC service (only while circuit breaking is on).
- `hub_cache_hits_total`, `hub_cache_misses_total` counters, `hub_cache_entries` and
  `hub_cache_bytes` gauges (only while caching is on).
- `hub_policy_store_failures_total{policy}` counter: operations of a policy on Redis that
  failed, each answered as if Redis were not there (rate limiting admits the call, the
  cache is bypassed); only for the policies that keep their state in Redis.

Like the event metrics, the policies keep plain counts and a custom collector reads them:
nothing on the request path, and observability imports no policy, only the shape of what it
reads (`CacheCounts`) and callables the composition root hands it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class CacheCounts(Protocol):
    """What the response cache's `stats()` reports."""

    @property
    def hits(self) -> int: ...

    @property
    def misses(self) -> int: ...

    @property
    def entries(self) -> int: ...

    @property
    def bytes(self) -> int: ...


class PoliciesCollector(Collector):
    """See the module docstring. `breakers`: each service's breaker state as a number;
    `cache`: the cache's `stats`, None when caching is off; `store_failures`: the failed
    Redis operations of each policy that keeps its state there."""

    def __init__(
        self,
        breakers: Mapping[str, Callable[[], int]],
        cache: Callable[[], CacheCounts] | None,
        store_failures: Mapping[str, Callable[[], int]],
    ) -> None:
        self._breakers = breakers
        self._cache = cache
        self._store_failures = store_failures

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        if self._breakers:
            state = GaugeMetricFamily(
                "hub_circuit_breaker_state",
                "Circuit breaker of each backend service: 0 closed, 1 open, 2 half-open.",
                labels=("service",),
            )
            for service, read in sorted(self._breakers.items()):
                state.add_metric((service,), read())
            yield state
        if self._cache is not None:
            stats = self._cache()
            yield CounterMetricFamily(
                "hub_cache_hits", "Reads answered from the response cache.", value=stats.hits
            )
            yield CounterMetricFamily(
                "hub_cache_misses",
                "Cacheable reads the response cache could not answer.",
                value=stats.misses,
            )
            yield GaugeMetricFamily(
                "hub_cache_entries", "Responses in the cache.", value=stats.entries
            )
            yield GaugeMetricFamily(
                "hub_cache_bytes",
                "Memory the cache counts: keys, values and bookkeeping.",
                value=stats.bytes,
            )
        if self._store_failures:
            failures = CounterMetricFamily(
                "hub_policy_store_failures",
                "Operations of a gateway policy on Redis that failed, answered as if Redis "
                "were not there (the call admitted, the cache bypassed).",
                labels=("policy",),
            )
            for policy, read in sorted(self._store_failures.items()):
                failures.add_metric((policy,), read())
            yield failures
