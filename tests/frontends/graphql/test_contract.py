"""The GraphQL contract: the committed SDL is the live schema, the schema covers the proto
fields of User, Mindmap and Node (or lists them as hidden), and `graphql/` holds documents
only."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.descriptor import Descriptor

from hub.config import GraphQL
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap, Node
from hub.contracts.user.v1.user_pb2 import User
from hub.frontends.graphql.export import SDL_FILE, export_sdl, schema_sdl
from hub.frontends.graphql.schema import build_schema
from hub.frontends.graphql.types import PROTO_FIELDS

ROOT = Path(__file__).resolve().parents[3]
MESSAGES: dict[str, Descriptor] = {
    "User": User.DESCRIPTOR,
    "Mindmap": Mindmap.DESCRIPTOR,
    "Node": Node.DESCRIPTOR,
}
HIDDEN: dict[str, set[str]] = {"User": set(), "Mindmap": set(), "Node": set()}
"""Proto fields deliberately left out of the GraphQL types (none today)."""


def test_committed_sdl_is_the_live_schema(tmp_path: Path) -> None:
    """graphql/schema.graphql is what the schema prints; regenerate it with `hub gen`."""
    fresh = export_sdl(ROOT, tmp_path / "schema.graphql").read_text(encoding="utf-8")
    committed = (ROOT / SDL_FILE).read_text(encoding="utf-8")

    assert fresh == committed, f"{SDL_FILE} is out of date: run `hub gen` and commit it"


def test_settings_change_no_type() -> None:
    """Limits and introspection change checks only: one SDL describes every configuration."""
    strict = GraphQL(max_depth=3, max_cost=10, max_aliases=0, max_batch=1)

    assert schema_sdl() == build_schema(strict, introspection=False).as_str() + "\n"


def test_every_proto_field_is_shown_or_listed_as_hidden() -> None:
    """Each field of User, Mindmap and Node maps to a GraphQL field of the same type, or is
    named in HIDDEN; nothing is mapped that the proto does not have."""
    schema = build_schema(GraphQL(), introspection=True)
    shown: dict[str, dict[str, str]] = {}
    unmapped: dict[str, set[str]] = {}
    for name, descriptor in MESSAGES.items():
        mapping = PROTO_FIELDS[name]
        proto_fields = {field.name for field in descriptor.fields}
        unmapped[name] = proto_fields - set(mapping)
        graphql_type = schema._schema.get_type(name)
        assert graphql_type is not None
        graphql_fields = set(getattr(graphql_type, "fields", {}))
        shown[name] = {
            proto: graphql
            for proto, graphql in mapping.items()
            if graphql is not None and graphql in graphql_fields and proto in proto_fields
        }
        assert HIDDEN[name] == {proto for proto, graphql in mapping.items() if graphql is None}

    assert {name: set() for name in MESSAGES} == unmapped
    assert {name: {p: g for p, g in PROTO_FIELDS[name].items() if g} for name in MESSAGES} == (
        shown
    )


def test_graphql_folder_holds_documents_only() -> None:
    """`graphql/` is not a Python package: the SDL only."""
    assert ["schema.graphql"] == sorted(p.name for p in (ROOT / "graphql").iterdir())
