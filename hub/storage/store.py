"""The `Store` interface that backends persist through.

Messages in and out are the generated protobuf messages (`User`, `Mindmap`, `Event`):
they are the domain's data, and one mapping per implementation turns them into rows.

Contract, for every implementation (tests/storage runs one suite against each):
- Writes are atomic with their event: the change and exactly one outbox row commit
  together, or neither does. A rejected write leaves no outbox row.
- Conditional writes compare `expected_etag` with the stored etag inside the
  transaction: a mismatch raises `hub.errors.Aborted`, a missing row `NotFound`.
  The caller chooses the new etag (it is part of the message it passes).
- Outbox ids are assigned by the store, strictly increasing in commit order.
- List methods return rows in insertion order (`seq`), the key page tokens are built on.
- The relay cursor (the last event id moved to the event bus) persists with the data, so a
  restarted relay resumes after the last event it published, whatever happened in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.contracts.user.v1.user_pb2 import User

T = TypeVar("T")


@dataclass(frozen=True)
class Row(Generic[T]):
    """A stored message with its position in insertion order (the pagination key)."""

    seq: int
    message: T


class StoreUnavailableError(ConnectionError):
    """`Store.open` cannot reach or use the database; the message names it (never with a
    password) and gives the reason. A `ConnectionError`, so that `hub serve` reports it like
    any other resource it cannot get at start (exit 1, one line)."""

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(f"{database} cannot be used: {reason}")
        self.database = database
        self.reason = reason


class Store(Protocol):
    """Persistence of users, mindmaps and the outbox. See the module docstring for the contract."""

    async def open(self) -> None:
        """Connects and applies pending schema migrations. Called once before use."""

    async def close(self) -> None:
        """Waits for running work and releases connections."""

    # Users -------------------------------------------------------------------------------

    async def insert_user(self, user: User, event: Event) -> int:
        """Inserts a new user; returns the event id. Email taken: `AlreadyExists`
        (reason `EMAIL_TAKEN`; emails compare case-insensitively)."""

    async def get_users(self, ids: Sequence[str]) -> dict[str, User]:
        """The users among `ids` that exist, by id."""

    async def list_users(self, after_seq: int, limit: int) -> list[Row[User]]:
        """Up to `limit` users with seq > `after_seq`, by seq."""

    async def update_user(self, user: User, expected_etag: str, event: Event) -> int:
        """Replaces the user with `user.id` (all but its create_time) if its etag is
        `expected_etag`; returns the event id. `NotFound`, `Aborted`, or `AlreadyExists`
        (email taken)."""

    async def delete_user(self, user_id: str, expected_etag: str, event: Event) -> int:
        """Deletes the user if its etag is `expected_etag`; returns the event id. `NotFound`,
        `Aborted`, or `FailedPrecondition` (reason `USER_HAS_MINDMAPS`) while it owns mindmaps."""

    # Mindmaps ----------------------------------------------------------------------------

    async def insert_mindmap(self, mindmap: Mindmap, event: Event) -> int:
        """Inserts a new mindmap with its nodes; returns the event id. Unknown owner:
        `NotFound` of the `hub.user.v1.User` (reason `OWNER_NOT_FOUND`)."""

    async def get_mindmaps(self, ids: Sequence[str], *, with_nodes: bool) -> dict[str, Mindmap]:
        """The mindmaps among `ids` that exist, by id; nodes left empty unless `with_nodes`
        (`node_count` is always set)."""

    async def list_mindmaps(
        self, owner_id: str | None, after_seq: int, limit: int, *, with_nodes: bool
    ) -> list[Row[Mindmap]]:
        """Up to `limit` mindmaps (of `owner_id`, if given) with seq > `after_seq`, by seq."""

    async def update_mindmap(self, mindmap: Mindmap, expected_etag: str, event: Event) -> int:
        """Replaces the mindmap with `mindmap.id`, nodes included (owner and create_time are
        fixed at creation), if its etag is `expected_etag`; returns the event id.
        `NotFound` or `Aborted`."""

    async def delete_mindmap(self, mindmap_id: str, expected_etag: str, event: Event) -> int:
        """Deletes the mindmap if its etag is `expected_etag`; returns the event id.
        `NotFound` or `Aborted`."""

    # Outbox ------------------------------------------------------------------------------

    async def read_outbox(self, after_id: int, limit: int) -> list[Event]:
        """Up to `limit` committed events with id > `after_id`, by id, `id` field set."""

    async def read_relay_cursor(self) -> int:
        """The id of the last event the relay published, as last saved (0 if never)."""

    async def save_relay_cursor(self, event_id: int) -> None:
        """Records that the relay published every event up to `event_id`."""
