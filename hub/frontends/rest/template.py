"""`google.api.http` path templates: parsing and matching, without I/O.

The grammar is the one in google/api/http.proto:

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

A template compiles to one anchored regular expression. Variables bind a request field
(`{user.id}` binds the nested field `id` of `user`); a variable without `=` matches one
segment. As http.proto asks, a single-segment variable's value is fully percent-decoded,
a multi-segment one keeps `%2F` encoded so that it cannot invent path separators. A value
that is not UTF-8 once decoded is refused (`PathValueError`), never altered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&'()+,;=@%]+\Z")


class TemplateError(ValueError):
    """A path template that does not follow the grammar."""


class PathValueError(ValueError):
    """A path matched a template, but a variable's value is not UTF-8 once percent-decoded."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"{variable}: not valid UTF-8 once percent-decoded")
        self.variable = variable


@dataclass(frozen=True)
class Variable:
    """A template variable: the request field it binds and whether it spans segments."""

    field_path: tuple[str, ...]
    multi_segment: bool
    group: str

    @property
    def name(self) -> str:
        """The dotted field path, as written in the template (`user.id`)."""
        return ".".join(self.field_path)


@dataclass(frozen=True)
class PathTemplate:
    """A parsed template; `match` binds a concrete path to field values."""

    source: str
    variables: tuple[Variable, ...]
    verb: str | None
    pattern: re.Pattern[str]
    literal_prefix: str

    def match(self, path: str) -> dict[str, str] | None:
        """The variables' values, by dotted field path, or None when `path` does not match.
        Raises `PathValueError` for a value that does not decode."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for variable in self.variables:
            raw = found.group(variable.group)
            try:
                values[variable.name] = _decode(raw, keep_slashes=variable.multi_segment)
            except UnicodeDecodeError:
                raise PathValueError(variable.name) from None
        return values

    @property
    def openapi_path(self) -> str:
        """The template in OpenAPI form: `{user.id}`-style parameters, wildcards folded in."""
        return _VARIABLE_BODY.sub(lambda m: "{" + m.group(1) + "}", self.source)


_VARIABLE_BODY = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")


def parse(source: str) -> PathTemplate:
    """Parses and compiles `source`; raises `TemplateError` naming what is wrong."""
    if not source.startswith("/"):
        raise TemplateError(f"{source!r}: a template starts with '/'")
    body, verb = _split_verb(source[1:], source)
    parts: list[str] = []
    variables: list[Variable] = []
    segments = _split_segments(body, source)
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        if segment.startswith("{"):
            variable, regex = _variable(segment, len(variables), is_last, source)
            variables.append(variable)
            parts.append(regex)
        else:
            parts.append(_segment_regex(segment, is_last, source))
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        raise TemplateError(f"{source!r}: a field is bound twice")
    regex = "/" + "/".join(parts) + (re.escape(":" + verb) if verb else "")
    prefix = "/" + "/".join(s for s in _leading_literals(segments))
    return PathTemplate(source, tuple(variables), verb, re.compile(regex), prefix)


def _split_verb(body: str, source: str) -> tuple[str, str | None]:
    depth = 0
    for index in range(len(body) - 1, -1, -1):
        char = body[index]
        if char == "}":
            depth += 1
        elif char == "{":
            depth -= 1
        elif char == "/" and depth == 0:
            return body, None
        elif char == ":" and depth == 0:
            verb = body[index + 1 :]
            if not _LITERAL.match(verb):
                raise TemplateError(f"{source!r}: bad verb {verb!r}")
            return body[:index], verb
    return body, None


def _split_segments(body: str, source: str) -> list[str]:
    segments: list[str] = []
    current = ""
    depth = 0
    for char in body:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "/" and depth == 0:
            segments.append(current)
            current = ""
        else:
            current += char
    segments.append(current)
    if depth != 0 or any(not s for s in segments):
        raise TemplateError(f"{source!r}: empty segment or unbalanced braces")
    return segments


def _segment_regex(segment: str, is_last: bool, source: str) -> str:
    if segment == "*":
        return r"[^/]+"
    if segment == "**":
        if not is_last:
            raise TemplateError(f"{source!r}: '**' must be the last segment")
        return r".*"
    if not _LITERAL.match(segment):
        raise TemplateError(f"{source!r}: bad literal segment {segment!r}")
    return re.escape(segment)


def _variable(segment: str, index: int, is_last: bool, source: str) -> tuple[Variable, str]:
    if not segment.endswith("}"):
        raise TemplateError(f"{source!r}: a variable must be a whole segment: {segment!r}")
    inner = segment[1:-1]
    field, _, sub = inner.partition("=")
    path = tuple(field.split("."))
    if not all(_IDENT.match(p) for p in path):
        raise TemplateError(f"{source!r}: bad field path {field!r}")
    subsegments = sub.split("/") if sub else ["*"]
    multi = "**" in subsegments
    regex = "/".join(
        _segment_regex(s, is_last and i == len(subsegments) - 1, source)
        for i, s in enumerate(subsegments)
    )
    group = f"v{index}"
    return Variable(path, multi or len(subsegments) > 1, group), f"(?P<{group}>{regex})"


def _leading_literals(segments: list[str]) -> list[str]:
    literals: list[str] = []
    for segment in segments:
        if segment.startswith("{") or segment in ("*", "**"):
            break
        literals.append(segment)
    return literals


def _decode(raw: str, *, keep_slashes: bool) -> str:
    if keep_slashes:
        return "%2F".join(unquote(part, errors="strict") for part in re.split("%2[Ff]", raw))
    return unquote(raw, errors="strict")
