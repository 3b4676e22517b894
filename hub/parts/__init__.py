"""The parts a hub process is made of; `hub serve --role` picks which ones run.

- `backends.Backends`: the store, the event relay (outbox to bus) and one grpc server, with
  its health service, per backend service the role hosts;
- `gateway.Gateway`: the public front ends (gRPC, and the HTTP server with REST, GraphQL,
  `/ws`, `/metrics` and the probes), the policies and the `BackendClient` they call through;
- `ops.OpsHttp`: for a role without the gateway, an HTTP server with `/metrics` and the
  probes only.

Each is a `Part`: the composition root (hub/app.py) starts them in order and stops them in
reverse, in two passes (first every part drains: stops taking new work and ends its
streams; then the bus closes; then every part stops within the grace period).
"""

from __future__ import annotations

from typing import Protocol


class Part(Protocol):
    """One part of a hub process."""

    async def start(self) -> None:
        """Starts serving. On failure, what did start is left for `drain` and `stop`."""

    async def drain(self) -> None:
        """Stops taking new work and ends long-lived streams; running calls go on."""

    async def stop(self, deadline: float) -> None:
        """Lets running calls finish until `deadline` (a `time.monotonic()` value), then
        stops and releases everything. Safe after a partial or failed start."""

    def listening(self) -> dict[str, str]:
        """Each address the part listens on, by what listens there (start-up log)."""
