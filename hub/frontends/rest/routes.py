"""REST routes derived from the `google.api.http` options of the proto services.

Nothing here names a particular RPC: every method of every service handed in that carries
an http rule (and each of its `additional_bindings`) becomes an `HttpRoute`, so adding an
annotated RPC to a proto adds a route. The gateway configuration then decides which of
them are exposed (`expose`): a route is exposed when a configured entry's path is a
segment-aligned prefix of its template, names its service, and lists its HTTP method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import google.api.http_pb2 as http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from hub.client import http_rule
from hub.frontends.rest.template import PathTemplate, parse

_PATTERNS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class HttpRoute:
    """One HTTP binding of one RPC."""

    http_method: str
    template: PathTemplate
    body: str
    response_body: str
    method: MethodDescriptor
    request_type: type[Message]
    response_type: type[Message]

    @property
    def request_descriptor(self) -> Descriptor:
        """The request message's descriptor."""
        return self.method.input_type

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, `/hub.user.v1.UserService/GetUser`."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def service(self) -> str:
        """The full name of the proto service, `hub.user.v1.UserService`."""
        return str(self.method.containing_service.full_name)


@dataclass(frozen=True)
class Exposure:
    """One `api_gateway.routes` entry: a path prefix of one service, and its methods."""

    path: str
    service: str
    methods: frozenset[str]


class RouteError(ValueError):
    """An http rule that cannot be served (bad template, unknown body field, ...)."""


def http_routes(services: Iterable[ServiceDescriptor]) -> list[HttpRoute]:
    """Every http binding of every method of `services`, in declaration order."""
    routes: list[HttpRoute] = []
    for service in services:
        for method in service.methods:
            rule = http_rule(method)
            if rule is None:
                continue
            for binding in (rule, *rule.additional_bindings):
                routes.append(_route(method, binding))
    return routes


def expose(routes: Sequence[HttpRoute], exposures: Sequence[Exposure]) -> list[HttpRoute]:
    """The routes that the gateway configuration lets out, in their original order."""
    return [route for route in routes if any(_covers(e, route) for e in exposures)]


def _covers(exposure: Exposure, route: HttpRoute) -> bool:
    prefix = exposure.path.rstrip("/")
    literal = route.template.literal_prefix
    aligned = literal == prefix or literal.startswith(prefix + "/")
    return aligned and exposure.service == route.service and route.http_method in exposure.methods


def _route(method: MethodDescriptor, rule: http_pb2.HttpRule) -> HttpRoute:
    kind = rule.WhichOneof("pattern")
    if kind not in _PATTERNS:
        raise RouteError(f"{method.full_name}: unsupported http pattern {kind!r}")
    try:
        template = parse(getattr(rule, kind))
    except ValueError as error:
        raise RouteError(f"{method.full_name}: {error}") from error
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    fields = method.input_type.fields_by_name
    if rule.body not in ("", "*") and rule.body not in fields:
        raise RouteError(f"{method.full_name}: body field {rule.body!r} does not exist")
    if rule.response_body and rule.response_body not in method.output_type.fields_by_name:
        raise RouteError(f"{method.full_name}: response_body {rule.response_body!r} does not exist")
    for variable in template.variables:
        _check_field_path(method, variable.field_path)
    return HttpRoute(
        http_method=kind.upper(),
        template=template,
        body=rule.body,
        response_body=rule.response_body,
        method=method,
        request_type=request_type,
        response_type=response_type,
    )


def _check_field_path(method: MethodDescriptor, path: tuple[str, ...]) -> None:
    message = method.input_type
    for depth, name in enumerate(path):
        field = message.fields_by_name.get(name)
        if field is None:
            raise RouteError(f"{method.full_name}: path variable {'.'.join(path)!r} names no field")
        if depth < len(path) - 1:
            if field.message_type is None:
                raise RouteError(f"{method.full_name}: {name!r} in a path variable is no message")
            message = field.message_type
