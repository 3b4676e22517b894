"""GraphQL over HTTP at /graphql: GET and POST, media types and status codes of the
GraphQL-over-HTTP spec, transport refusals as coded GraphQL errors, batches, GraphiQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.types import Message

from hub.client import BackendClient
from hub.config import GraphQL, Http
from hub.frontends.graphql.app import GRAPHQL_RESPONSE_JSON, GraphQLApp
from hub.frontends.graphql.schema import build_schema
from hub.observability.asgi import ENDPOINT_KEY
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


async def test_the_endpoint_label_names_the_operation(gql: GraphQLHub) -> None:
    """`scope["hub.endpoint"]` for the HTTP metrics: graphql:<operationName>, anonymous,
    batch, or the path for the GraphiQL page."""
    running = gql.running
    client = BackendClient(running.backend_targets)
    app = GraphQLApp(
        build_schema(GraphQL(), introspection=True),
        client=client,
        bus=running.hub.bus,
        settings=GraphQL(),
        http=Http(),
    )
    query = "query Named { users { pageInfo { hasNextPage } } }"
    labels = []
    try:
        for method, body, accept in [
            ("POST", {"query": query, "operationName": "Named"}, "application/json"),
            ("POST", {"query": "{ users { pageInfo { hasNextPage } } }"}, "application/json"),
            ("POST", [{"query": query}], "application/json"),
            ("GET", None, "text/html"),
        ]:
            labels.append(await _endpoint_label(app, method, body, accept))
    finally:
        await client.close()

    assert ["graphql:Named", "graphql:anonymous", "graphql:batch", "/graphql"] == labels


async def _endpoint_label(app: GraphQLApp, method: str, body: object, accept: str) -> object:
    """Calls `app` over ASGI directly and returns the label it left in the scope."""
    payload = json.dumps(body).encode() if body is not None else b""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"accept", accept.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert 200 == sent[0]["status"]
    return scope.get(ENDPOINT_KEY)
