"""hub.health: a Watch stream tells NOT_SERVING on shutdown, then ends, so it cannot hold a
server's stop() for the whole grace period."""

from __future__ import annotations

import asyncio

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hub.health import HealthServicer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_watch_ends_after_reporting_not_serving_on_shutdown() -> None:
    servicer = HealthServicer()
    server = aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        await servicer.set("svc", SERVING)
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="svc")
            )
            statuses = []
            async with asyncio.timeout(10):  # the stock servicer never ends the stream
                async for reply in call:
                    statuses.append(reply.status)
                    if reply.status == SERVING:
                        await servicer.enter_graceful_shutdown()
            assert [SERVING, NOT_SERVING] == statuses
            assert "StatusCode.OK" == str(await call.code())
    finally:
        await server.stop(None)


async def test_watch_keeps_following_changes_before_shutdown() -> None:
    servicer = HealthServicer()
    server = aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        await servicer.set("svc", SERVING)
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="svc")
            )
            statuses = []
            async for reply in call:
                statuses.append(reply.status)
                if len(statuses) == 1:
                    await servicer.set("svc", NOT_SERVING)  # not a shutdown: keeps going
                elif len(statuses) == 2:
                    await servicer.set("svc", SERVING)
                else:
                    call.cancel()
                    break
            assert [SERVING, NOT_SERVING, SERVING] == statuses
    finally:
        await server.stop(None)
