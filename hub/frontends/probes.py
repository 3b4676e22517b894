"""`/healthz` and `/readyz`: liveness and readiness over HTTP, on every role's HTTP server.

What orchestrators and load balancers ask (Kubernetes probes, a load balancer's health
check), answered in JSON:
- `GET /healthz` (liveness): 200 `{"status": "alive"}` for as long as the process serves
  HTTP at all; a process that stops answering it is restarted.
- `GET /readyz` (readiness): 200 when the process should get traffic, else 503, with the
  reason: `{"ready": false, "state": "draining", "backends": {"user-service": true, ...}}`.
  Not ready while starting or draining, or, for a process that runs the gateway, while a
  backend service has no replica that is reachable and reports SERVING (calls for it could
  only fail). `backends` is absent in a process without a gateway.
Both answer HEAD as GET, and 405 to other methods. The composition root says what the
state is (`Readiness`); this module only words it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.config import HEALTH_PATH, READY_PATH
from hub.frontends.rest.responses import HttpResponse, dump, send_response

State: TypeAlias = Literal["starting", "serving", "draining"]

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


@dataclass(frozen=True)
class Readiness:
    """Whether a process should get traffic, and why (not)."""

    state: State
    backends: Mapping[str, bool] = field(default_factory=dict)
    """For a gateway: whether each backend service has a reachable, SERVING replica."""

    @property
    def ready(self) -> bool:
        """Serving, with every backend service reachable."""
        return self.state == "serving" and all(self.backends.values())

    def document(self) -> dict[str, object]:
        """The JSON body of `/readyz`."""
        body: dict[str, object] = {"ready": self.ready, "state": self.state}
        if self.backends:
            body["backends"] = dict(self.backends)
        return body


def probe_pages(readiness: Callable[[], Readiness]) -> dict[str, ASGIApp]:
    """The `/healthz` and `/readyz` apps by path, for `HttpServer(pages=...)`;
    `readiness` is asked at each `/readyz` request."""
    return {HEALTH_PATH: _Liveness(), READY_PATH: _ReadinessPage(readiness)}


async def _answer(scope: Scope, send: Send, status: int, document: dict[str, object]) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        status, document = 405, {"detail": "use GET"}
        headers = [_JSON, _NO_STORE, (b"allow", b"GET, HEAD")]
    else:
        headers = [_JSON, _NO_STORE]
    await send_response(send, HttpResponse(status, headers, dump(document)))


class _Liveness:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(scope, send, 200, {"status": "alive"})


class _ReadinessPage:
    def __init__(self, readiness: Callable[[], Readiness]) -> None:
        self._readiness = readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        readiness = self._readiness()
        await _answer(scope, send, 200 if readiness.ready else 503, readiness.document())
