"""Health (`grpc.health.v1`, per service, mirroring the backends) and server reflection on the
public gRPC front end."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorProto
from grpc import aio
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hub.frontends.grpc_events import SERVICE_NAME as EVENTS
from hub.policies.breaker import BreakerSettings, BreakerState, CircuitBreaker
from hub.testing import RunningHub
from tests.frontends.conftest import MINDMAPS, NOT_SERVING, SERVING, USERS, Forwarding
from tests.frontends.conftest import wait_for_status as wait_for


async def _check(health_stub: Any, service: str) -> int:
    reply = await health_stub.Check(health_pb2.HealthCheckRequest(service=service))
    status: int = reply.status
    return status


async def test_every_service_reports_serving(running: RunningHub) -> None:
    """Overall (""), each forwarded service by its full gRPC name, and the event service
    served by the front end itself are SERVING."""
    services = ("", USERS, MINDMAPS, EVENTS)
    statuses = [await _check(running.health, service) for service in services]

    assert [SERVING, SERVING, SERVING, SERVING] == statuses


async def test_unknown_service_is_not_found(running: RunningHub) -> None:
    """Health of a service the hub does not serve is NOT_FOUND, as the protocol says."""
    with pytest.raises(aio.AioRpcError) as raised:
        await _check(running.health, "hub.search.v1.SearchService")

    assert grpc.StatusCode.NOT_FOUND == raised.value.code()


async def test_service_health_mirrors_its_backend(forwarding: Forwarding) -> None:
    """A backend going NOT_SERVING turns its service and the overall status NOT_SERVING,
    leaves the other service alone, and coming back restores both."""
    front, backend = forwarding.front, forwarding.backend
    await wait_for(front.health, "", SERVING)

    await backend.health.set(USERS, NOT_SERVING)
    await wait_for(front.health, USERS, NOT_SERVING)

    assert [NOT_SERVING, SERVING] == [
        await _check(front.health, ""),
        await _check(front.health, MINDMAPS),
    ]
    await backend.health.set(USERS, SERVING)
    await wait_for(front.health, "", SERVING)
    assert SERVING == await _check(front.health, USERS)


async def test_stopped_backend_is_not_serving(forwarding: Forwarding) -> None:
    """When the backend's server goes away, every service it hosted reports NOT_SERVING."""
    front = forwarding.front
    await wait_for(front.health, "", SERVING)

    await forwarding.backend.server.stop(0)
    await wait_for(front.health, USERS, NOT_SERVING)
    await wait_for(front.health, MINDMAPS, NOT_SERVING)

    assert NOT_SERVING == await _check(front.health, "")


async def test_draining_front_end_is_not_serving(forwarding: Forwarding) -> None:
    """Once draining, the front end reports NOT_SERVING everywhere though backends serve."""
    front = forwarding.front
    await wait_for(front.health, "", SERVING)

    await front.frontend.drain()

    statuses = [await _check(front.health, service) for service in ("", USERS, MINDMAPS)]
    assert [NOT_SERVING, NOT_SERVING, NOT_SERVING] == statuses


async def _reflect(
    running: RunningHub, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    call = stub.ServerReflectionInfo(iter([request]))
    async for response in call:
        answer: reflection_pb2.ServerReflectionResponse = response
        return answer
    raise AssertionError("reflection answered nothing")


async def test_reflection_lists_the_services(running: RunningHub) -> None:
    """Reflection names both forwarded services, the event service, health and reflection
    itself."""
    response = await _reflect(running, reflection_pb2.ServerReflectionRequest(list_services=""))

    assert [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        EVENTS,
        MINDMAPS,
        USERS,
    ] == sorted(service.name for service in response.list_services_response.service)


@pytest.mark.parametrize(
    ("symbol", "file"),
    [
        (USERS, "hub/user/v1/user.proto"),
        (MINDMAPS, "hub/mindmap/v1/mindmap.proto"),
        (EVENTS, "hub/events/v1/events.proto"),
    ],
)
async def test_reflection_resolves_the_proto_file(
    running: RunningHub, symbol: str, file: str
) -> None:
    """A client can fetch the descriptor of each service's file, to call it without stubs."""
    response = await _reflect(
        running, reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
    )

    protos = [
        FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    assert file == protos[0].name
    assert [symbol.rsplit(".", 1)[1]] == [service.name for service in protos[0].service]


async def test_a_service_is_not_serving_while_its_circuit_breaker_is_open(
    forwarding: Forwarding,
) -> None:
    """Its backend healthy, a service whose breaker opens reports NOT_SERVING (and so does
    the overall status); once the open time is over, half-open, SERVING again, without any
    traffic needed to notice."""
    front = forwarding.front
    breaker = CircuitBreaker(
        "mindmap-service", BreakerSettings(consecutive_failures=1, open_seconds=0.3)
    )
    front.frontend.watch_breakers({MINDMAPS: breaker})
    await wait_for(front.health, "", SERVING)

    breaker.admit()
    breaker.record(success=False)
    await wait_for(front.health, MINDMAPS, NOT_SERVING)
    tripped = [await _check(front.health, ""), await _check(front.health, USERS)]
    await wait_for(front.health, MINDMAPS, SERVING)

    assert [NOT_SERVING, SERVING] == tripped
    assert BreakerState.HALF_OPEN == breaker.state
