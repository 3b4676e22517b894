"""A real Prometheus scraping a real hub: the rules and the dashboards' queries work on the
hub's actual series, not only on the names (test_metric_names.py) or on hand-made series
(the promtool unit tests). Label names and values the rules rely on (`status`, `grpc_code`,
`grpc_type="unary"`, `mode="idle"`, `window`, the label that tells the gRPC servers apart)
are checked here, and so are runtime errors no parser sees (such as a many-to-many match).

Needs the hub's `/metrics` (the observability work of issue 6) and the `prometheus` binary
(Debian package `prometheus`, installed by .ci/run)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import httpx

from hub.listening import dial_target
from hub.testing import RunningHub, running_hub
from tests.deploy.artefacts import as_promql, dashboard_expressions, recorded, rules
from tests.deploy.prometheus_server import JOB, Prometheus, Sample, running_prometheus
from tests.deploy.tools import required_tool
from tests.deploy.workload import traffic, workload

WAIT_SECONDS = 30.0
# The rules select errors by label value; the workload has none, so check the values' form:
# statuses are three digits (`status=~"5.."`), codes are spelled as the rules spell them
# (the cancelled code is spelled either way: no rule reads it).
_CODES = (
    "OK|Canceled|Cancelled|Unknown|InvalidArgument|DeadlineExceeded|NotFound|AlreadyExists"
    "|PermissionDenied|ResourceExhausted|FailedPrecondition|Aborted|OutOfRange"
    "|Unimplemented|Internal|Unavailable|DataLoss|Unauthenticated"
)
LABEL_VALUES = {  # selector -> whether the hub has series that match it after the workload
    'http_requests_total{status="404"}': True,
    'http_requests_total{status!~"[1-5][0-9][0-9]"}': False,
    'grpc_server_handled_total{grpc_code="NotFound"}': True,
    f'grpc_server_handled_total{{grpc_code!~"{_CODES}"}}': False,
}
# Without a 5xx or a server-side gRPC code in the workload, these have no series at all.
ERROR_RATES = ("job:http_request_errors:rate5m", "job:grpc_server_errors:rate5m")


async def evaluated_recordings(
    prometheus: Prometheus, running: RunningHub, http: httpx.AsyncClient
) -> dict[str, list[Sample]]:
    """Every recording rule's series once each has a number (a rate needs two scrapes with
    traffic between them; a ratio of no traffic is NaN); traffic keeps coming meanwhile."""
    pending: list[str] = []
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                await traffic(running, http)
                found = {name: await prometheus.query(name) for name in recorded()}
                pending = [
                    name
                    for name, samples in found.items()
                    if name not in ERROR_RATES
                    and not (samples and all(math.isfinite(s.value) for s in samples))
                ]
                if not pending:
                    return found
                await asyncio.sleep(0.5)
    except TimeoutError:
        pass
    raise AssertionError(f"no value after {WAIT_SECONDS}s: {pending}")


def label_sets(samples: list[Sample]) -> list[dict[str, str]]:
    """The label sets of `samples` without the metric name, in a stable order."""
    sets = [{k: v for k, v in sample.labels.items() if k != "__name__"} for sample in samples]
    return sorted(sets, key=lambda labels: sorted(labels.items()))


async def test_rules_and_dashboard_queries_evaluate_on_the_hubs_series(tmp_path: Path) -> None:
    """Each recording rule has the labels the alerts and dashboards expect: per job, per
    `grpc_server` for gRPC, per instance for the host; the error ratios are 0 (not absent)
    since the workload's 404, 400 and NotFound are no server errors, and the status and code
    labels have the form the error selectors expect. Every dashboard query and alert
    expression evaluates; exactly the queries that select server errors are empty."""
    binary = required_tool("prometheus")
    async with (
        running_hub(tmp_path / "hub") as running,
        httpx.AsyncClient(base_url=running.http_url) as http,
    ):
        metrics = await http.get("/metrics")
        assert 200 == metrics.status_code, "the hub serves no /metrics (issue 6, branch obs)"
        await workload(running, http)
        target = dial_target(running.hub.http_address)
        async with running_prometheus(binary, tmp_path / "prometheus", target) as prometheus:
            recordings = await evaluated_recordings(prometheus, running, http)
            answers = {
                expression.expr: await prometheus.query(as_promql(expression.expr))
                for expression in dashboard_expressions()
            }
            matching = {
                selector: bool(await prometheus.query(selector)) for selector in LABEL_VALUES
            }
            firing = {
                (rule["alert"], rule["labels"]["severity"]): await prometheus.query(rule["expr"])
                for rule in rules()
                if "alert" in rule
            }

    job = {"job": JOB}
    per_server = [{"grpc_server": "backend", **job}, {"grpc_server": "frontend", **job}]
    per_instance = [{"instance": target, **job}]
    assert {
        "job:http_requests:rate5m": [job],
        "job:http_request_errors:rate5m": [],
        "job:http_request_errors:ratio_rate5m": [job],
        "job:http_request_duration_seconds:p95_5m": [job],
        "job:http_request_duration_seconds:p99_5m": [job],
        "job:grpc_server_handled:rate5m": per_server,
        "job:grpc_server_errors:rate5m": [],
        "job:grpc_server_errors:ratio_rate5m": per_server,
        "job:grpc_server_handling_seconds:p95_5m": per_server,
        "job:grpc_server_handling_seconds:p99_5m": per_server,
        "instance:hub_host_cpu_usage:ratio_rate5m": per_instance,
        "instance:hub_host_memory_usage:ratio": per_instance,
        "job:hub_conversions_per_signups:ratio_increase1d": [job],
    } == {name: label_sets(samples) for name, samples in recordings.items()}
    ratios = ("job:http_request_errors:ratio_rate5m", "job:grpc_server_errors:ratio_rate5m")
    assert [0.0, 0.0, 0.0] == [sample.value for name in ratios for sample in recordings[name]]
    # Idle time cannot make the CPU usage exceed 1; over a few scrapes a second apart it can
    # fall a little below 0 on an idle host (psutil reads and scrape times jitter apart).
    [cpu] = recordings["instance:hub_host_cpu_usage:ratio_rate5m"]
    [memory] = recordings["instance:hub_host_memory_usage:ratio"]
    assert (True, True) == (cpu.value <= 1, 0 < memory.value < 1)

    selects_errors = {expr for expr in answers if 'status=~"5.."' in expr or "DataLoss" in expr}
    assert 2 == len(selects_errors)  # the per-endpoint and the per-method error ratio
    assert selects_errors == {expr for expr, samples in answers.items() if not samples}
    error_alerts: dict[tuple[str, str], list[Sample]] = {
        key: [] for key in firing if key[0] in ("HubHttpErrorRate", "HubGrpcErrorRate")
    }
    assert 4 == len(error_alerts)
    assert error_alerts == {key: firing[key] for key in error_alerts}
    assert LABEL_VALUES == matching
