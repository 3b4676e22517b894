"""The JSON forms of proto3's scalar and well-known types, as JSON Schema building blocks.

Integer ranges by field type, the float limits, the schemas of the well-known types (which
have a JSON form of their own rather than an object of fields), and the regular expressions
of the forms that are strings with a grammar. The expressions are in the plain
alternation-and-class subset that ECMA 262 and Python's `re` read alike, and each accepts
only strings that `json_format` parses. They end with `END`, `$(?!\n)`: in Python, unlike
ECMA 262, a bare `$` also matches before a final newline, and the lookahead takes that
match away, so that both read the end of the string as the end:
- `integer_pattern(low, high)`: the decimal integers in a range. The JSON mapping writes
  64-bit integers as strings ("9007199254740993"), which JSON Schema's `minimum`/`maximum`
  do not constrain; the pattern spells the same bounds for the string form.
- `BASE64`: bytes, standard or URL-safe alphabet, padding optional.
- `DURATION`: seconds with up to nine decimals and an `s` (up to 11 digits of seconds,
  which keeps every value inside Duration's +-10000 years).
- `FIELD_MASK`: comma-separated lowerCamelCase field paths, or `*`;
- `mask_pattern(paths)`: the same, for a mask whose `mask_paths` rule lists the paths it may
  name: their lowerCamelCase spellings only, so that the schema accepts a mask exactly when
  `hub.rules` does (`*` alone or an empty mask, both meaning all of them, or listed paths).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask

END = r"$(?!\n)"
"""The end of the string, in Python as in ECMA 262 (a bare `$` differs: see above)."""
BASE64 = rf"^(?:[A-Za-z0-9+/_-]{{4}})*(?:[A-Za-z0-9+/_-]{{2}}(?:==)?|[A-Za-z0-9+/_-]{{3}}=?)?{END}"
DURATION = rf"^-?[0-9]{{1,11}}(?:\.[0-9]{{1,9}})?s{END}"
_MASK_PATH = r"[a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*"
FIELD_MASK = rf"^(?:\*|{_MASK_PATH}(?:,{_MASK_PATH})*)?{END}"
DESCRIPTIONS = {
    BASE64: "must be base64-encoded",
    DURATION: "must be a number of seconds ending in s, such as 1.5s",
    FIELD_MASK: "must be a comma-separated list of lowerCamelCase field paths",
}
"""What breaking each pattern means, for people."""

INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
INTEGERS = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
}
LONGS = {
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
}
FLOATS = {
    FieldDescriptor.TYPE_FLOAT: ("float", 3.4028234663852886e38),
    FieldDescriptor.TYPE_DOUBLE: ("double", sys.float_info.max),
}
FLOAT_WORDS = ["NaN", "Infinity", "-Infinity"]
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": DURATION},
    "google.protobuf.FieldMask": {"type": "string", "pattern": FIELD_MASK},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Any": {  # empty, or with its type URL
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "anyOf": [{"maxProperties": 0}, {"required": ["@type"]}],
    },
}
WRAPPERS = frozenset(
    f"google.protobuf.{kind}Value"
    for kind in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)


def is_scalar_message(message: Descriptor) -> bool:
    """Whether the JSON form of a message is a string, number or boolean (a query value)."""
    if message.full_name in WRAPPERS:
        return True
    schema = WELL_KNOWN.get(message.full_name)
    return schema is not None and schema.get("type") == "string"


def integer_pattern(low: int, high: int) -> str:
    """An anchored expression matching the integers from `low` to `high` (inclusive) in
    canonical decimal form: an optional `-`, no `+`, no leading zeros, no `-0`."""
    if low > high:
        raise ValueError(f"empty range {low}..{high}")
    alternatives: list[str] = []
    if low < 0:
        smallest_magnitude = 1 if high >= 0 else -high
        alternatives.append("-" + _group(_naturals(smallest_magnitude, -low)))
    if high >= 0:
        alternatives.append(_naturals(max(low, 0), high))
    return "^" + _group("|".join(alternatives)) + END


def mask_paths_in_json(paths: Sequence[str]) -> list[str]:
    """The lowerCamelCase spellings of field mask `paths` (`display_name` → `displayName`),
    as the JSON form of a mask writes them."""
    return FieldMask(paths=list(paths)).ToJsonString().split(",")


def mask_pattern(paths: Sequence[str]) -> str:
    """An anchored expression matching the JSON form of a field mask that names only
    `paths` (proto field paths, at least one): nothing, `*` alone, or their lowerCamelCase
    spellings, comma-separated, in any order, repeats allowed."""
    names = "|".join(re.escape(name) for name in mask_paths_in_json(paths))
    return rf"^(?:\*|(?:{names})(?:,(?:{names}))*)?{END}"


def mask_description(paths: Sequence[str]) -> str:
    """What breaking `mask_pattern(paths)` means, for people."""
    return f"may name only the paths {', '.join(mask_paths_in_json(paths))}, or * alone"


def _naturals(low: int, high: int) -> str:
    """The integers from `low` >= 0 to `high`, one alternative per number of digits, except
    that a run of digit counts taken whole (all of 10..99, 100..999) shares one."""
    parts: list[str] = []
    whole: list[int] = []  # digit counts (>= 2) of the current run of whole ranges
    for digits in range(len(str(low)), len(str(high)) + 1):
        smallest = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        largest = min(high, 10**digits - 1)
        if digits > 1 and smallest == 10 ** (digits - 1) and largest == 10**digits - 1:
            whole.append(digits)
            continue
        if whole:
            parts.append(_whole_run(whole))
            whole = []
        parts.append(_same_length(str(smallest), str(largest)))
    if whole:
        parts.append(_whole_run(whole))
    return "|".join(parts)


def _whole_run(digit_counts: list[int]) -> str:
    fewest, most = digit_counts[0] - 1, digit_counts[-1] - 1
    repeat = f"{{{fewest}}}" if fewest == most else f"{{{fewest},{most}}}"
    return "[1-9]" + ("[0-9]" if repeat == "{1}" else f"[0-9]{repeat}")


def _same_length(low: str, high: str) -> str:
    """The digit strings of this length from `low` to `high`."""
    if low == high:
        return low
    if low[0] == high[0]:
        return low[0] + _group(_same_length(low[1:], high[1:]))
    rest = len(low) - 1
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + _group(_same_length(low[1:], "9" * rest)))
        first += 1
    upper = ""
    if high[1:] != "9" * rest:
        upper = high[0] + _group(_same_length("0" * rest, high[1:]))
        last -= 1
    if first <= last:
        digit = str(first) if first == last else f"[{first}-{last}]"
        parts.append(digit + _any_digits(rest))
    if upper:
        parts.append(upper)
    return "|".join(parts)


def _any_digits(count: int) -> str:
    if count == 0:
        return ""
    return "[0-9]" if count == 1 else f"[0-9]{{{count}}}"


def _group(expression: str) -> str:
    return f"(?:{expression})" if "|" in expression else expression
