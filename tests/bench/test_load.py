"""gRPC load with h2load (bench/load.py) against a real `hub serve`: what it counts.

h2load takes any HTTP 200 for a success; the load function must count a call the server
answered with a gRPC error as an error, from the hub's own metrics.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import tools
from bench.hubproc import HubProcess, seed_mindmap, start_hub
from bench.load import LoadResult, grpc_frame, grpc_unary, h2load_summary
from bench.throughput import GET_MINDMAP
from hub.contracts.mindmap.v1 import mindmap_pb2
from tests.bench.programs import require

SECONDS = 1.0


@pytest.fixture(scope="module")
def hub() -> Iterator[HubProcess]:
    """One `hub serve` for the module's tests (each reads counter differences)."""
    require([tools.H2LOAD])
    process = start_hub()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def mindmap_id(hub: HubProcess) -> str:
    """The id of the seeded mindmap."""
    return seed_mindmap(hub, nodes=1)


def get_mindmap(hub: HubProcess, mindmap_id: str, where: str) -> LoadResult:
    """GetMindmap(`mindmap_id`) through the front end or straight to the backend."""
    request = mindmap_pb2.GetMindmapRequest(id=mindmap_id).SerializeToString()
    target = hub.grpc_target if where == "frontend" else hub.backend_target("mindmap-service")
    return grpc_unary(
        target,
        GET_MINDMAP,
        request,
        seconds=SECONDS,
        connections=4,
        answered_ok=lambda: hub.answered_ok(where, GET_MINDMAP),
    )


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["frontend", "backend"])
def test_calls_answered_ok_are_successes(hub: HubProcess, mindmap_id: str, where: str) -> None:
    """Over TCP to the front end and over the backend's unix socket alike."""
    result = get_mindmap(hub, mindmap_id, where)

    assert 0 < result.requests
    assert 0 == result.errors
    assert result.p50_ms <= result.p99_ms


@pytest.mark.e2e
def test_calls_answered_with_a_grpc_error_are_errors(hub: HubProcess) -> None:
    """NOT_FOUND comes back in an HTTP 200 with `grpc-status: 5`: h2load says success, the
    hub's counters say otherwise, and every call counts as an error."""
    result = get_mindmap(hub, "no-such-mindmap", "frontend")

    assert 0 < result.requests
    assert result.requests == result.errors
    assert 0.0 == result.throughput


def test_grpc_frame_is_the_length_prefixed_message() -> None:
    """Flag byte 0 (not compressed), then the length as 4 bytes, big-endian."""
    assert b"\x00\x00\x00\x00\x03abc" == grpc_frame(b"abc")


def test_h2load_summary_reads_the_figures_used() -> None:
    """From h2load's own summary lines."""
    output = (
        "finished in 5.00s, 2491.00 req/s, 1.02MB/s\n"
        "requests: 12455 total, 12471 started, 12455 done, 12450 succeeded, 5 failed,"
        " 5 errored, 0 timeout\n"
        "status codes: 12451 2xx, 0 3xx, 0 4xx, 0 5xx\n"
    )

    assert {"seconds": 5.0, "done": 12455, "succeeded": 12450, "2xx": 12451} == (
        h2load_summary(output)
    )


def test_h2load_summary_without_its_figures_is_an_error() -> None:
    """An h2load that printed something else (a changed format) is not read as zero."""
    with pytest.raises(RuntimeError, match="h2load printed no 'seconds'"):
        h2load_summary("connect error\n")
