"""Text that PostgreSQL cannot hold: U+0000 (NUL), which `text` and `jsonb` refuse.

The protos allow NUL in any string, and SQLite keeps it, so the PostgreSQL store escapes it
rather than fail the write: NUL is stored as `ESCAPE` + "0", and `ESCAPE` itself (U+E000, a
private-use character) as `ESCAPE` twice. Text without either character, which is all text
in practice, is stored unchanged, and the check costs one scan of each value. Escaping is
applied to every text value bound (columns, ids in conditions, node texts inside the jsonb
nodes) and undone on every text value read, so lookups, uniqueness and round trips behave
exactly as on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap, Node

ESCAPE = "\ue000"
_ESCAPED = re.compile(f"{ESCAPE}(.)", re.DOTALL)


def escape(text: str) -> str:
    """`text` as PostgreSQL can store it."""
    if not _needs_escape(text):
        return text
    return text.replace(ESCAPE, ESCAPE * 2).replace("\x00", f"{ESCAPE}0")


def unescape(text: str) -> str:
    """The text that `escape` turned into `text`."""
    if ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda found: "\x00" if found[1] == "0" else found[1], text)


def escape_row(row: Mapping[str, Any], *, keep: str = "") -> dict[str, Any]:
    """`row` with every text value escaped, except column `keep`."""
    return {
        column: escape(value) if isinstance(value, str) and column != keep else value
        for column, value in row.items()
    }


def unescape_row(row: Mapping[str, Any], *, keep: str = "") -> Mapping[str, Any]:
    """`row` with every text value unescaped, except column `keep`; `row` itself when no
    value needs it."""
    if not any(isinstance(v, str) and ESCAPE in v for c, v in row.items() if c != keep):
        return row
    return {
        column: unescape(value) if isinstance(value, str) and column != keep else value
        for column, value in row.items()
    }


def escape_nodes(mindmap: Mindmap) -> Mindmap:
    """`mindmap` with its nodes' text values escaped (a copy, or itself when none needs it),
    ready for `rows.nodes_to_json`."""
    if all(_plain(node) for node in mindmap.nodes):
        return mindmap
    escaped = Mindmap()
    escaped.CopyFrom(mindmap)
    for node in escaped.nodes:
        node.id, node.parent_id, node.text = (
            escape(node.id),
            escape(node.parent_id),
            escape(node.text),
        )
    return escaped


def unescape_nodes(mindmap: Mindmap) -> None:
    """Undoes `escape_nodes` on the nodes of `mindmap` as read, in place."""
    for node in mindmap.nodes:
        node.id, node.parent_id, node.text = (
            unescape(node.id),
            unescape(node.parent_id),
            unescape(node.text),
        )


def _needs_escape(text: str) -> bool:
    return "\x00" in text or ESCAPE in text


def _plain(node: Node) -> bool:
    return not any(_needs_escape(text) for text in (node.id, node.parent_id, node.text))
