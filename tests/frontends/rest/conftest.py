"""Fixtures of the REST front end's tests: an HTTP client of a running hub, a REST app
served by a real uvicorn server, the routes of the real protos, and a test-only service
(`testdata/widgets.proto`) compiled at test time into its own descriptor pool.

The test-only service never enters the default pool, so it cannot clash with anything
imported elsewhere; its messages are made from the pool's descriptors, as the REST front
end makes them for any service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc_tools
import httpx
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_tools import protoc
from starlette.types import ASGIApp

from hub.client import SERVICE_DESCRIPTORS
from hub.frontends.http import HttpServer
from hub.frontends.rest.problems import PROBLEM_JSON
from hub.frontends.rest.responses import malformed_request
from hub.frontends.rest.routes import HttpRoute, http_routes
from hub.listening import dial_target, listen_socket
from hub.testing import RunningHub

TESTDATA = Path(__file__).parent / "testdata"
REPOSITORY = Path(__file__).parents[3]
WIDGETS = "hubtest.widgets.v1.WidgetService"


def compile_protos(folder: Path, out: Path) -> descriptor_pb2.FileDescriptorSet:
    """Compiles every .proto in `folder` (with the googleapis and well-known imports) into
    one FileDescriptorSet, comments included."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    target = out / "testdata.binpb"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{folder}",
            f"-I{REPOSITORY / 'third_party' / 'googleapis'}",
            f"-I{well_known}",
            f"--descriptor_set_out={target}",
            "--include_imports",
            "--include_source_info",
            *sorted(p.name for p in folder.glob("*.proto")),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed on {folder} (exit {status})")
    return descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())


@pytest.fixture(scope="session")
def testdata_descriptors(
    tmp_path_factory: pytest.TempPathFactory,
) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet of `testdata/`."""
    return compile_protos(TESTDATA, tmp_path_factory.mktemp("protos"))


@pytest.fixture(scope="session")
def testdata_pool(
    testdata_descriptors: descriptor_pb2.FileDescriptorSet,
) -> descriptor_pool.DescriptorPool:
    """A descriptor pool of `testdata/` alone (with the files it imports)."""
    pool = descriptor_pool.DescriptorPool()
    for file in testdata_descriptors.file:
        pool.Add(file)
    return pool


@pytest.fixture(scope="session")
def widgets(testdata_pool: descriptor_pool.DescriptorPool) -> ServiceDescriptor:
    """The test-only WidgetService."""
    return testdata_pool.FindServiceByName(WIDGETS)


def hub_routes() -> list[HttpRoute]:
    """Every http binding of the hub's own services."""
    return http_routes(SERVICE_DESCRIPTORS.values())


def route_of(routes: list[HttpRoute], method: str, http_method: str | None = None) -> HttpRoute:
    """The route of RPC `method` (its first binding, or the one with `http_method`)."""
    for route in routes:
        if route.method.name == method and http_method in (None, route.http_method):
            return route
    raise LookupError(f"no route of {method} {http_method or ''}")


@pytest.fixture
async def http(running: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running hub's REST front end."""
    async with httpx.AsyncClient(base_url=running.http_url, timeout=30) as client:
        yield client


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """Serves `app` with the hub's HTTP server on a free loopback port; yields its URL."""
    listening, bound = listen_socket("127.0.0.1:0")
    malformed = malformed_request()
    server = HttpServer(app, listening, bad_request=(PROBLEM_JSON.encode(), malformed.body))
    await server.start()
    try:
        yield f"http://{dial_target(bound)}"
    finally:
        await server.stop(0)
