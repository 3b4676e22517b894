"""The one client through which every front end reaches a backend.

`BackendClient` holds one grpc.aio channel per backend service, created from the target the
composition root chose (a unix socket or TCP address). Front ends use its typed stubs
(`users`, `mindmaps`) or, for pure forwarding, `unary_bytes(method)`, a call that passes the
serialized request and response through untouched. Cross-cutting behaviour (metrics, tracing,
policies, deadlines) attaches here, as client interceptors or a channel wrapper passed in by
the composition root, so that it applies whichever front end a request came through. Retries
are gRPC's own: each channel's service config retries the service's reads (`is_read`) on
UNAVAILABLE, within a retry budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import google.api.annotations_pb2 as annotations_pb2
import google.api.http_pb2 as http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc import aio

from hub.config import Retries, ServiceName
from hub.contracts.mindmap.v1 import mindmap_pb2, mindmap_pb2_grpc
from hub.contracts.user.v1 import user_pb2, user_pb2_grpc

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

SERVICE_DESCRIPTORS: Mapping[ServiceName, ServiceDescriptor] = {
    "user-service": user_pb2.DESCRIPTOR.services_by_name["UserService"],
    "mindmap-service": mindmap_pb2.DESCRIPTOR.services_by_name["MindmapService"],
}
"""The gRPC service behind each service name of the configuration."""

# A ping every 60 s while calls are open (the health watch always is) notices a backend that
# vanished without closing the connection; backend servers accept pings that often (app.py).
KEEPALIVE_TIME_MS = 60_000
_KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.max_pings_without_data", 0),
)


def method_path(service: ServiceDescriptor, method_name: str) -> str:
    """The wire path of a method: `/hub.user.v1.UserService/CreateUser`."""
    return f"/{service.full_name}/{method_name}"


def http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """The method's `google.api.http` rule, if it has one."""
    for field, value in method.GetOptions().ListFields():
        if field.full_name == annotations_pb2.http.full_name:
            rule: http_pb2.HttpRule = value
            return rule
    return None


def is_read(method: MethodDescriptor) -> bool:
    """Whether `method` only reads: its `google.api.http` rule is a GET (safe and idempotent
    by HTTP's definition, which the protos promise by choosing it)."""
    rule = http_rule(method)
    return rule is not None and rule.WhichOneof("pattern") == "get"


def service_config(service: ServiceDescriptor, retries: Retries) -> str:
    """The gRPC service config (JSON) of a channel to `service`: its reads are retried on
    UNAVAILABLE with jittered exponential backoff, within a retry budget (gRFC A6); writes
    are never retried (a write that timed out may have committed)."""
    reads = [
        {"service": service.full_name, "method": method.name}
        for method in service.methods
        if is_read(method)
    ]
    config: dict[str, object] = {
        "retryThrottling": {
            "maxTokens": retries.budget_max_tokens,
            "tokenRatio": retries.budget_token_ratio,
        }
    }
    if reads and retries.max_attempts > 1:
        config["methodConfig"] = [
            {
                "name": reads,
                "retryPolicy": {
                    "maxAttempts": retries.max_attempts,
                    "initialBackoff": f"{retries.initial_backoff_seconds}s",
                    "maxBackoff": f"{retries.max_backoff_seconds}s",
                    "backoffMultiplier": retries.backoff_multiplier,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    return json.dumps(config)


class BackendClient:
    """Channels, stubs and raw calls to the backend services. Close it with `close()`."""

    def __init__(
        self,
        targets: Mapping[ServiceName, str],
        *,
        interceptors: Sequence[aio.ClientInterceptor] = (),
        channel_wrapper: Callable[[aio.Channel], aio.Channel] | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        retries: Retries | None = None,
    ) -> None:
        """`interceptors`: grpc.aio client interceptors of every channel;
        `channel_wrapper`: wraps each channel (observability records every call there,
        cheaper than an interceptor: hub/observability/grpc_client.py); `retries`: how
        reads are retried (default: `Retries()`'s defaults)."""
        retry_settings = retries or Retries()
        options = (
            *_KEEPALIVE_OPTIONS,
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        )
        self._channels: dict[ServiceName, aio.Channel] = {
            name: aio.insecure_channel(
                targets[name],
                options=(
                    *options,
                    ("grpc.service_config", service_config(descriptor, retry_settings)),
                ),
                interceptors=list(interceptors),
            )
            for name, descriptor in SERVICE_DESCRIPTORS.items()
        }
        if channel_wrapper is not None:
            self._channels = {
                name: channel_wrapper(channel) for name, channel in self._channels.items()
            }
        self._raw: dict[str, aio.UnaryUnaryMultiCallable[bytes, bytes]] = {
            method_path(descriptor, method.name): self._channels[name].unary_unary(
                method_path(descriptor, method.name)
            )
            for name, descriptor in SERVICE_DESCRIPTORS.items()
            for method in descriptor.methods
        }
        self.users: UserServiceAsyncStub = user_pb2_grpc.UserServiceStub(
            self._channels["user-service"]
        )
        self.mindmaps: MindmapServiceAsyncStub = mindmap_pb2_grpc.MindmapServiceStub(
            self._channels["mindmap-service"]
        )

    def channel(self, service: ServiceName) -> aio.Channel:
        """The channel to `service`, for stubs of services beside the domain ones (health)."""
        return self._channels[service]

    def unary_bytes(self, method: str) -> aio.UnaryUnaryMultiCallable[bytes, bytes]:
        """A unary call of `method` (a wire path) that sends and returns serialized messages
        as they are, without parsing them. KeyError for a method no backend serves."""
        return self._raw[method]

    async def close(self) -> None:
        """Closes every channel; calls still running are cancelled."""
        for channel in self._channels.values():
            await channel.close()
