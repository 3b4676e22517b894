r"""Field rules: the value limits written into the protos, read from descriptors and checked.

Every limit on a request value (lengths, patterns, integer bounds, item counts, declared enum
values) is written once, as the option `(hub.rules.v1.field)` on its field in `proto/` (see
`hub/rules/v1/rules.proto`). The REST front end publishes the rules as JSON Schema keywords
and validates JSON against them; the backends run `check` on every request, so that gRPC
clients, and every front end in between, meet the same limits. This module imports nothing of
hub but the generated contracts and the domain errors, so that both sides can use it.

Each rule means exactly its JSON Schema keyword:
- `min_len`/`max_len` (minLength/maxLength) count the code points of the value as sent,
  before any normalisation (the backends strip text only after the check);
- `pattern` is `re.search(pattern, value)`: unanchored unless it anchors itself, as jsonschema
  runs the `pattern` keyword (with Python's `re`, like this module). The class escapes `\s`,
  `\d`, `\w`, `\b` and their negations are refused: Python and ECMA 262 (the regular
  expressions of JSON Schema's other readers, jsonschema_rs among them) give them different
  sets of characters, so a published pattern would not mean what the backend checks (see
  rules.proto for the white-space class to write instead);
- `gte`/`lte` (minimum/maximum) are inclusive bounds of integers;
- `min_items`/`max_items` bound repeated fields, and `items` holds the rules of each element;
- `defined_only`: an enum value must be one of the declared numbers (proto3 enums are open);
- `mask_paths`: a `google.protobuf.FieldMask` names only these paths (proto field names), or
  `"*"` alone; an empty mask names none and keeps the rule. The JSON Schema publishes the same
  set as a `pattern` over the mask's JSON form (`"email,displayName"`); `mask_selection` gives
  the paths a mask selects, an empty mask or `"*"` selecting all of them.

Present, absent and default values
----------------------------------
JSON tells a missing property from an empty one, and JSON Schema applies its keywords only to
properties that are there; a required property must be there, and then every keyword applies
to it. A proto3 field without explicit presence (a plain scalar, an enum, a repeated field)
cannot tell: it holds its default ("", 0, the zero enum value, no items) whether the client
left it out or sent that default. `check(message, required=...)` reads values thus:

1. A field with explicit presence (a message field, a proto3 `optional` scalar, a oneof member)
   is present when it is set, whatever its value: a set `optional int32 position` of 0 is
   checked.
2. Any other field is absent when it holds its default, present otherwise.
3. A present value is checked by all its rules, whether or not the RPC goes on to read it: a
   JSON request with that value breaks the published schema too.
4. An absent field is checked by no rule, like a missing JSON property ...
5. ... unless the caller names it in `required`: the dotted paths of the fields that this RPC
   reads and cannot do without (`"user.email"`; an update names only the fields of its mask).
   A required field is checked with its value even when that is the default, and a default
   that breaks a rule (`min_len` >= 1 on "", `min_items` >= 1 on no items, `gte: 1` on 0) is
   reported as "is required". This is how a rule with `min_len`/`min_items` >= 1 "makes the
   field required wherever the backend reads it" (rules.proto): the backend knows, per RPC,
   what it reads; the numbers stay in the proto, and a required field without such a rule
   (an enum whose zero value is allowed) accepts its default.
   A message field named in `required` must be set; an unset message on the way to a
   required path (`user` in `user.email`) is read as its default instance, so that
   `CreateUserRequest()` reports `user.email` and `user.display_name`.
6. Output-only fields (`google.api.field_behavior = OUTPUT_ONLY`) are not checked, since
   AIP-203 asks servers to ignore them in requests, unless they are named in `required`
   (UpdateUser reads the output-only `user.id`: it names the user to change).

As far as these rules go, REST and gRPC can answer one request differently in two ways only,
and only with REST the stricter: a JSON `""` (or `0`, or `[]`) for a field the RPC does not
require breaks minLength, a pattern, minimum or minItems in the schema (`"displayName": ""` in
an update whose mask names only `plan`), while over gRPC it is a default, hence absent, and
accepted; and an output-only value that breaks its rules is refused by the schema (which keeps
the keywords next to `readOnly`), and ignored over gRPC.
A request that the schema accepts is never refused by these rules in a backend, as long as
every field a backend names in `required` is required by the schema too (REQUIRED all along
its path, or bound to the URL path): tests/backends/test_required.py proves that per RPC.

Reporting: at most one violation per field path, for the first rule broken in the order
lengths, pattern, bounds, declared values, mask paths (item counts, then items, for repeated
fields).
Elements are reported at their own path (`ids[3]`, `nodes[0].text`), for the first bad
element of a repeated field only, so the count of violations is bounded by the shape of the
message, not by the size of the request (the status travels in trailers, which clients cap
at 8 KiB). Descriptions name the rule, never the value.

A rule on a field of the wrong kind (`min_len` on an integer, `items` on a singular field,
`mask_paths` on anything but a FieldMask), a pattern that does not compile or uses a refused
escape, or a mask path that is not a dotted path of field names, is a bug of the contract:
`check` raises `ValueError` naming the field the first time it meets the message type, and
tests/test_rules.py compiles every message of the contracts. Map fields are not checked:
FieldRules has no keywords for them.

The compiled rules of each message type are kept by `functools.cache`: descriptors do not
change for the life of the process, so the cache is a memo of a pure derivation, not state.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import google.api.field_behavior_pb2 as field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from hub.contracts.rules.v1 import rules_pb2
from hub.errors import FieldViolation

REQUIRED_DESCRIPTION = "is required"
"""The description of a required field whose value is missing (the default breaks a rule)."""

_Check: TypeAlias = tuple[Callable[[Any], bool], str]
"""One compiled rule: whether a value keeps it, and what to say when it does not."""

_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_LIST_KEYWORDS = frozenset({"min_items", "max_items", "items"})
_STRING_KEYWORDS = frozenset({"min_len", "max_len", "pattern", "pattern_description"})
_INTEGER_KEYWORDS = frozenset({"gte", "lte"})
_ENUM_KEYWORDS = frozenset({"defined_only"})
_MASK_KEYWORDS = frozenset({"mask_paths"})
_FIELD_MASK = FieldMask.DESCRIPTOR.full_name
_ALL_PATHS = "*"
"""The mask path that means every path its rule allows (alone in the mask)."""
_UNPORTABLE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\[sSdDwWbB]")
"""A class escape that Python and ECMA 262 read differently (after an even number of
backslashes, so that `\\\\s`, a backslash and an `s`, is not one)."""
_PROTO_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def field_rules(field: FieldDescriptor) -> rules_pb2.FieldRules | None:
    """The `(hub.rules.v1.field)` rules of `field`, or None if it has none."""
    options = field.GetOptions()
    if not options.HasExtension(rules_pb2.field):
        return None
    return options.Extensions[rules_pb2.field]


def behaviors(field: FieldDescriptor) -> frozenset[int]:
    """The `google.api.field_behavior` values of `field` (REQUIRED, OUTPUT_ONLY, ...)."""
    # googleapis-common-protos' stubs type the extension as a plain FieldDescriptor.
    extension: Any = field_behavior_pb2.field_behavior
    return frozenset(field.GetOptions().Extensions[extension])


def mask_selection(message: Message, field: str) -> list[str]:
    """The paths that the field mask `field` of `message` selects, in the order of its
    `mask_paths` rule: all of them for an unset or empty mask or `"*"`, else those it names.
    Paths the rule does not allow are left out (`check` reports them). `ValueError` if the
    field has no `mask_paths` rule."""
    # The stubs type a message's DESCRIPTOR as the union of the pure-Python and upb classes.
    fields = cast(Descriptor, message.DESCRIPTOR)
    rules = field_rules(fields.fields_by_name[field])
    if rules is None or not rules.mask_paths:
        raise ValueError(f"{fields.full_name}.{field} has no mask_paths rule")
    named = list(getattr(message, field).paths)
    if not named or named == [_ALL_PATHS]:
        return list(rules.mask_paths)
    return [path for path in rules.mask_paths if path in named]


def check(
    message: Message, *, prefix: str = "", required: Collection[str] = ()
) -> list[FieldViolation]:
    """The violations of the field rules in `message` and the messages inside it.

    `required`: dotted paths, relative to `message`, of the fields the caller cannot do
    without, whose default values therefore count as sent (see the module docstring).
    `prefix` goes in front of every reported path (`check(user, prefix="user")` reports
    `user.email`). Raises `ValueError` for a required path that names no field, or a rule
    that does not fit its field."""
    if isinstance(required, str):
        raise TypeError("required is a collection of paths, not one path")
    found: list[FieldViolation] = []
    _check_message(message, prefix, _needs(required), found)
    return found


@dataclass
class _Need:
    """A field in the tree of required paths: named itself, and/or on the way to others."""

    named: bool = False
    inner: dict[str, _Need] = dataclasses.field(default_factory=dict)


def _needs(paths: Collection[str]) -> dict[str, _Need]:
    root: dict[str, _Need] = {}
    for path in paths:
        level = root
        *parents, last = path.split(".")
        for name in parents:
            level = level.setdefault(name, _Need()).inner
        level.setdefault(last, _Need()).named = True
    return root


@dataclass(frozen=True)
class _Field:
    """What `check` needs to know of one field, compiled from its descriptor."""

    name: str
    presence: bool
    repeated: bool
    message: bool
    output_only: bool
    checks: tuple[_Check, ...]
    """Of the value: the list itself for a repeated field."""
    item_checks: tuple[_Check, ...]
    """Of each element of a repeated field."""


def _check_message(
    message: Message, path: str, needs: dict[str, _Need], found: list[FieldViolation]
) -> None:
    descriptor = message.DESCRIPTOR
    for name, wanted in needs.items():
        named = descriptor.fields_by_name.get(name)
        if named is None:
            raise ValueError(f"required: {descriptor.full_name} has no field {name!r}")
        if wanted.inner and named.message_type is None:
            raise ValueError(f"required: {named.full_name} is not a message")
    for spec in _compiled(descriptor):
        need = needs.get(spec.name)
        if spec.output_only and need is None:
            continue
        value = getattr(message, spec.name)
        present = message.HasField(spec.name) if spec.presence else bool(value)
        if not present and need is None:
            continue
        where = f"{path}.{spec.name}" if path else spec.name
        inner = need.inner if need is not None else {}
        if spec.message and not spec.repeated:
            if present or not (need is not None and need.named):
                _report(spec.checks, value, where, found)
                _check_message(value, where, inner, found)
            else:
                found.append(FieldViolation(where, REQUIRED_DESCRIPTION))
            continue
        problem = _first_problem(spec.checks, value)
        if problem is not None:
            found.append(FieldViolation(where, problem if present else REQUIRED_DESCRIPTION))
        if spec.repeated:
            _check_items(spec, value, where, inner, found)


def _check_items(
    spec: _Field,
    items: Any,
    path: str,
    needs: dict[str, _Need],
    found: list[FieldViolation],
) -> None:
    """Reports the first bad element of a repeated field, if there is one."""
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if spec.message:
            inside: list[FieldViolation] = []
            _report(spec.item_checks, item, where, inside)
            _check_message(item, where, needs, inside)
            if inside:
                found.extend(inside)
                return
        else:
            problem = _first_problem(spec.item_checks, item)
            if problem is not None:
                found.append(FieldViolation(where, problem))
                return


def _report(checks: tuple[_Check, ...], value: Any, path: str, found: list[FieldViolation]) -> None:
    """Reports the first rule of `checks` that the (present) `value` breaks, if any."""
    problem = _first_problem(checks, value)
    if problem is not None:
        found.append(FieldViolation(path, problem))


def _first_problem(checks: tuple[_Check, ...], value: Any) -> str | None:
    for keeps, description in checks:
        if not keeps(value):
            return description
    return None


@functools.cache
def _compiled(descriptor: Descriptor) -> tuple[_Field, ...]:
    """The fields of `descriptor` that `check` looks at: those with rules, and message fields
    (which may hold fields with rules). Map fields are left out."""
    fields: list[_Field] = []
    for fd in descriptor.fields:
        is_message = fd.message_type is not None
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if field_rules(fd) is not None:
                raise ValueError(f"{fd.full_name}: rules do not fit a map field")
            continue
        rules = field_rules(fd) or rules_pb2.FieldRules()
        checks = _value_checks(fd, rules, repeated=fd.is_repeated)
        items = _value_checks(fd, rules.items, repeated=False) if fd.is_repeated else ()
        if not (checks or items or is_message):
            continue
        fields.append(
            _Field(
                name=fd.name,
                presence=fd.has_presence,
                repeated=fd.is_repeated,
                message=is_message,
                output_only=field_behavior_pb2.OUTPUT_ONLY in behaviors(fd),
                checks=checks,
                item_checks=items,
            )
        )
    return tuple(fields)


def _value_checks(
    fd: FieldDescriptor, rules: rules_pb2.FieldRules, *, repeated: bool
) -> tuple[_Check, ...]:
    """The rules of the list (`repeated`) or of one value of `fd`, compiled; `ValueError` if
    they include a keyword that does not fit."""
    given = {keyword.name for keyword, _ in rules.ListFields()}
    fits = _keywords_of(fd, repeated=repeated)
    if not given <= fits:
        wrong = ", ".join(sorted(given - fits))
        raise ValueError(f"{fd.full_name}: rules {wrong} do not fit this field")
    checks: list[_Check] = []
    if repeated:
        if rules.HasField("min_items"):
            checks.append(_count_at_least(rules.min_items, "item"))
        if rules.HasField("max_items"):
            checks.append(_count_at_most(rules.max_items, "item"))
        return tuple(checks)
    if rules.HasField("min_len"):
        checks.append(_count_at_least(rules.min_len, "character"))
    if rules.HasField("max_len"):
        checks.append(_count_at_most(rules.max_len, "character"))
    if rules.pattern:
        checks.append(_matching(fd, rules.pattern, rules.pattern_description))
    if rules.HasField("gte"):
        checks.append(_at_least(rules.gte))
    if rules.HasField("lte"):
        checks.append(_at_most(rules.lte))
    if rules.defined_only:
        checks.append(_declared(fd))
    if rules.mask_paths:
        checks.append(_masking(fd, rules.mask_paths))
    return tuple(checks)


def _keywords_of(fd: FieldDescriptor, *, repeated: bool) -> frozenset[str]:
    if repeated:
        return _LIST_KEYWORDS
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _STRING_KEYWORDS
    if fd.type in _INTEGERS:
        return _INTEGER_KEYWORDS
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return _ENUM_KEYWORDS
    if fd.message_type is not None and fd.message_type.full_name == _FIELD_MASK:
        return _MASK_KEYWORDS
    return frozenset()


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _count_at_least(limit: int, unit: str) -> _Check:
    return (lambda value: len(value) >= limit), f"must have at least {_plural(limit, unit)}"


def _count_at_most(limit: int, unit: str) -> _Check:
    return (lambda value: len(value) <= limit), f"must have at most {_plural(limit, unit)}"


def _matching(fd: FieldDescriptor, pattern: str, description: str) -> _Check:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{fd.full_name}: pattern does not compile: {error}") from error
    unportable = _UNPORTABLE_ESCAPE.search(pattern)
    if unportable is not None:
        escape = unportable.group()[-2:]
        raise ValueError(
            f"{fd.full_name}: pattern uses {escape}, which Python and ECMA 262 read differently"
        )
    return (lambda value: compiled.search(value) is not None), (
        f"must {description}" if description else f"must match the regular expression {pattern}"
    )


def _at_least(limit: int) -> _Check:
    return (lambda value: value >= limit), f"must be at least {limit}"


def _at_most(limit: int) -> _Check:
    return (lambda value: value <= limit), f"must be at most {limit}"


def _declared(fd: FieldDescriptor) -> _Check:
    if fd.enum_type is None:  # unreachable: `defined_only` fits enum fields only
        raise ValueError(f"{fd.full_name}: defined_only on a field that is not an enum")
    values = fd.enum_type.values
    numbers = frozenset(value.number for value in values)
    names = ", ".join(value.name for value in values)
    return (lambda value: value in numbers), f"must be one of {names}"


def _masking(fd: FieldDescriptor, allowed: Sequence[str]) -> _Check:
    for path in allowed:
        if not _is_mask_path(path):
            raise ValueError(f"{fd.full_name}: mask path {path!r} is not a field path")
    names = frozenset(allowed)

    def keeps(mask: FieldMask) -> bool:
        paths = list(mask.paths)
        return paths == [_ALL_PATHS] or all(path in names for path in paths)

    listed = ", ".join(allowed)
    return keeps, f"may name only the paths {listed}, or {_ALL_PATHS} alone"


def _is_mask_path(path: str) -> bool:
    """A dotted path of proto field names that the JSON form of a mask can carry (its
    lowerCamelCase spelling reads back as the same path)."""
    if _PROTO_PATH.match(path) is None:
        return False
    try:
        spelled = FieldMask(paths=[path]).ToJsonString()
    except ValueError:
        return False
    read = FieldMask()
    read.FromJsonString(spelled)
    return [path] == list(read.paths)
