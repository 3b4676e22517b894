"""What each part of the observability stack costs: `python -m bench.obsvariants [ROUNDS]`.

Four `hub serve` processes side by side, identical but for `observability`: off; metrics
only (no tracing, no access lines); metrics and JSON access lines; everything (OTLP tracing
at 0.1 to a sink process, as the `observability` scenario's subject). Each is loaded in turn
with wrk (`GET /api/v1/mindmaps/{id}`, 16 connections, 3 s) for ROUNDS rounds (default 5),
and the median throughput and hub CPU per request are printed. A diagnostic for issue 6's
overhead goal, not a scenario with a goal of its own.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from bench.hubproc import HubProcess, seed_mindmap, start_hub
from bench.observability import _rest_get
from bench.otlpsink import start_sink
from bench.throughput import Measured, Target, measure

SECONDS = 3.0
CONNECTIONS = 16


def variants(otlp_endpoint: str) -> dict[str, dict[str, Any]]:
    """The `observability` section of each variant, by name."""
    quiet = {"format": "json", "access_log": False}
    logged = {"format": "json", "access_log": True}
    return {
        "off": {"enabled": False},
        "metrics only": {"tracing": {"exporter": "none"}, "logging": quiet},
        "metrics + access lines": {"tracing": {"exporter": "none"}, "logging": logged},
        "everything (OTLP, 0.1)": {
            "tracing": {
                "exporter": "otlp",
                "otlp_endpoint": otlp_endpoint,
                "sampling_ratio": 0.1,
            },
            "logging": logged,
        },
    }


def main(rounds: int) -> None:
    """Starts the hubs, measures, prints one line per variant."""
    sink = start_sink()
    hubs: dict[str, HubProcess] = {}
    try:
        for name, section in variants(sink.endpoint).items():
            hubs[name] = start_hub(observability=section)
        targets = {name: Target(hub, seed_mindmap(hub), CONNECTIONS) for name, hub in hubs.items()}
        side = _rest_get("REST GET")
        for target in targets.values():
            measure(target, side, 1.0)  # warm-up
        runs: dict[str, list[Measured]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, target in targets.items():
                runs[name].append(measure(target, side, SECONDS))
    finally:
        for hub in hubs.values():
            hub.stop()
        sink.stop()
    for name, measured in runs.items():
        throughput = statistics.median(run.load.throughput for run in measured)
        cpu = statistics.median(run.cpu_us_per_request for run in measured)
        print(f"{name:26} {throughput:7.0f} req/s {cpu:7.0f} us of hub CPU per request")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
