"""The committed SDL of the GraphQL schema, `graphql/schema.graphql`, as `hub gen` writes it.

It is the live schema (`schema.build_schema` with the default settings) printed as SDL, so
that a change to the API shows in review; a test rebuilds it and fails when the committed
copy has drifted (the fix: `hub gen`, or `python -m hub.frontends.graphql.export .`).
The settings change no type, so one document describes every configuration.
"""

from __future__ import annotations

from pathlib import Path

from hub.config import GraphQL
from hub.frontends.graphql.schema import build_schema

SDL_FILE = Path("graphql/schema.graphql")


def schema_sdl() -> str:
    """The schema as SDL, with a final newline."""
    return build_schema(GraphQL(), introspection=True).as_str() + "\n"


def export_sdl(root: Path, out: Path | None = None) -> Path:
    """Writes the SDL to `out` (default: `root/graphql/schema.graphql`); returns the path."""
    target = out if out is not None else root / SDL_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(schema_sdl(), encoding="utf-8")
    return target


if __name__ == "__main__":  # `hub gen` runs this in a fresh interpreter
    import sys

    print(f"generated {export_sdl(Path(sys.argv[1]))}")
