"""`OpsHttp`: the HTTP server of a process without the gateway (roles `users`, `mindmaps`).

It listens on `http.listen` and answers only what operators and orchestrators ask of a
backend process: `/metrics` (when observability is on), `/healthz` and `/readyz`
(hub/frontends/probes.py); any other path is a 404 problem. It starts before the rest of
the process, so that liveness answers while the store opens (readiness says "starting"),
and stops last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from starlette.types import Receive, Scope, Send

from hub.config import Settings
from hub.frontends.http import HttpServer
from hub.frontends.probes import Readiness, probe_pages
from hub.frontends.rest.problems import PROBLEM_JSON
from hub.frontends.rest.responses import HttpProblem, malformed_request, send_response
from hub.listening import listen_socket, remove_unix_socket
from hub.observability.stack import Observability


def operations(
    readiness: Callable[[], Readiness], observability: Observability | None
) -> dict[str, Any]:
    """What every role's HTTP server has, as `HttpServer` keyword arguments: the probes,
    `/metrics` and the observability middleware (when observability is on)."""
    pages = probe_pages(readiness)
    if observability is None:
        return {"pages": pages}
    if observability.settings.metrics.enabled:
        pages[observability.metrics_path] = observability.metrics_app()
    return {"pages": pages, "middleware": observability.wrap}


class OpsHttp:
    """`/metrics`, `/healthz` and `/readyz` on `http.listen`. A `Part`."""

    def __init__(
        self,
        settings: Settings,
        readiness: Callable[[], Readiness],
        observability: Observability | None,
    ) -> None:
        self._settings = settings
        self._readiness = readiness
        self._observability = observability
        self.http_address = ""
        """The bound address (actual port), once started."""
        self._server: HttpServer | None = None

    async def start(self) -> None:
        listening, self.http_address = listen_socket(self._settings.http.listen)
        try:
            self._server = HttpServer(
                _not_found,
                listening,
                bad_request=(PROBLEM_JSON.encode(), malformed_request().body),
                **operations(self._readiness, self._observability),
            )
            await self._server.start()
        except BaseException:
            listening.close()  # the server never took it over
            raise

    async def drain(self) -> None:
        """Nothing to drain: `/readyz` says "draining" from now on (the hub's state)."""

    async def stop(self, deadline: float) -> None:
        if self._server is not None:
            await self._server.stop(max(0.0, deadline - time.monotonic()))
            self._server = None
            remove_unix_socket(self.http_address)

    def listening(self) -> dict[str, str]:
        return {"HTTP server (/metrics, /healthz, /readyz)": self.http_address}


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Every other path: a backend process serves no API over HTTP."""
    problem = HttpProblem(
        404,
        "a backend process serves only /metrics, /healthz and /readyz over HTTP; "
        "the API is on the gateway",
        code=grpc.StatusCode.NOT_FOUND,
        reason="ROUTE_NOT_FOUND",
    )
    await send_response(send, problem.response(scope["path"]))
