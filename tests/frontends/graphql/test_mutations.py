"""Every GraphQL mutation end to end, and the codes of the failures writes can meet."""

from __future__ import annotations

from typing import Any

from tests.frontends.graphql.conftest import GraphQLHub, create_mindmap, create_user

UPDATE_USER = """mutation($i: UpdateUserInput!) {
  updateUser(input: $i) { user { email displayName plan etag } }
}"""
NODE_FIELDS = "node { id text position parent { id } } mindmap { nodeCount etag }"


def codes(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, reason) of each error of an answer."""
    return [(e["extensions"]["code"], e["extensions"].get("reason", "")) for e in answer["errors"]]


async def test_user_mutations_create_update_only_what_is_set_and_delete(
    gql: GraphQLHub,
) -> None:
    """createUser takes an optional plan; updateUser changes the fields its input sets."""
    created = await gql.data(
        """mutation { createUser(input: {email: "ada@example.com", displayName: "Ada",
        plan: PRO}) { user { id plan displayName } } }"""
    )
    user = created["createUser"]["user"]

    updated = await gql.data(UPDATE_USER, {"i": {"id": user["id"], "plan": "TEAM"}})
    deleted = await gql.data(
        "mutation($i: DeleteInput!) { deleteUser(input: $i) { deletedUserId } }",
        {"i": {"id": user["id"]}},
    )
    gone = await gql.post("query($u: ID!) { user(id: $u) { id } }", {"u": user["id"]})

    assert {"id": user["id"], "plan": "PRO", "displayName": "Ada"} == user
    assert ("ada@example.com", "Ada", "TEAM") == tuple(
        updated["updateUser"]["user"][k] for k in ("email", "displayName", "plan")
    )
    assert {"deleteUser": {"deletedUserId": user["id"]}} == deleted
    assert [("NOT_FOUND", "")] == codes(gone)


async def test_a_stale_etag_is_a_conflict_and_changes_nothing(gql: GraphQLHub) -> None:
    """An etag that no longer matches: CONFLICT with reason ETAG_MISMATCH, nothing written."""
    ada = await create_user(gql, "Ada")
    await gql.data(UPDATE_USER, {"i": {"id": ada["id"], "displayName": "Ada L."}})

    stale = await gql.post(
        UPDATE_USER, {"i": {"id": ada["id"], "displayName": "Lost", "etag": ada["etag"]}}
    )
    now = await gql.data("query($u: ID!) { user(id: $u) { displayName } }", {"u": ada["id"]})

    assert {"updateUser": None} == stale["data"]
    assert [("CONFLICT", "ETAG_MISMATCH")] == codes(stale)
    assert {"user": {"displayName": "Ada L."}} == now


async def test_write_failures_map_to_their_codes(gql: GraphQLHub) -> None:
    """Taken email → CONFLICT; owner of mindmaps → FAILED_PRECONDITION; unknown owner →
    NOT_FOUND; a null for a field to keep → BAD_USER_INPUT; bad values → BAD_USER_INPUT."""
    ada = await create_user(gql, "Ada")
    await create_mindmap(gql, ada["id"], "Ideas")

    taken = await gql.post(
        'mutation { createUser(input: {email: "ada@example.com", displayName: "Two"}) '
        "{ user { id } } }"
    )
    owner = await gql.post(
        "mutation($i: DeleteInput!) { deleteUser(input: $i) { deletedUserId } }",
        {"i": {"id": ada["id"]}},
    )
    nobody = await gql.post(
        'mutation { createMindmap(input: {ownerId: "nobody", title: "T"}) { mindmap { id } } }'
    )
    null = await gql.post(UPDATE_USER, {"i": {"id": ada["id"], "email": None}})
    invalid = await gql.post(
        'mutation { createUser(input: {email: "nope", displayName: " "}) { user { id } } }'
    )

    assert "CONFLICT" == codes(taken)[0][0]
    assert [("FAILED_PRECONDITION", "USER_HAS_MINDMAPS")] == codes(owner)
    assert "NOT_FOUND" == codes(nobody)[0][0]
    assert [{"field": "input.email", "description": "cannot be null; leave it out to keep it"}] == (
        null["errors"][0]["extensions"]["fieldViolations"]
    )
    assert ["user.email", "user.display_name"] == [
        v["field"] for v in invalid["errors"][0]["extensions"]["fieldViolations"]
    ]
    assert "BAD_USER_INPUT" == codes(invalid)[0][0]


async def test_mindmap_mutations_update_and_delete(gql: GraphQLHub) -> None:
    """updateMindmap changes what its input sets; deleteMindmap removes the mindmap."""
    ada = await create_user(gql, "Ada")
    ideas = await create_mindmap(gql, ada["id"], "Ideas")

    updated = await gql.data(
        """mutation($i: UpdateMindmapInput!) {
          updateMindmap(input: $i) { mindmap { title description root { text } } }
        }""",
        {"i": {"id": ideas["id"], "description": "Described", "etag": ideas["etag"]}},
    )
    deleted = await gql.data(
        "mutation($i: DeleteInput!) { deleteMindmap(input: $i) { deletedMindmapId } }",
        {"i": {"id": ideas["id"]}},
    )
    gone = await gql.post("query($m: ID!) { mindmap(id: $m) { id } }", {"m": ideas["id"]})

    assert {"title": "Ideas", "description": "Described", "root": {"text": "Ideas"}} == (
        updated["updateMindmap"]["mindmap"]
    )
    assert {"deleteMindmap": {"deletedMindmapId": ideas["id"]}} == deleted
    assert [("NOT_FOUND", "")] == [(c, "") for c, _ in codes(gone)]


async def test_node_mutations_add_update_move_and_delete(gql: GraphQLHub) -> None:
    """Each node write answers the node and the whole mindmap after the write."""
    ada = await create_user(gql, "Ada")
    ideas = await create_mindmap(gql, ada["id"], "Ideas")
    root = ideas["root"]["id"]
    add = f"""mutation($i: AddNodeInput!) {{ addNode(input: $i) {{ {NODE_FIELDS} }} }}"""

    first = (await gql.data(add, {"i": {"mindmapId": ideas["id"], "parentId": root, "text": "A"}}))[
        "addNode"
    ]
    second = (
        await gql.data(
            add, {"i": {"mindmapId": ideas["id"], "parentId": root, "text": "B", "position": 0}}
        )
    )["addNode"]
    a_id, b_id = first["node"]["id"], second["node"]["id"]
    renamed = (
        await gql.data(
            f"mutation($i: UpdateNodeInput!) {{ updateNode(input: $i) {{ {NODE_FIELDS} }} }}",
            {"i": {"mindmapId": ideas["id"], "nodeId": a_id, "text": "A2"}},
        )
    )["updateNode"]
    moved = (
        await gql.data(
            f"mutation($i: MoveNodeInput!) {{ moveNode(input: $i) {{ {NODE_FIELDS} }} }}",
            {"i": {"mindmapId": ideas["id"], "nodeId": b_id, "newParentId": a_id}},
        )
    )["moveNode"]
    deleted = (
        await gql.data(
            """mutation($i: DeleteNodeInput!) {
              deleteNode(input: $i) { deletedNodeId mindmap { nodeCount nodes { text } } }
            }""",
            {"i": {"mindmapId": ideas["id"], "nodeId": a_id}},
        )
    )["deleteNode"]

    assert ({"id": a_id, "text": "A", "position": 0, "parent": {"id": root}}, 2) == (
        first["node"],
        first["mindmap"]["nodeCount"],
    )
    assert (0, 3) == (second["node"]["position"], second["mindmap"]["nodeCount"])
    assert ("A2", 1) == (renamed["node"]["text"], renamed["node"]["position"])
    assert {"id": b_id, "text": "B", "position": 0, "parent": {"id": a_id}} == moved["node"]
    assert {"deletedNodeId": a_id, "mindmap": {"nodeCount": 1, "nodes": [{"text": "Ideas"}]}} == (
        deleted
    )


async def test_node_write_with_a_stale_etag_is_a_conflict(gql: GraphQLHub) -> None:
    """The mindmap's etag guards its nodes too."""
    ada = await create_user(gql, "Ada")
    ideas = await create_mindmap(gql, ada["id"], "Ideas")
    add = "mutation($i: AddNodeInput!) { addNode(input: $i) { node { id } } }"
    node = {"mindmapId": ideas["id"], "parentId": ideas["root"]["id"], "text": "A"}
    await gql.data(add, {"i": node})

    stale = await gql.post(add, {"i": {**node, "etag": ideas["etag"]}})

    assert [("CONFLICT", "ETAG_MISMATCH")] == codes(stale)
