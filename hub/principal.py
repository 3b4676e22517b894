"""The principal, who a call is made for, and its wire form between the gateway and backends
(and the client's address, which the front ends hand the gateway's policies).

The gateway authenticates a call's credentials (`hub.policies.auth`) and sends the backends the
principal instead: `x-hub-principal` (the subject: a user id or a service's name) and
`x-hub-roles` (comma-separated). Front ends drop any `x-hub-*` key a client sends, so a backend
can trust these. A call without them is anonymous: authentication is off, or the gateway's
configuration lets that RPC go without credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

AUTHORIZATION_KEY = "authorization"
"""The metadata key (and HTTP header) of a caller's credentials, which the gateway's
authentication replaces with the principal."""
GATEWAY_PREFIX = "x-hub-"
"""Metadata keys the gateway sets; front ends drop those a client sends."""
PEER_KEY = "x-hub-peer"
"""The client's address, which front ends add for the policies (rate limits by address)."""
PRINCIPAL_KEY = "x-hub-principal"
ROLES_KEY = "x-hub-roles"
ADMIN_ROLE = "admin"
"""The role that may read and change everyone's data."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `subject` (a user id, or a service's name) and roles."""

    subject: str
    roles: frozenset[str] = frozenset()

    @property
    def admin(self) -> bool:
        """Whether the principal may act on everyone's data."""
        return ADMIN_ROLE in self.roles

    def metadata(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """The gRPC metadata that carries the principal to a backend."""
        return ((PRINCIPAL_KEY, self.subject), (ROLES_KEY, ",".join(sorted(self.roles))))


def principal_from(metadata: Iterable[tuple[str, str | bytes]]) -> Principal | None:
    """The principal a call's metadata carries; None when the call is anonymous."""
    subject = roles = ""
    for key, value in metadata:
        if key == PRINCIPAL_KEY and isinstance(value, str):
            subject = value
        elif key == ROLES_KEY and isinstance(value, str):
            roles = value
    if not subject:
        return None
    return Principal(subject, frozenset(role for role in roles.split(",") if role))


def peer_host(peer: str) -> str:
    """The client's address in a grpc peer string: `ipv4:10.0.0.7:5000` -> `10.0.0.7`,
    `ipv6:[::1]:5000` -> `::1`; `unix:...` (a local socket) -> `unix`."""
    kind, _, address = peer.partition(":")
    if kind == "ipv4":
        return address.rsplit(":", 1)[0]
    if kind == "ipv6":
        return address.rsplit(":", 1)[0].strip("[]")
    return kind
