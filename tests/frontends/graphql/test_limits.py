"""Over-limit and malformed documents: each rejected with its code before any backend call
(the hub's backend call counter stays at 0), and introspection as configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.frontends.graphql.app import GRAPHQL_RESPONSE_JSON
from tests.frontends.graphql.conftest import GraphQLHub, graphql_hub

DEEP = (
    "{ users { edges { node { mindmaps { edges { node { owner { mindmaps { edges { node "
    "{ id } } } } } } } } } } }"
)  # 11 levels
ALIASES = "{ " + " ".join(f"a{i}: users {{ pageInfo {{ hasNextPage }} }}" for i in range(16)) + " }"
MANY_TOKENS = "{ users { edges { node { " + "id " * 1000 + "} } } }"
LONG = '{ user(id: "' + "x" * 20_000 + '") { id } }'
COSTLY = (
    "{ users(first: 1000) { edges { node { mindmaps(first: 100) { edges { node "
    "{ id title } } } } } } }"
)  # 2 + 1000 * (2 + 2 + 2 + 100 * (2 + 2 + 1 + 1))
FRAGMENT_BOMB = (
    "query { ...F0 } "
    + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(12))
    + " fragment F12 on Query { users { pageInfo { hasNextPage } } }"
)

REJECTED = [
    pytest.param(DEEP, None, "QUERY_TOO_DEEP", id="deep nesting"),
    pytest.param(ALIASES, None, "TOO_MANY_ALIASES", id="alias flood"),
    pytest.param(MANY_TOKENS, None, "QUERY_TOO_LARGE", id="1000+ tokens"),
    pytest.param(LONG, None, "QUERY_TOO_LARGE", id="20,000 characters"),
    pytest.param(COSTLY, None, "QUERY_TOO_COMPLEX", id="pages of pages"),
    pytest.param(FRAGMENT_BOMB, None, "QUERY_TOO_COMPLEX", id="fragment bomb"),
    pytest.param("{ users { edges { node { password } } } }", None,
                 "GRAPHQL_VALIDATION_FAILED", id="unknown field"),
    pytest.param("query($n: Int!) { users(first: $n) { pageInfo { hasNextPage } } }",
                 {"n": "ten"}, "BAD_USER_INPUT", id="wrong variable type"),
    pytest.param("query($n: Int!) { users(first: $n) { pageInfo { hasNextPage } } }",
                 {}, "BAD_USER_INPUT", id="missing variable"),
    pytest.param("{ users { edges ", None, "GRAPHQL_PARSE_FAILED", id="syntax error"),
    pytest.param("{ users { edges { node { mindmaps { ...Nope } } } } }", None,
                 "GRAPHQL_VALIDATION_FAILED", id="unknown fragment"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "variables", "code"), REJECTED)
async def test_rejected_before_any_backend_call(
    gql: GraphQLHub, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    """400 with the code, no data, and no call reached a backend."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables

    response = await gql.http.post(gql.url, json=body, headers={"accept": GRAPHQL_RESPONSE_JSON})

    answer = response.json()
    assert (400, None, [code]) == (
        response.status_code,
        answer.get("data"),
        [e["extensions"]["code"] for e in answer["errors"]],
    )
    assert [] == gql.calls.methods


async def test_each_limit_is_configurable(tmp_path: Path) -> None:
    """Raised limits let the same documents through; lowered ones refuse smaller ones."""
    raised = {"max_depth": 12, "max_aliases": 20, "max_cost": 1_000_000}
    async with graphql_hub(tmp_path / "raised", graphql=raised) as hub:
        answers = [await hub.post(query) for query in (DEEP, ALIASES, COSTLY)]
    lowered = {"max_tokens": 10, "max_query_length": 30}
    async with graphql_hub(tmp_path / "lowered", graphql=lowered) as hub:
        tokens = await hub.post("{ users { edges { node { id } } } }")
        length = await hub.post("{ users { pageInfo { hasNextPage } } }")

    assert [[], [], []] == [answer.get("errors", []) for answer in answers]
    assert [["QUERY_TOO_LARGE"], ["QUERY_TOO_LARGE"]] == [
        [e["extensions"]["code"] for e in answer["errors"]] for answer in (tokens, length)
    ]


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_is_on_by_default(gql: GraphQLHub) -> None:
    """The development profile answers introspection."""
    assert {"__schema": {"queryType": {"name": "Query"}}} == await gql.data(INTROSPECTION)


async def test_the_production_profile_turns_introspection_and_suggestions_off(
    tmp_path: Path,
) -> None:
    """`__schema` is INTROSPECTION_DISABLED, and errors suggest no field names."""
    async with graphql_hub(tmp_path / "data", profile="production") as hub:
        refused = await hub.post(INTROSPECTION)
        misspelt = await hub.post("{ user(id: 1) { emial } }")

    assert ["INTROSPECTION_DISABLED"] == [e["extensions"]["code"] for e in refused["errors"]]
    assert ["Cannot query field 'emial' on type 'User'."] == [
        e["message"] for e in misspelt["errors"]
    ]


async def test_introspection_can_be_forced_on_in_production(tmp_path: Path) -> None:
    """`graphql.introspection: true` wins over the profile."""
    async with graphql_hub(
        tmp_path / "data", profile="production", graphql={"introspection": True}
    ) as hub:
        answer = await hub.data(INTROSPECTION)

    assert {"__schema": {"queryType": {"name": "Query"}}} == answer
