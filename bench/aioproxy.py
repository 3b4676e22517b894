"""A plain grpc.aio forwarding proxy, the other peer of the `grpc-proxy` scenario.

`python -m bench.aioproxy LISTEN UPSTREAM` serves `MindmapService/GetMindmap` on LISTEN
(`host:port`) by forwarding each call's serialized request to UPSTREAM (`unix:PATH` or
`host:port`) over one channel and relaying the answer: the least a grpc.aio proxy does,
with no metadata, deadline, metrics, tracing or logging. It prints `ready` once it
listens, and serves until SIGTERM. Its event loop is uvloop's, like `hub serve`'s.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import uvloop
from grpc import aio

SERVICE = "hub.mindmap.v1.MindmapService"
METHOD = "GetMindmap"


async def serve(listen: str, upstream: str) -> None:
    """Forwards until SIGTERM (see the module docstring)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aio.insecure_channel(upstream) as channel:
        call: aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            f"/{SERVICE}/{METHOD}"
        )

        async def forward(request: bytes, _context: aio.ServicerContext[bytes, bytes]) -> bytes:
            response: bytes = await call(request)
            return response

        server = aio.server(options=[("grpc.so_reuseport", 0)])
        handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
            METHOD: grpc.unary_unary_rpc_method_handler(forward)
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        server.add_insecure_port(listen)
        await server.start()
        print("ready", flush=True)
        await stop.wait()
        await server.stop(None)


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1], sys.argv[2]))
