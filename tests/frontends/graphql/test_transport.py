"""GraphQL over HTTP at /graphql: GET and POST, media types and status codes of the
GraphQL-over-HTTP spec, transport refusals as coded GraphQL errors, batches, GraphiQL."""

from __future__ import annotations

from pathlib import Path

from hub.frontends.graphql.app import GRAPHQL_RESPONSE_JSON
from tests.frontends.graphql.conftest import GraphQLHub, create_user, graphql_hub

ACCEPT_GRAPHQL = {"accept": GRAPHQL_RESPONSE_JSON}


async def test_get_runs_queries(gql: GraphQLHub) -> None:
    """A query in the URL, variables as JSON."""
    ada = await create_user(gql, "Ada")

    response = await gql.http.get(
        gql.url,
        params={
            "query": "query($u: ID!) { user(id: $u) { displayName } }",
            "variables": f'{{"u": "{ada["id"]}"}}',
        },
    )

    assert (200, {"data": {"user": {"displayName": "Ada"}}}) == (
        response.status_code,
        response.json(),
    )


async def test_get_refuses_mutations(gql: GraphQLHub) -> None:
    """A mutation over GET changes nothing and is refused with a coded error."""
    response = await gql.http.get(
        gql.url,
        params={
            "query": 'mutation { createUser(input: {email: "a@b.co", displayName: "A"}) '
            "{ user { id } } }"
        },
    )

    assert 405 == response.status_code
    assert ["METHOD_NOT_ALLOWED"] == [e["extensions"]["code"] for e in response.json()["errors"]]
    assert [] == gql.calls.methods


async def test_graphql_response_json_uses_the_recommended_status_codes(gql: GraphQLHub) -> None:
    """With application/graphql-response+json: 400 for a document that does not parse or
    validate, 200 once execution started (even with field errors)."""
    bad_syntax = await gql.http.post(gql.url, json={"query": "{ users"}, headers=ACCEPT_GRAPHQL)
    invalid = await gql.http.post(gql.url, json={"query": "{ nosuch }"}, headers=ACCEPT_GRAPHQL)
    field_error = await gql.http.post(
        gql.url, json={"query": '{ user(id: "nobody") { id } }'}, headers=ACCEPT_GRAPHQL
    )

    assert [
        (400, GRAPHQL_RESPONSE_JSON, "GRAPHQL_PARSE_FAILED"),
        (400, GRAPHQL_RESPONSE_JSON, "GRAPHQL_VALIDATION_FAILED"),
        (200, GRAPHQL_RESPONSE_JSON, "NOT_FOUND"),
    ] == [
        (r.status_code, r.headers["content-type"], r.json()["errors"][0]["extensions"]["code"])
        for r in (bad_syntax, invalid, field_error)
    ]


async def test_application_json_answers_200_with_the_errors(gql: GraphQLHub) -> None:
    """Clients that only accept application/json get 200 and the errors (the spec's rule)."""
    response = await gql.http.post(gql.url, json={"query": "{ nosuch }"})

    assert (200, "application/json") == (response.status_code, response.headers["content-type"])
    assert ["GRAPHQL_VALIDATION_FAILED"] == [
        e["extensions"]["code"] for e in response.json()["errors"]
    ]


async def test_a_body_that_is_not_json_is_a_coded_400(gql: GraphQLHub) -> None:
    """strawberry's plain-text refusal becomes a GraphQL error."""
    response = await gql.http.post(
        gql.url, content=b"{", headers={"content-type": "application/json", **ACCEPT_GRAPHQL}
    )

    assert (400, GRAPHQL_RESPONSE_JSON) == (
        response.status_code,
        response.headers["content-type"],
    )
    assert ["BAD_REQUEST"] == [e["extensions"]["code"] for e in response.json()["errors"]]


async def test_batches_run_each_operation_up_to_the_limit(tmp_path: Path) -> None:
    """A JSON array runs each operation; more than `max_batch` is TOO_MANY_OPERATIONS."""
    async with graphql_hub(tmp_path / "data", graphql={"max_batch": 2}) as hub:
        one = {"query": "{ users { edges { node { id } } } }"}
        two = {"query": '{ user(id: "nobody") { id } }'}

        batch = await hub.http.post(hub.url, json=[one, two])
        too_many = await hub.http.post(hub.url, json=[one, one, one])

    assert 200 == batch.status_code
    assert [{"users": {"edges": []}}, {"user": None}] == [r["data"] for r in batch.json()]
    assert 400 == too_many.status_code
    assert ["TOO_MANY_OPERATIONS"] == [e["extensions"]["code"] for e in too_many.json()["errors"]]


async def test_graphiql_is_served_to_browsers_and_can_be_turned_off(tmp_path: Path) -> None:
    """GET with Accept text/html and no query: the GraphiQL page; off: a coded 404."""
    browser = {"accept": "text/html"}
    async with graphql_hub(tmp_path / "on") as hub:
        page = await hub.http.get(hub.url, headers=browser)
    async with graphql_hub(tmp_path / "off", graphql={"graphiql": False}) as hub:
        off = await hub.http.get(hub.url, headers=browser)

    assert (200, True) == (page.status_code, "graphiql" in page.text.lower())
    assert page.headers["content-type"].startswith("text/html")
    assert 404 == off.status_code
    assert ["NOT_FOUND"] == [e["extensions"]["code"] for e in off.json()["errors"]]
