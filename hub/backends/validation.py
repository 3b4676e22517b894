"""Request checks, collected into one `InvalidArgument` per request, and the values the
contract gives to fields left unset.

A handler runs the checks of its whole request before it touches storage, so that a client
learns about all its bad fields at once, one violation per field (the first problem found):
- the field rules of the protos (`hub.rules`), for every field of the request; the handler
  names the fields it reads and cannot do without (`required`), and these alone count a
  default value ("", 0, no items) as sent. No limit, pattern or bound is written here: they
  live in the protos only, and the REST front end publishes the same rules as JSON Schema;
  the paths an update mask may name are such a rule too (`mask_paths`), and the handler
  takes the paths it updates from the rule (`hub.rules.mask_selection`);
- the checks the rules cannot express: fields a request must leave empty, page tokens
  (`pagination`). The tree rules (`tree`) come later, against the stored tree.

The rules check a value as sent. Normalising comes after, in the handler: text that the proto
says is "stored without surrounding white space" (email, display name, title, node text) is
stripped once it has passed. `str.strip()` removes exactly the characters of `str.isspace()`,
the white-space class that the not-blank patterns of those fields spell out (rules.proto), so
a value that passes is never stripped to nothing. Output-only fields of a request (ids on
create, times, `node_count`, positions inside a `Node`) are ignored, as AIP-203 asks;
client-supplied nodes on CreateMindmap are the exception and are rejected, since they would
otherwise be silently dropped.

Descriptions never echo a value, and every value that an error may echo later (ids in
NOT_FOUND, emails in ALREADY_EXISTS) is bounded by a `max_len` rule: the status travels in
trailers, which clients cap at 8 KiB, so an unbounded echo would turn a bad request into
RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

from collections.abc import Collection

from google.protobuf.message import Message

from hub import rules
from hub.contracts.mindmap.v1.mindmap_pb2 import MindmapView
from hub.contracts.user.v1.user_pb2 import Plan
from hub.errors import FieldViolation, InvalidArgument


class Violations:
    """Collects the field violations of one request; at most one per field."""

    def __init__(self) -> None:
        self._by_field: dict[str, FieldViolation] = {}

    def add(self, field: str, description: str) -> None:
        """Records that `field` is bad, unless it is already recorded."""
        self._by_field.setdefault(field, FieldViolation(field, description))

    def check(self, request: Message, *, required: Collection[str] = ()) -> None:
        """Records every violation of the field rules in `request`; `required`: the dotted
        paths of the fields this RPC reads and cannot do without (see `hub.rules.check`)."""
        for violation in rules.check(request, required=required):
            self.add(violation.field, violation.description)

    def raise_if_any(self) -> None:
        """Raises one `InvalidArgument` with every violation recorded, if there is one."""
        if self._by_field:
            raise InvalidArgument(list(self._by_field.values()))


def check(request: Message, *, required: Collection[str] = ()) -> None:
    """Raises `InvalidArgument` if `request` breaks its field rules: `Violations.check` for a
    request that needs no other check."""
    v = Violations()
    v.check(request, required=required)
    v.raise_if_any()


def plan(value: Plan.ValueType) -> Plan.ValueType:
    """The plan to store: PLAN_UNSPECIFIED means PLAN_FREE (on create and on update)."""
    return Plan.PLAN_FREE if value == Plan.PLAN_UNSPECIFIED else value


def view(value: MindmapView.ValueType, *, default: MindmapView.ValueType) -> bool:
    """Whether the view asks for nodes; MINDMAP_VIEW_UNSPECIFIED means the call's `default`."""
    chosen = default if value == MindmapView.MINDMAP_VIEW_UNSPECIFIED else value
    return chosen == MindmapView.MINDMAP_VIEW_FULL


def must_be_empty(v: Violations, field: str, values: Collection[object], why: str) -> None:
    """A field the request must leave empty (e.g. nodes on CreateMindmap)."""
    if values:
        v.add(field, why)
