"""`grpc.health.v1` for every hub server, with Watch streams that end on shutdown.

The stock grpc.aio `HealthServicer` keeps each `Watch` stream open forever, even after
`enter_graceful_shutdown()` has reported NOT_SERVING. A server's `stop(grace)` then waits the
whole grace period whenever anyone watches (load balancers and gRPC client-side health
checking do), although nothing is left to say. `HealthServicer` here is the stock one with
one change: once shutdown has begun, a Watch stream ends right after it has sent NOT_SERVING,
so the watcher learns the news and the server can stop as soon as real calls are done.
"""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health, health_pb2

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthServicer(health.aio.HealthServicer):  # type: ignore[misc]  # untyped base
    """The stock aio health servicer, but Watch ends after NOT_SERVING during shutdown.

    Watch follows the stock implementation (grpcio-health-checking 1.85) line for line but
    for the end condition; it uses the base class's state, which the same version defines.
    """

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:  # noqa: N802 - gRPC method name
        condition = self._server_watchers[request.service]
        self._watcher_count_by_service[request.service] += 1
        last_status = None
        try:
            async with condition:
                while True:
                    status = self._server_status.get(request.service, _UNKNOWN)
                    if status != last_status:
                        await context.write(health_pb2.HealthCheckResponse(status=status))
                    last_status = status
                    if self._gracefully_shutting_down and status == NOT_SERVING:
                        return
                    await condition.wait()
        finally:
            self._watcher_count_by_service[request.service] -= 1
            if self._watcher_count_by_service[request.service] == 0:
                del self._server_watchers[request.service]
                del self._watcher_count_by_service[request.service]
