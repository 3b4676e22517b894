"""The one client through which every front end reaches a backend.

`BackendClient` holds one grpc.aio channel per backend service, created from the target the
composition root chose (a unix socket, a TCP address, an `ipv4:`/`ipv6:` list of replicas,
or a `dns:///` name resolving to several). Each channel spreads its calls over the replicas
with gRPC's `round_robin` and health-checks each one on its own (gRPC client-side health
checking, gRFC A17: a `Watch` of the service's status in `grpc.health.v1`, built into
grpcio's core): a replica that reports NOT_SERVING, or whose connection fails, gets no calls
until it is back, and the channel is READY while at least one replica is (`reachable`).
Front ends use its typed stubs
(`users`, `mindmaps`) or, for pure forwarding, `unary_bytes(method)`, a call that passes the
serialized request and response through untouched. Cross-cutting behaviour (metrics, tracing,
policies, deadlines) attaches here, as client interceptors or a channel wrapper passed in by
the composition root, so that it applies whichever front end a request came through. Retries
are gRPC's own: each channel's service config retries the service's reads (`is_read`) on
UNAVAILABLE and CANCELLED, within a retry budget; a retry is picked like any call, so a read
that failed on a replica that went away is answered by another.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import google.api.annotations_pb2 as annotations_pb2
import google.api.http_pb2 as http_pb2
import grpc
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
_READY = grpc.ChannelConnectivity.READY
_KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.max_pings_without_data", 0),
)
# A channel left without calls would go IDLE after 30 minutes and drop its replicas'
# connections and health watches; `reachable` reads the channel's state, so it never idles.
_NEVER_IDLE = ("grpc.client_idle_timeout_ms", 2**31 - 1)


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
    """The gRPC service config (JSON) of a channel to `service`: calls spread over its
    replicas (`round_robin`), each replica health-checked by the status of `service` in its
    `grpc.health.v1` (gRFC A17); reads retried on UNAVAILABLE (a replica unreachable, or
    gone mid-call) and CANCELLED (what a replica that is shutting down answers to calls it
    will not take) with jittered exponential backoff, within a retry budget (gRFC A6);
    writes never retried (a write that timed out may have committed)."""
    reads = [
        {"service": service.full_name, "method": method.name}
        for method in service.methods
        if is_read(method)
    ]
    config: dict[str, object] = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": service.full_name},
        "retryThrottling": {
            "maxTokens": retries.budget_max_tokens,
            "tokenRatio": retries.budget_token_ratio,
        },
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
                    "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
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
            _NEVER_IDLE,
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        )
        self._direct: dict[ServiceName, aio.Channel] = {
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
        self._channels = (
            self._direct
            if channel_wrapper is None
            else {name: channel_wrapper(channel) for name, channel in self._direct.items()}
        )
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

    def reachable(self, service: ServiceName) -> bool:
        """Whether `service` has a replica that is connected and reports SERVING now."""
        return self._direct[service].get_state(try_to_connect=True) is _READY

    async def reachability(self, service: ServiceName) -> AsyncIterator[bool]:
        """`reachable(service)` now, then again at each change, until the client closes."""
        channel = self._direct[service]
        state = channel.get_state(try_to_connect=True)
        while state is not grpc.ChannelConnectivity.SHUTDOWN:
            yield state is _READY
            await channel.wait_for_state_change(state)
            state = channel.get_state(try_to_connect=True)

    def unary_bytes(self, method: str) -> aio.UnaryUnaryMultiCallable[bytes, bytes]:
        """A unary call of `method` (a wire path) that sends and returns serialized messages
        as they are, without parsing them. KeyError for a method no backend serves."""
        return self._raw[method]

    async def close(self) -> None:
        """Closes every channel; calls still running are cancelled."""
        for channel in self._direct.values():
            await channel.close()
