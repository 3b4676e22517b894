"""The metric-name extraction of tests/deploy/promql.py on expressions written to trip it:
functions, aggregations with label lists, matchers, ranges, offsets, strings, numbers,
Grafana variables, and recording rules resolved to what they read."""

from __future__ import annotations

import pytest

from tests.deploy.promql import families, metric_names, resolve

HISTOGRAMS = {"http_request_duration_seconds", "grpc_server_handling_seconds"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        (
            'http_requests_total{status=~"5..", endpoint="/api/v1/users/{id}"}',
            {"http_requests_total"},
        ),
        ("sum by (job, le) (rate(a_bucket[5m]))", {"a_bucket"}),
        (
            "sum(rate(a_total[5m])) without (instance, mode) / on (job) group_left () b",
            {"a_total", "b"},
        ),
        ('count_values("version", build_info) > bool 1', {"build_info"}),
        ("topk(5, sum without (x) (c)) unless ignoring (y) d offset 1h30m", {"c", "d"}),
        ("max_over_time(deriv(e[10m])[1h:5m]) @ 1700000000", {"e"}),
        ("1 - f / g * 0.95 + 1e3 - 0x1F + Inf - NaN", {"f", "g"}),
        ('time() - process_start_time_seconds{job=~"$job"}', {"process_start_time_seconds"}),
        ("rate(h[$__rate_interval]) and rate(i[${window}])", {"h", "i"}),
        (
            "job:http_requests:rate5m > 1 and on (job) j # a comment naming k",
            {"job:http_requests:rate5m", "j"},
        ),
        ('label_replace(l, "dst", "$1", "src", "(.*)")', {"l"}),
        ("histogram_quantile(0.99, sum by (le) (rate(m_bucket{a='}'}[5m])))", {"m_bucket"}),
        ("sum by (group) (n) or sum without (sum) (o)", {"n", "o"}),
    ],
)
def test_metric_names_are_the_identifiers_that_name_series(expr: str, expected: set[str]) -> None:
    assert expected == metric_names(expr)


def test_recording_rules_resolve_to_the_metrics_their_expressions_read() -> None:
    recorded = {
        "job:errors:ratio": "job:errors:rate / job:requests:rate",
        "job:errors:rate": 'sum without (code) (rate(calls_total{code="Internal"}[5m]))',
        "job:requests:rate": "sum without (code) (rate(calls_total[5m]))",
        "job:loop:a": "job:loop:b",
        "job:loop:b": "job:loop:a + other",
    }
    assert {"calls_total", "raw"} == resolve({"job:errors:ratio", "raw"}, recorded)
    assert {"other"} == resolve({"job:loop:a"}, recorded)


def test_histogram_series_belong_to_their_family_and_nothing_else_is_renamed() -> None:
    names = {
        "http_request_duration_seconds_bucket",
        "grpc_server_handling_seconds_count",
        "grpc_server_handling_seconds_sum",
        "hub_websocket_connections",
        "orders_count",  # a gauge named ..._count, not a histogram series
    }
    assert {
        "http_request_duration_seconds",
        "grpc_server_handling_seconds",
        "hub_websocket_connections",
        "orders_count",
    } == families(names, HISTOGRAMS)


@pytest.mark.parametrize("expr", ['a{b="c}', "sum by (job, le", 'a{b="\\"}'])
def test_unbalanced_expressions_are_refused(expr: str) -> None:
    with pytest.raises(ValueError, match=r"^(unbalanced|unterminated) "):
        metric_names(expr)
