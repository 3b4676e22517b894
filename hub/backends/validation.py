"""Stateless checks of request fields, collected into one `InvalidArgument` per request.

A handler creates a `Violations`, runs the checks of every field of its request, and calls
`raise_if_any()` before it touches storage: a client learns about all its bad fields at
once, one violation per field (the first problem found for that field). The checks also
return the value to use (stripped text, the default plan), so a field is read once.

Descriptions never echo a value, and every value that an error may echo later (ids in
NOT_FOUND, emails in ALREADY_EXISTS) is bounded here: the status travels in trailers,
which clients cap at 8 KiB, so an unbounded echo would turn a bad request into
RESOURCE_EXHAUSTED.

Text fields (display name, title, node text) are stripped of surrounding white space; the
stripped value must be 1..N characters and is what gets stored. Output-only fields of a
request (ids on create, times, `node_count`, positions inside a `Node`) are ignored, as AIP
asks; client-supplied nodes on CreateMindmap are the exception and are rejected, since they
would otherwise be silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from google.protobuf.field_mask_pb2 import FieldMask

from hub.contracts.mindmap.v1.mindmap_pb2 import MindmapView
from hub.contracts.user.v1.user_pb2 import Plan
from hub.errors import FieldViolation, InvalidArgument

MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_NODE_TEXT = 500
MAX_BATCH = 1000
MAX_ID = 64

# local@domain.tld: no white space or second "@", at least one dot in the domain, no empty
# domain label. Deliberately loose: deliverability is proven by mail, not by a pattern.
_EMAIL = re.compile(r"[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+")


class Violations:
    """Collects the field violations of one request; at most one per field."""

    def __init__(self) -> None:
        self._by_field: dict[str, FieldViolation] = {}

    def add(self, field: str, description: str) -> None:
        """Records that `field` is bad, unless it is already recorded."""
        self._by_field.setdefault(field, FieldViolation(field, description))

    def raise_if_any(self) -> None:
        """Raises one `InvalidArgument` with every violation recorded, if there is one."""
        if self._by_field:
            raise InvalidArgument(list(self._by_field.values()))


def required_id(v: Violations, field: str, value: str) -> str:
    """An id the request must name: 1..`MAX_ID` characters (unknown ids are NOT_FOUND)."""
    if not value:
        v.add(field, "is required")
    elif len(value) > MAX_ID:
        v.add(field, f"must be at most {MAX_ID} characters")
    return value


def text(v: Violations, field: str, value: str, max_length: int) -> str:
    """Required text: stripped, 1..`max_length` characters."""
    stripped = value.strip()
    if not stripped:
        v.add(field, "is required and must not be blank")
    elif len(stripped) > max_length:
        v.add(field, f"must be at most {max_length} characters")
    return stripped


def description(v: Violations, field: str, value: str) -> str:
    """Optional free text of at most `MAX_DESCRIPTION` characters, kept as given."""
    if len(value) > MAX_DESCRIPTION:
        v.add(field, f"must be at most {MAX_DESCRIPTION} characters")
    return value


def email(v: Violations, field: str, value: str) -> str:
    """An email address: at most `MAX_EMAIL` characters and shaped `local@domain.tld`.

    Kept as given; uniqueness compares it lower-cased (the store does that)."""
    if not value:
        v.add(field, "is required")
    elif len(value) > MAX_EMAIL:
        v.add(field, f"must be at most {MAX_EMAIL} characters")
    elif not (value.isprintable() and _EMAIL.fullmatch(value)):
        v.add(field, "must be an email address like name@example.com")
    return value


def plan(
    v: Violations, field: str, value: int, *, default: Plan.ValueType | None
) -> Plan.ValueType:
    """A known plan. PLAN_UNSPECIFIED becomes `default`, or is a violation without one."""
    if value == Plan.PLAN_UNSPECIFIED and default is not None:
        return default
    if value == Plan.PLAN_UNSPECIFIED or value not in Plan.values():
        v.add(field, "must be PLAN_FREE, PLAN_PRO or PLAN_TEAM")
        return Plan.PLAN_UNSPECIFIED
    return Plan.ValueType(value)


def view(v: Violations, field: str, value: int, *, default: MindmapView.ValueType) -> bool:
    """Whether the view asks for nodes; MINDMAP_VIEW_UNSPECIFIED means `default`."""
    if value not in MindmapView.values():
        v.add(field, "must be MINDMAP_VIEW_BASIC or MINDMAP_VIEW_FULL")
        return False
    chosen = default if value == MindmapView.MINDMAP_VIEW_UNSPECIFIED else value
    return chosen == MindmapView.MINDMAP_VIEW_FULL


def update_mask(v: Violations, field: str, mask: FieldMask, allowed: Sequence[str]) -> list[str]:
    """The paths to update, in `allowed` order: an empty mask or `*` means all of them."""
    paths = set(mask.paths)
    if not paths or paths == {"*"}:
        return list(allowed)
    if not paths.issubset(allowed):
        v.add(field, f"has unknown paths; allowed: {', '.join(allowed)}, or '*' alone")
    return [path for path in allowed if path in paths]


def batch_ids(v: Violations, field: str, ids: Sequence[str]) -> Sequence[str]:
    """1..`MAX_BATCH` ids of 1..`MAX_ID` characters each; duplicates are allowed. One
    violation for the whole list, however many ids are bad."""
    if not 1 <= len(ids) <= MAX_BATCH:
        v.add(field, f"must name 1 to {MAX_BATCH} ids, got {len(ids)}")
    bad = [index for index, value in enumerate(ids) if not 1 <= len(value) <= MAX_ID]
    if bad:
        v.add(field, f"ids must be 1 to {MAX_ID} characters; {len(bad)} are not, first at {bad[0]}")
    return ids


def position(v: Violations, field: str, value: int | None) -> int | None:
    """A zero-based position among siblings, or None for "last"; never negative (a
    position past the last sibling means last, see `hub.backends.tree`)."""
    if value is not None and value < 0:
        v.add(field, "must not be negative")
        return None
    return value


def must_be_empty(v: Violations, field: str, values: Collection[object], why: str) -> None:
    """A field the request must leave empty (e.g. nodes on CreateMindmap)."""
    if values:
        v.add(field, why)
