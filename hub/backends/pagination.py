"""Page sizes and page tokens of the List RPCs.

Lists are ordered by the store's insertion sequence (`Row.seq`), so a page ends at a seq
and the next page starts after it: rows inserted meanwhile show up at the end, rows deleted
meanwhile just vanish, and no row is seen twice.

A page token is opaque to clients: urlsafe base64 of the JSON `{"s": last_seq, "f":
fingerprint}`, where the fingerprint names the collection and its filter (a token of
ListUsers cannot be replayed on ListMindmaps, nor one made for another `owner_id`). A token
that does not decode, or was made for another list, is a violation on `page_token`. The
bounds of a page size are field rules of the protos (`hub.rules`), checked before.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

from hub.backends.validation import Violations
from hub.storage.store import Row

DEFAULT_PAGE_SIZE = 50
_MAX_TOKEN_LENGTH = 200  # a real token is ~50 characters; refuse to parse anything large
_MAX_SEQ = 2**63 - 1  # SQLite's INTEGER range

T = TypeVar("T")


def fingerprint(collection: str, *filters: str) -> str:
    """Names one list and its filter values, e.g. `fingerprint("mindmaps", owner_id)`."""
    key = json.dumps([collection, *filters])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def page_size(value: int) -> int:
    """The page size to use for a requested one that passed its rules: 0 means
    `DEFAULT_PAGE_SIZE`."""
    return value or DEFAULT_PAGE_SIZE


def encode_token(last_seq: int, list_fingerprint: str) -> str:
    """The token of the page after the row with seq `last_seq`."""
    payload = json.dumps({"s": last_seq, "f": list_fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def after_seq(v: Violations, field: str, token: str, list_fingerprint: str) -> int:
    """The seq the page starts after: 0 for an empty token (the first page)."""
    if not token:
        return 0
    last_seq = _decode(token, list_fingerprint)
    if last_seq is None:
        v.add(field, "is not a page token of this list; start again with an empty token")
        return 0
    return last_seq


def _decode(token: str, list_fingerprint: str) -> int | None:
    if len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except ValueError:  # binascii.Error, UnicodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(payload, dict) or payload.get("f") != list_fingerprint:
        return None
    last_seq = payload.get("s")
    # bool is an int to Python, but never a seq.
    if type(last_seq) is not int or not 0 <= last_seq <= _MAX_SEQ:
        return None
    return last_seq


def page(rows: Sequence[Row[T]], size: int, list_fingerprint: str) -> tuple[list[T], str]:
    """One page from `rows`, fetched with limit `size + 1`, and the next page's token
    (empty when this is the last page)."""
    if len(rows) <= size:
        return [row.message for row in rows], ""
    kept = rows[:size]
    return [row.message for row in kept], encode_token(kept[-1].seq, list_fingerprint)
