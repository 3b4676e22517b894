"""GraphQL queries end to end over HTTP: single objects, relations, pagination, partial data,
and what each failure looks like (`extensions.code`)."""

from __future__ import annotations

from tests.frontends.graphql.conftest import GraphQLHub, create_mindmap, create_user

ADD_NODE = """
mutation($m: ID!, $p: ID!, $t: String!) {
  addNode(input: {mindmapId: $m, parentId: $p, text: $t}) { node { id } }
}"""


async def test_user_and_mindmap_by_id_with_their_relations(gql: GraphQLHub) -> None:
    """`user` and `mindmap` read one object each, with owner, root, children and parents."""
    ada = await create_user(gql, "Ada")
    ideas = await create_mindmap(gql, ada["id"], "Ideas")
    root = ideas["root"]["id"]
    child = (await gql.data(ADD_NODE, {"m": ideas["id"], "p": root, "t": "First"}))["addNode"]
    await gql.data(ADD_NODE, {"m": ideas["id"], "p": child["node"]["id"], "t": "Deeper"})

    data = await gql.data(
        """query($u: ID!, $m: ID!) {
          user(id: $u) { email displayName plan mindmaps { edges { node { title } } } }
          mindmap(id: $m) {
            title nodeCount owner { displayName }
            root { text parent { id } children { text parent { text } children { text } } }
            nodes { text position mindmapId }
          }
        }""",
        {"u": ada["id"], "m": ideas["id"]},
    )

    assert {
        "email": "ada@example.com",
        "displayName": "Ada",
        "plan": "FREE",
        "mindmaps": {"edges": [{"node": {"title": "Ideas"}}]},
    } == data["user"]
    assert {
        "title": "Ideas",
        "nodeCount": 3,
        "owner": {"displayName": "Ada"},
        "root": {
            "text": "Ideas",
            "parent": None,
            "children": [
                {"text": "First", "parent": {"text": "Ideas"}, "children": [{"text": "Deeper"}]}
            ],
        },
        "nodes": [
            {"text": "Ideas", "position": 0, "mindmapId": ideas["id"]},
            {"text": "First", "position": 0, "mindmapId": ideas["id"]},
            {"text": "Deeper", "position": 0, "mindmapId": ideas["id"]},
        ],
    } == data["mindmap"]


async def test_lists_page_with_first_and_the_end_cursor(gql: GraphQLHub) -> None:
    """`first` sizes a page, `pageInfo.endCursor` as `after` continues it, to the end."""
    names = ["Ada", "Bob", "Cy"]
    for name in names:
        await create_user(gql, name)
    query = """query($after: String) {
      users(first: 2, after: $after) {
        edges { node { displayName } } pageInfo { hasNextPage endCursor }
      }
    }"""

    first = (await gql.data(query))["users"]
    rest = (await gql.data(query, {"after": first["pageInfo"]["endCursor"]}))["users"]

    assert ["Ada", "Bob"] == [e["node"]["displayName"] for e in first["edges"]]
    assert first["pageInfo"]["hasNextPage"]
    assert (["Cy"], {"hasNextPage": False, "endCursor": None}) == (
        [e["node"]["displayName"] for e in rest["edges"]],
        rest["pageInfo"],
    )


async def test_mindmaps_list_by_owner_and_nested_pages(gql: GraphQLHub) -> None:
    """`mindmaps(ownerId:)` filters; `User.mindmaps(first, after)` pages per user."""
    ada = await create_user(gql, "Ada")
    bob = await create_user(gql, "Bob")
    for title in ["A1", "A2", "A3"]:
        await create_mindmap(gql, ada["id"], title)
    await create_mindmap(gql, bob["id"], "B1")

    by_owner = await gql.data(
        "query($o: ID!) { mindmaps(ownerId: $o) { edges { node { title } } } }",
        {"o": bob["id"]},
    )
    nested = """query($u: ID!, $after: String) {
      user(id: $u) {
        mindmaps(first: 2, after: $after) {
          edges { node { title } } pageInfo { endCursor }
        }
      }
    }"""
    page = (await gql.data(nested, {"u": ada["id"]}))["user"]["mindmaps"]
    after = page["pageInfo"]["endCursor"]
    last = (await gql.data(nested, {"u": ada["id"], "after": after}))["user"]["mindmaps"]

    assert [{"node": {"title": "B1"}}] == by_owner["mindmaps"]["edges"]
    assert ["A1", "A2"] == [e["node"]["title"] for e in page["edges"]]
    assert (["A3"], None) == (
        [e["node"]["title"] for e in last["edges"]],
        last["pageInfo"]["endCursor"],
    )


async def test_a_missing_object_is_null_with_not_found_and_the_rest_keeps_its_data(
    gql: GraphQLHub,
) -> None:
    """Partial data: the failing field is null with its error; its siblings answer."""
    await create_user(gql, "Ada")

    answer = await gql.post(
        '{ user(id: "nobody") { id } users { edges { node { displayName } } } }'
    )

    assert {"user": None, "users": {"edges": [{"node": {"displayName": "Ada"}}]}} == answer["data"]
    assert [(["user"], "NOT_FOUND")] == [
        (e["path"], e["extensions"]["code"]) for e in answer["errors"]
    ]


async def test_me_is_unauthenticated_until_authentication_exists(gql: GraphQLHub) -> None:
    """No request carries a principal yet: `me` is null with UNAUTHENTICATED."""
    answer = await gql.post("{ me { id } }")

    assert {"me": None} == answer["data"]
    assert ["UNAUTHENTICATED"] == [e["extensions"]["code"] for e in answer["errors"]]


async def test_arguments_out_of_range_are_bad_user_input_before_any_call(
    gql: GraphQLHub,
) -> None:
    """`first` outside its range and ids that cannot exist are refused by the front end."""
    answer = await gql.post(
        '{ users(first: 0) { edges { node { id } } } user(id: "") { id } '
        "mindmaps(first: 1001) { edges { node { id } } } }"
    )

    assert [] == gql.calls.methods
    assert {
        ("users", "first"),
        ("user", "id"),
        ("mindmaps", "first"),
    } == {(e["path"][0], e["extensions"]["fieldViolations"][0]["field"]) for e in answer["errors"]}
    assert {"BAD_USER_INPUT"} == {e["extensions"]["code"] for e in answer["errors"]}


async def test_a_bad_page_token_is_bad_user_input_with_the_backends_violation(
    gql: GraphQLHub,
) -> None:
    """The backend's INVALID_ARGUMENT arrives as BAD_USER_INPUT with its field violations."""
    answer = await gql.post('{ users(after: "garbage") { edges { node { id } } } }')

    [error] = answer["errors"]
    assert "BAD_USER_INPUT" == error["extensions"]["code"]
    assert ["page_token"] == [v["field"] for v in error["extensions"]["fieldViolations"]]


async def test_authorization_trace_and_request_id_headers_reach_the_backend(
    gql: GraphQLHub,
) -> None:
    """The headers REST passes on are passed on from GraphQL too, as gRPC metadata."""
    headers = {
        "authorization": "Bearer token",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "x-request-id": "req-1",
        "x-other": "dropped",
    }
    response = await gql.http.post(
        gql.url, json={"query": "{ users { edges { node { id } } } }"}, headers=headers
    )

    assert 200 == response.status_code
    [sent] = gql.calls.metadata
    assert {k: v for k, v in headers.items() if k != "x-other"} == {
        k: v for k, v in sent.items() if k in headers
    }


async def test_forwarded_headers_must_be_printable_ascii(gql: GraphQLHub) -> None:
    """A header passed on to the backends that gRPC cannot carry is a coded 400."""
    response = await gql.http.post(
        gql.url,
        json={"query": "{ users { edges { node { id } } } }"},
        headers={b"authorization": "Bearer caf\u00e9".encode()},
    )

    assert 400 == response.status_code
    assert ["BAD_REQUEST"] == [e["extensions"]["code"] for e in response.json()["errors"]]
