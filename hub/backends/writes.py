"""Conditional writes: etags, commit times, and the read → apply → compare-and-swap loop.

Every write gets a fresh random etag chosen here; the store swaps only if the stored etag
is still the one the write was computed from (else `Aborted`). `conditional_write` serves
both kinds of caller:
- with the client's etag: a stale etag is `Aborted` at once and nothing is applied;
- without one: the change is computed from the latest state and the swap retried when a
  concurrent write got in between, up to `MAX_ATTEMPTS` times. Each lost swap means another
  writer's swap succeeded, so up to `MAX_ATTEMPTS` concurrent writers of one resource all
  succeed; beyond that a writer may get `Aborted` and should retry.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from hub.errors import Aborted

MAX_ATTEMPTS = 10


class Versioned(Protocol):
    """A stored message with an etag (User, Mindmap)."""

    @property
    def etag(self) -> str: ...


_M = TypeVar("_M", bound=Versioned)
_R = TypeVar("_R")


def new_etag() -> str:
    """A fresh opaque etag for the next version of a resource."""
    return secrets.token_hex(8)


def now() -> Timestamp:
    """The commit time of a write being built."""
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


async def conditional_write(
    *,
    resource_type: str,
    name: str,
    etag: str,
    read: Callable[[], Awaitable[_M]],
    write: Callable[[_M], Awaitable[_R]],
) -> _R:
    """Reads the current version with `read` (which raises `NotFound` if there is none),
    checks the client's `etag` ("" for none) against it, and calls `write` with it; `write`
    must swap on the current version's etag. Returns what `write` returns."""
    attempts_left = MAX_ATTEMPTS
    while True:
        current = await read()
        if etag and etag != current.etag:
            raise Aborted(resource_type, name)
        try:
            return await write(current)
        except Aborted:
            attempts_left -= 1
            if etag or not attempts_left:
                raise
