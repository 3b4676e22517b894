"""Scenario `observability`: REST GET with the observability stack on against off.

Two `hub serve` processes, identical but for `observability`: the subject with it on
(metrics, the gRPC interceptors and the HTTP middleware, access logs as JSON lines to its
log file, tracing sampled at 0.1 and exported over OTLP to a sink process, bench/otlpsink.py),
the baseline with `observability.enabled: false` (no interceptor, no middleware, no
/metrics). Both are loaded by wrk with `GET /api/v1/mindmaps/{id}`, rounds alternating, and
compared by throughput and by hub CPU per request. Goal: on/off >= 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.hubproc import seed_mindmap, start_hub
from bench.load import http_get
from bench.otlpsink import start_sink
from bench.scenario import Options
from bench.throughput import Side, Target, ThroughputOutcome, alternate

SAMPLING_RATIO = 0.1


def _rest_get(name: str) -> Side:
    return Side(
        name,
        lambda target, seconds: http_get(
            f"{target.hub.http_base}/api/v1/mindmaps/{target.mindmap_id}",
            seconds=seconds,
            connections=target.connections,
        ),
    )


@dataclass(frozen=True)
class ObservabilityScenario:
    """REST GET through a hub with observability on, and through one with it off."""

    name: str = "observability"
    goal: float = 0.95

    def run(self, options: Options) -> ThroughputOutcome:
        """Starts the sink and both hubs, seeds each, then alternates rounds."""
        sink = start_sink()
        on = start_hub(
            observability={
                "tracing": {
                    "exporter": "otlp",
                    "otlp_endpoint": sink.endpoint,
                    "sampling_ratio": SAMPLING_RATIO,
                },
                "logging": {"format": "json", "access_log": True},
            }
        )
        off = start_hub(observability={"enabled": False})
        try:
            return alternate(
                self.name,
                (
                    _rest_get(f"REST GET, observability on (sampling {SAMPLING_RATIO})"),
                    Target(on, seed_mindmap(on), options.connections),
                ),
                (
                    _rest_get("REST GET, observability off"),
                    Target(off, seed_mindmap(off), options.connections),
                ),
                options,
                self.goal,
            )
        finally:
            on.stop()
            off.stop()
            sink.stop()


OBSERVABILITY = ObservabilityScenario()
