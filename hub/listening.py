"""Where the hub's servers listen, and how a client on this machine dials them.

`listen` binds a grpc server, `listen_socket` makes the listening socket of the HTTP server;
both take `host:port` (port 0: a free one, reported back) or `unix:<path>`, and fail with
`ListenError` naming the address and the operating system's reason (grpc itself only says
that it could not bind). A unix socket left by a process that died is taken over; one that a
live server listens on, or a file that is not a socket, is never touched. `dial_target`
turns a bound address into what a local client dials (wildcards become loopback).
"""

from __future__ import annotations

import socket
import stat
from pathlib import Path
from typing import Any

from grpc import aio

from hub.client import KEEPALIVE_TIME_MS

UNIX_PREFIX = "unix:"
_MAX_UNIX_PATH_BYTES = 107
_HTTP_BACKLOG = 2048
# What a client on this machine dials to reach a server bound to a wildcard address.
_LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104 (not a bind)


class ListenError(Exception):
    """A server cannot listen on its configured address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot listen on {address}: {reason}")
        self.address = address
        self.reason = reason


def server_options(
    max_message_bytes: int, max_connection_age: tuple[float, float] | None = None
) -> list[tuple[str, Any]]:
    """Options of every grpc server the hub runs; `max_connection_age`: (age, grace) in
    seconds after which the server asks a client to reconnect (None: never)."""
    options: list[tuple[str, Any]] = [
        # A second server on a used port must fail, not silently share the traffic.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Accept the keepalive pings that BackendClient sends on long-lived calls.
        ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 2),
    ]
    if max_connection_age is not None:
        age, grace = max_connection_age
        options.append(("grpc.max_connection_age_ms", round(age * 1000)))
        options.append(("grpc.max_connection_age_grace_ms", round(grace * 1000)))
    return options


def listen(server: aio.Server, address: str) -> str:
    """Binds `server` to `address` (not yet serving); returns the bound address, with the
    actual port when the configured one was 0. Raises `ListenError` with the reason."""
    if address.startswith(UNIX_PREFIX):
        _claim_unix_socket(address)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        raise ListenError(address, _bind_failure(address)) from None
    if address.startswith(UNIX_PREFIX):
        return address
    host = address.rsplit(":", 1)[0]
    return f"{host}:{port}"


def dial_target(bound: str) -> str:
    """The target a client on this machine uses to reach a server bound to `bound`."""
    if bound.startswith(UNIX_PREFIX):
        return bound
    host, port = bound.rsplit(":", 1)
    return f"{_LOOPBACK_FOR.get(host, host)}:{port}"


def _claim_unix_socket(address: str) -> None:
    """Makes the socket's folder, and removes a socket file left by a process that died, but
    only when nothing listens on it."""
    path = Path(address.removeprefix(UNIX_PREFIX))
    if len(str(path).encode()) > _MAX_UNIX_PATH_BYTES:
        raise ListenError(address, f"the path is longer than {_MAX_UNIX_PATH_BYTES} bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ListenError(address, "a file that is not a socket is in the way")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # stale: its server is gone
            return
    raise ListenError(address, "address already in use")


def _bind_failure(address: str) -> str:
    """Why grpc could not bind `address` (it only says that it could not): binds a plain
    socket to the same address to learn the operating system's reason."""
    fallback = "the address cannot be bound (set GRPC_VERBOSITY=debug for grpc's reason)"
    if address.startswith(UNIX_PREFIX):
        return fallback
    try:
        _bind(address).close()
    except ListenError as error:
        return error.reason
    return fallback


def listen_socket(address: str) -> tuple[socket.socket, str]:
    """A listening socket on `address` for a server that takes one (the HTTP server), and
    the bound address with the actual port. Raises `ListenError` with the reason."""
    if address.startswith(UNIX_PREFIX):
        _claim_unix_socket(address)
    listening = _bind(address)
    listening.listen(_HTTP_BACKLOG)
    if address.startswith(UNIX_PREFIX):
        return listening, address
    host = address.rsplit(":", 1)[0]
    return listening, f"{host}:{listening.getsockname()[1]}"


def _bind(address: str) -> socket.socket:
    """A socket bound to `address` (`host:port` or `unix:<path>`); `ListenError` with the
    operating system's reason if it cannot be."""
    if address.startswith(UNIX_PREFIX):
        family, kind, proto = socket.AF_UNIX, socket.SOCK_STREAM, 0
        sockaddr: Any = address.removeprefix(UNIX_PREFIX)
    else:
        host, port = address.rsplit(":", 1)
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(
                host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
        except socket.gaierror as error:
            raise ListenError(address, f"cannot resolve {host!r}: {error.strerror}") from None
    bound = socket.socket(family, kind, proto)
    try:
        if family != socket.AF_UNIX:
            # Like every server: a port whose old connections linger in TIME_WAIT is free.
            bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound.bind(sockaddr)
    except OSError as error:
        bound.close()
        reason = (error.strerror or "the address cannot be bound").lower()
        raise ListenError(address, reason) from None
    return bound


def remove_unix_socket(address: str) -> None:
    """Removes the socket file of a server that listened on `address` and has stopped, if
    it was a unix socket (grpc removes its own; the HTTP server's is left behind)."""
    if address.startswith(UNIX_PREFIX):
        Path(address.removeprefix(UNIX_PREFIX)).unlink(missing_ok=True)
