"""The metric catalogue fixed for issue 6: the families the rules and dashboards of deploy/
may read, and nothing else, named as the classic text format writes them (counters with
`_total`, histograms by their base name). Kept here as a literal set, on purpose: a rule or
panel that starts reading another family must add it here, in the same change.

`/metrics` serves more than this (the gateway policies' figures, present only while a
policy is on: docs/observability.md); none of those is charted or alerted on."""

from __future__ import annotations

HISTOGRAMS = frozenset(
    {
        "http_request_duration_seconds",
        "grpc_server_handling_seconds",
        "grpc_client_handling_seconds",
    }
)

_GRPC = frozenset(
    f"grpc_{side}_{name}"
    for side in ("server", "client")
    for name in ("started_total", "handled_total", "msg_received_total", "msg_sent_total")
)

FAMILIES = (
    HISTOGRAMS
    | _GRPC
    | {
        "http_requests_total",
        "hub_websocket_connections",
        "hub_websocket_messages_sent_total",
        "hub_event_subscriptions",
        "hub_event_subscriber_queue_length",
        "hub_events_published_total",
        "hub_outbox_pending_events",
        "hub_event_relay_lag_seconds",
        "hub_event_slow_consumer_disconnects_total",
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
        "hub_host_cpu_seconds_total",
        "hub_host_cpus",
        "hub_host_memory_total_bytes",
        "hub_host_memory_available_bytes",
        "hub_host_disk_read_bytes_total",
        "hub_host_disk_written_bytes_total",
        "hub_host_network_receive_bytes_total",
        "hub_host_network_transmit_bytes_total",
        "hub_active_users",
        "hub_signups_total",
        "hub_conversions_total",
        "hub_feature_usage_total",
        "hub_revenue_total",
    }
)
