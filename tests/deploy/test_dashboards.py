"""The Grafana files of deploy/grafana: provisioning that Grafana can load, dashboards that
are valid dashboard JSON (unique uids and panel ids, panels on the 24-column grid without
overlap, at least one query per panel) and that query only the provisioned data source, and
which metric families each dashboard shows."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

import pytest

from tests.deploy import catalogue
from tests.deploy.artefacts import (
    DASHBOARD_DIR,
    DASHBOARD_NAMES,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    dashboards,
    load_yaml,
    used_families,
)

GRID_COLUMNS = 24
SCHEMA_VERSION = 39
# The one data source reference that is not Prometheus: Grafana's built-in annotations.
BUILT_IN_ANNOTATIONS = {"type": "grafana", "uid": "-- Grafana --"}


def provisioned_datasource() -> dict[str, Any]:
    """The one data source of the provisioning file."""
    [datasource] = load_yaml(DATASOURCES)["datasources"]
    return dict(datasource)


def datasource_references(node: Any) -> Iterator[dict[str, Any]]:
    """Every `datasource` value anywhere in a dashboard's JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasource_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_references(item)


def test_the_datasource_is_provisioned_with_a_fixed_uid() -> None:
    datasource = provisioned_datasource()
    assert ("hub-prometheus", "prometheus", "proxy") == (
        datasource["uid"],
        datasource["type"],
        datasource["access"],
    )
    assert 1 == load_yaml(DATASOURCES)["apiVersion"]


def test_the_dashboard_provider_loads_the_folder_of_the_dashboards() -> None:
    document = load_yaml(DASHBOARD_PROVIDERS)
    [provider] = document["providers"]
    assert (1, "file", "hub") == (document["apiVersion"], provider["type"], provider["folder"])
    assert provider["options"]["path"].endswith("/dashboards/hub")
    assert sorted(f"{name}.json" for name in DASHBOARD_NAMES) == sorted(
        path.name for path in DASHBOARD_DIR.iterdir()
    )


def test_dashboards_have_unique_uids_and_titles_and_the_schema_version() -> None:
    boards = dashboards().values()
    assert ["hub-application", "hub-business", "hub-system"] == sorted(b["uid"] for b in boards)
    assert 3 == len({board["title"] for board in boards})
    assert {SCHEMA_VERSION} == {board["schemaVersion"] for board in boards}


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels_have_unique_ids_and_at_least_one_query(name: str) -> None:
    panels = dashboards()[name]["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    for panel in panels:
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(target["expr"].strip() for target in targets), panel["title"]
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert panel["title"], panel["id"]
        assert panel["description"], panel["title"]


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    boxes = {
        panel["title"]: (grid["x"], grid["y"], grid["w"], grid["h"])
        for panel in dashboards()[name]["panels"]
        for grid in [panel["gridPos"]]
    }
    assert [] == [title for title, (x, _, w, _) in boxes.items() if x < 0 or x + w > GRID_COLUMNS]
    overlapping = [
        (first, second)
        for (first, (x1, y1, w1, h1)), (second, (x2, y2, w2, h2)) in combinations(boxes.items(), 2)
        if x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1
    ]
    assert [] == overlapping


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_datasource_reference_is_the_provisioned_one(name: str) -> None:
    datasource = provisioned_datasource()
    expected = {"type": datasource["type"], "uid": datasource["uid"]}
    references = list(datasource_references(dashboards()[name]))
    assert [] == [ref for ref in references if ref not in (expected, BUILT_IN_ANNOTATIONS)]
    assert expected in references


def test_each_dashboard_shows_its_part_of_the_metric_catalogue() -> None:
    """system: host and process resources; application: HTTP, gRPC, WebSocket and events;
    business: the metrics derived from domain events. Every dashboard's `job` variable
    lists the jobs from process_start_time_seconds."""
    shown: dict[str, set[str]] = {name: set() for name in DASHBOARD_NAMES}
    for family, places in used_families(catalogue.HISTOGRAMS).items():
        for place in places:
            if (name := place.split(".json ", 1)[0]) in shown:
                shown[name].add(family)
    assert {
        "system": {
            "hub_host_cpu_seconds_total",
            "hub_host_cpus",
            "hub_host_memory_total_bytes",
            "hub_host_memory_available_bytes",
            "hub_host_disk_read_bytes_total",
            "hub_host_disk_written_bytes_total",
            "hub_host_network_receive_bytes_total",
            "hub_host_network_transmit_bytes_total",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "hub_process_disk_read_bytes_total",
            "hub_process_disk_written_bytes_total",
            "hub_process_network_receive_bytes_total",
            "hub_process_network_transmit_bytes_total",
        },
        "application": {
            "process_start_time_seconds",
            "http_requests_total",
            "http_request_duration_seconds",
            "grpc_server_started_total",
            "grpc_server_handled_total",
            "grpc_server_handling_seconds",
            "grpc_client_handled_total",
            "grpc_client_handling_seconds",
            "hub_websocket_connections",
            "hub_websocket_messages_sent_total",
            "hub_event_subscriptions",
            "hub_event_subscriber_queue_length",
            "hub_events_published_total",
            "hub_outbox_pending_events",
            "hub_event_relay_lag_seconds",
            "hub_event_slow_consumer_disconnects_total",
        },
        "business": {
            "process_start_time_seconds",
            "hub_active_users",
            "hub_signups_total",
            "hub_conversions_total",
            "hub_feature_usage_total",
            "hub_revenue_total",
        },
    } == shown


def test_jaeger_is_provisioned_beside_prometheus() -> None:
    """The traces' data source: Jaeger's query service, not the default one."""
    document = load_yaml(DATASOURCES.parent / "jaeger.yml")
    [datasource] = document["datasources"]
    assert (1, "hub-jaeger", "jaeger", "proxy", False) == (
        document["apiVersion"],
        datasource["uid"],
        datasource["type"],
        datasource["access"],
        datasource["isDefault"],
    )
    assert datasource["url"].endswith(":16686")
