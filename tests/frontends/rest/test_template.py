"""Path templates of `google.api.http`: parsing, matching, decoding, and what is refused."""

from __future__ import annotations

import pytest

from hub.frontends.rest.template import PathValueError, TemplateError, parse


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/api/v1/users", "/api/v1/users", {}),
        ("/api/v1/users/{id}", "/api/v1/users/abc", {"id": "abc"}),
        ("/api/v1/users/{user.id}", "/api/v1/users/u-1", {"user.id": "u-1"}),
        ("/api/v1/users:batchGet", "/api/v1/users:batchGet", {}),
        (
            "/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}:move",
            "/api/v1/mindmaps/m1/nodes/n1:move",
            {"mindmap_id": "m1", "node_id": "n1"},
        ),
        ("/v1/{name=shelves/*}", "/v1/shelves/s1", {"name": "shelves/s1"}),
        ("/v1/{name=shelves/*}/books", "/v1/shelves/s1/books", {"name": "shelves/s1"}),
        ("/v1/files/{path=**}", "/v1/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/v1/*/items", "/v1/anything/items", {}),
        ("/v1/static/**", "/v1/static/x/y", {}),
    ],
)
def test_matching_binds_variables(template: str, path: str, expected: dict[str, str]) -> None:
    """A matching path gives each variable's value under its dotted field path."""
    assert expected == parse(template).match(path)


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/api/v1/users", "/api/v1/users/"),
        ("/api/v1/users", "/api/v1/usersx"),
        ("/api/v1/users/{id}", "/api/v1/users/"),
        ("/api/v1/users/{id}", "/api/v1/users/a/b"),
        ("/api/v1/users/{id}", "/api/v1/users"),
        ("/api/v1/users:batchGet", "/api/v1/users"),
        ("/api/v1/users:batchGet", "/api/v1/users:batchget"),
        ("/api/v1/mindmaps/{id}/nodes/{node_id}:move", "/api/v1/mindmaps/m/nodes/n"),
        ("/v1/{name=shelves/*}", "/v1/boxes/b1"),
    ],
)
def test_non_matching_paths(template: str, path: str) -> None:
    """Matching is anchored at both ends and segment by segment."""
    assert None is parse(template).match(path)


def test_single_segment_variable_is_fully_percent_decoded() -> None:
    """`%2F` becomes `/` in a one-segment value (it cannot split the path any more), and
    UTF-8 escapes become their characters."""
    template = parse("/api/v1/users/{id}")

    assert {"id": "a/b é"} == template.match("/api/v1/users/a%2Fb%20%C3%A9")


def test_multi_segment_variable_keeps_encoded_slashes() -> None:
    """In a value that spans segments, an encoded slash stays encoded, unlike a real one."""
    template = parse("/v1/files/{path=**}")

    assert {"path": "a/b%2Fc d"} == template.match("/v1/files/a/b%2fc%20d")


def test_value_that_is_not_utf8_is_refused_not_altered() -> None:
    """A percent-escape that decodes to invalid UTF-8 raises, naming the variable."""
    template = parse("/api/v1/mindmaps/{mindmap_id}/nodes/{node_id}")

    with pytest.raises(PathValueError) as raised:
        template.match("/api/v1/mindmaps/m1/nodes/%FF")

    assert "node_id" == raised.value.variable


@pytest.mark.parametrize(
    ("template", "prefix"),
    [
        ("/api/v1/users", "/api/v1/users"),
        ("/api/v1/users/{id}", "/api/v1/users"),
        ("/api/v1/users:batchGet", "/api/v1/users"),
        ("/api/v1/mindmaps/{mindmap_id}/nodes", "/api/v1/mindmaps"),
        ("/v1/*/items", "/v1"),
        ("/{name=**}", "/"),
    ],
)
def test_literal_prefix(template: str, prefix: str) -> None:
    """The literal segments before the first variable or wildcard (the verb excluded)."""
    assert prefix == parse(template).literal_prefix


@pytest.mark.parametrize(
    ("template", "openapi"),
    [
        ("/api/v1/users/{user.id}", "/api/v1/users/{user.id}"),
        ("/v1/{name=shelves/*}/books", "/v1/{name}/books"),
        (
            "/api/v1/mindmaps/{id}/nodes/{node_id}:move",
            "/api/v1/mindmaps/{id}/nodes/{node_id}:move",
        ),
    ],
)
def test_openapi_path(template: str, openapi: str) -> None:
    """Variables become `{field.path}` parameters; their sub-templates are folded in."""
    assert openapi == parse(template).openapi_path


def test_variables_in_order() -> None:
    """Each variable knows its field path and whether it spans segments."""
    template = parse("/v1/{shelf}/{book.name=books/**}")

    assert [(("shelf",), False), (("book", "name"), True)] == [
        (v.field_path, v.multi_segment) for v in template.variables
    ]
    assert None is template.verb


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("api/v1/users", "starts with '/'"),
        ("/api//users", "empty segment"),
        ("/api/v1/users/", "empty segment"),
        ("/api/{id", "unbalanced braces"),
        ("/api/**/x", "'**' must be the last segment"),
        ("/api/v 1", "bad literal segment"),
        ("/api/a{id}", "bad literal segment"),
        ("/api/{id}x", "must be a whole segment"),
        ("/api/{1id}", "bad field path"),
        ("/api/{id}/{id}", "bound twice"),
        ("/api/users:bad verb", "bad verb"),
    ],
)
def test_bad_templates_are_refused(template: str, complaint: str) -> None:
    """A template outside the grammar raises TemplateError saying what is wrong."""
    with pytest.raises(TemplateError) as raised:
        parse(template)

    assert complaint in str(raised.value)
