"""The metric names a PromQL expression reads, for the tests that tie the rules and dashboards
in deploy/ to the hub's live `/metrics`.

A small scanner, not a parser: it drops what cannot hold a metric name (strings, label
matchers `{...}`, ranges and subqueries `[...]`, numbers and durations, Grafana variables
`$name`, label lists after `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`),
then keeps every identifier that is not a keyword and is not called (a name followed by `(`
is a function or an aggregation). That is enough for the expressions of rule files and
dashboards; whether they parse at all is `promtool`'s job (tests/deploy/test_promtool.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

# `5m`, `1h30m`, `90s`: durations after `offset` (those in `[...]` are dropped with it).
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:])")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|\w+)")
_CLOSING = {"{": "}", "[": "]", "(": ")"}
_QUOTES = "\"'`"

# Keywords followed by a parenthesised list of label names.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
_KEYWORDS = _LABEL_LISTS | {"bool", "and", "or", "unless", "atan2", "offset", "inf", "nan"}

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _string_end(text: str, start: int) -> int:
    """The index after the string literal that opens at `start`."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\" and quote != "`":
            index += 2
        elif text[index] == quote:
            return index + 1
        else:
            index += 1
    raise ValueError(f"unterminated string at {start} in {text!r}")


def _group_end(text: str, start: int) -> int:
    """The index after the bracket that closes the one at `start` (strings skipped)."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in _QUOTES:
            index = _string_end(text, index)
            continue
        if char == text[start]:
            depth += 1
        elif char == _CLOSING[text[start]]:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError(f"unbalanced {text[start]!r} at {start} in {text!r}")


def tokens(expr: str) -> Iterator[str]:
    """Identifiers and punctuation of `expr`; strings, `{...}`, `[...]`, numbers, durations,
    variables and comments are left out."""
    index = 0
    while index < len(expr):
        char = expr[index]
        if char.isspace():
            index += 1
        elif char == "#":
            newline = expr.find("\n", index)
            index = len(expr) if newline < 0 else newline
        elif char in _QUOTES:
            index = _string_end(expr, index)
        elif char in "{[":
            index = _group_end(expr, index)
        elif match := (
            _VARIABLE.match(expr, index)
            or _DURATION.match(expr, index)
            or _NUMBER.match(expr, index)
        ):
            index = match.end()
        elif match := _IDENTIFIER.match(expr, index):
            yield match.group()
            index = match.end()
        else:
            yield char
            index += 1


def metric_names(expr: str) -> set[str]:
    """The metric names (and recording-rule names) that `expr` reads."""
    found: set[str] = set()
    parts = list(tokens(expr))
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else ""
        index += 1
        if part.lower() in _LABEL_LISTS and following == "(":
            if ")" not in parts[index:]:
                raise ValueError(f"unbalanced '(' after {part!r} in {expr!r}")
            index = parts.index(")", index)  # past the label names
        elif (
            _IDENTIFIER.fullmatch(part)
            and following != "("
            and part.lower() not in _KEYWORDS
            and not (part in _AGGREGATIONS and following in _LABEL_LISTS)
        ):
            found.add(part)
    return found


def resolve(names: Iterable[str], recorded: Mapping[str, str]) -> set[str]:
    """`names` with each recording rule (`recorded`: its name -> its expression) replaced by
    the names its expression reads, recursively."""
    resolved: set[str] = set()
    pending = list(names)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in recorded:
            pending.extend(metric_names(recorded[name]))
        else:
            resolved.add(name)
    return resolved


def families(names: Iterable[str], histograms: Iterable[str]) -> set[str]:
    """The metric families `names` belong to: `x_bucket`, `x_sum` and `x_count` of a
    histogram `x` (one of `histograms`) become `x`; other names stay as they are."""
    histogram_names = set(histograms)
    found = set()
    for name in names:
        for suffix in HISTOGRAM_SUFFIXES:
            base = name.removesuffix(suffix)
            if base != name and base in histogram_names:
                name = base
                break
        found.add(name)
    return found
