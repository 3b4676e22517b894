"""An OTLP trace receiver that keeps nothing: where a benchmarked hub exports its spans.

`python -m bench.otlpsink PORT` serves `opentelemetry.proto.collector.trace.v1.TraceService`
on 127.0.0.1:PORT and answers every export with success, counting the spans; it runs in a
process of its own (`start_sink`), so its CPU is not charged to the hub. With it, the
"observability on" side of a benchmark pays for span export over OTLP as it would against
Jaeger.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass

from grpc import aio
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from bench.hubproc import free_port


class _Sink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0

    async def Export(  # noqa: N802 (the RPC's name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans += len(scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@dataclass
class SinkProcess:
    """A running sink and its OTLP endpoint."""

    process: subprocess.Popen[bytes]
    endpoint: str

    def stop(self) -> None:
        """Ends the sink."""
        self.process.terminate()
        self.process.wait(timeout=10)


def start_sink() -> SinkProcess:
    """Starts a sink on a free port."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.otlpsink", str(port)]
    )
    return SinkProcess(process, f"http://127.0.0.1:{port}")


async def _serve(port: int) -> None:
    server = aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Sink(), server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
