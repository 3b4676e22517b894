"""Process and host metrics, read at scrape time (no thread, no polling).

`SystemCollector` reads the host through psutil and the process's own I/O through
`/proc/self/io`; prometheus_client's `ProcessCollector` (registered beside it by
`register_system`) gives the standard `process_*` families (CPU seconds, memory, open and
max file descriptors, start time).

`hub_process_network_*_bytes_total` are the payload bytes of the HTTP server's connections
as the ASGI middleware sees them (`NetworkCounter`): HTTP request and response bodies, and
WebSocket message payloads (UTF-8 bytes of text messages). Not counted: HTTP headers and
framing, WebSocket frame headers, control frames (ping/pong/close), TLS, and the gRPC front
end's traffic (grpc's sockets are not visible to Python). The host's interfaces, in full,
are `hub_host_network_*_bytes_total{device}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_PROC_IO = Path("/proc/self/io")


@dataclass
class NetworkCounter:
    """Payload bytes the HTTP server received and sent (see the module docstring)."""

    received: int = 0
    sent: int = 0


def _proc_io() -> dict[str, int]:
    """`/proc/self/io` as a dict; empty where it does not exist (not Linux)."""
    try:
        text = _PROC_IO.read_text()
    except OSError:
        return {}
    return {key: int(value) for key, value in (line.split(": ") for line in text.splitlines())}


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


class SystemCollector(Collector):
    """Host and process figures; see the module docstring."""

    def __init__(self, network: NetworkCounter) -> None:
        self._network = network

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        io = _proc_io()
        if io:
            yield _counter(
                "hub_process_disk_read_bytes",
                "Bytes this process caused to be read from storage (/proc/self/io read_bytes).",
                io.get("read_bytes", 0),
            )
            yield _counter(
                "hub_process_disk_written_bytes",
                "Bytes this process caused to be written to storage (/proc/self/io write_bytes).",
                io.get("write_bytes", 0),
            )
        yield _counter(
            "hub_process_network_receive_bytes",
            "Payload bytes the HTTP server received (bodies, WebSocket messages).",
            self._network.received,
        )
        yield _counter(
            "hub_process_network_transmit_bytes",
            "Payload bytes the HTTP server sent (bodies, WebSocket messages).",
            self._network.sent,
        )
        cpu = CounterMetricFamily(
            "hub_host_cpu_seconds", "CPU time of the host, by mode.", labels=("mode",)
        )
        for mode, seconds in psutil.cpu_times()._asdict().items():
            cpu.add_metric((mode,), seconds)
        yield cpu
        yield GaugeMetricFamily(
            "hub_host_cpus", "Logical CPUs of the host.", value=psutil.cpu_count() or 0
        )
        memory = psutil.virtual_memory()
        yield GaugeMetricFamily(
            "hub_host_memory_total_bytes", "Memory of the host.", value=memory.total
        )
        yield GaugeMetricFamily(
            "hub_host_memory_available_bytes",
            "Memory available to new processes without swapping.",
            value=memory.available,
        )
        disk = psutil.disk_io_counters()
        if disk is not None:
            yield _counter(
                "hub_host_disk_read_bytes", "Bytes read by the host's disks.", disk.read_bytes
            )
            yield _counter(
                "hub_host_disk_written_bytes",
                "Bytes written by the host's disks.",
                disk.write_bytes,
            )
        received = CounterMetricFamily(
            "hub_host_network_receive_bytes",
            "Bytes received by the host, by network interface.",
            labels=("device",),
        )
        sent = CounterMetricFamily(
            "hub_host_network_transmit_bytes",
            "Bytes sent by the host, by network interface.",
            labels=("device",),
        )
        for device, counters in psutil.net_io_counters(pernic=True).items():
            received.add_metric((device,), counters.bytes_recv)
            sent.add_metric((device,), counters.bytes_sent)
        yield received
        yield sent


def register_system(registry: CollectorRegistry, network: NetworkCounter) -> None:
    """Registers the process (`process_*`) and system collectors into `registry`."""
    ProcessCollector(registry=registry)
    registry.register(SystemCollector(network))
