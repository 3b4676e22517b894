"""The test-only `ThingService` (`testdata/schema/everything.proto`): one field of every
proto3 JSON mapping type, with field rules and behaviors, compiled at test time into a
descriptor pool of its own, with its comments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc_tools
from google.protobuf import descriptor_pb2, message_factory
from google.protobuf.descriptor import Descriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_tools import protoc

from hub.frontends.rest.descriptors import descriptor_pool_of, proto_comments
from hub.frontends.rest.routes import HttpRoute, http_routes
from hub.frontends.rest.schema import Schemas

FOLDER = Path(__file__).parent / "testdata" / "schema"
REPOSITORY = Path(__file__).parents[3]
PACKAGE = "hubtest.schema.v1"


@dataclass(frozen=True)
class Things:
    """The compiled service, its routes and their schemas."""

    service: ServiceDescriptor
    routes: list[HttpRoute]
    schemas: Schemas
    comments: dict[str, str]

    def message(self, name: str) -> Descriptor:
        """A message of the test package by its short name."""
        return self.service.file.pool.FindMessageTypeByName(f"{PACKAGE}.{name}")

    def new(self, name: str) -> Message:
        """An empty instance of a message of the test package."""
        return message_factory.GetMessageClass(self.message(name))()

    def route(self, method: str) -> HttpRoute:
        """The route of RPC `method`."""
        return next(route for route in self.routes if route.method.name == method)


def compile_things(out: Path) -> Things:
    """Compiles the test proto into `out` and loads it into a fresh pool."""
    target = out / "things.binpb"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{FOLDER}",
            f"-I{REPOSITORY / 'proto'}",
            f"-I{REPOSITORY / 'third_party' / 'googleapis'}",
            f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
            f"--descriptor_set_out={target}",
            "--include_source_info",
            "everything.proto",
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed on {FOLDER} (exit {status})")
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())
    pool = descriptor_pool_of(descriptor_set)
    service = pool.FindServiceByName(f"{PACKAGE}.ThingService")
    routes = http_routes([service])
    comments = proto_comments(descriptor_set)
    return Things(service, routes, Schemas(routes, comments=comments), comments)
