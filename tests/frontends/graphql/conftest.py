"""A hub with its GraphQL front end, an HTTP client for it, and a count of backend calls.

The count is real: a grpc client interceptor on the hub's `BackendClient` sees every call a
front end makes to a backend (`hub.testing.CallCounter`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.testing import CallCounter, RunningHub, running_hub


@dataclass(frozen=True)
class GraphQLHub:
    """A running hub, an HTTP client at its GraphQL URL, and the backend call counter."""

    running: RunningHub
    http: httpx.AsyncClient
    calls: CallCounter

    @property
    def url(self) -> str:
        """The GraphQL endpoint."""
        return self.running.graphql_url

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON answer of a POST of `query`, which must be 200 application/json."""
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        response = await self.http.post(self.url, json=body)
        assert (200, "application/json") == (
            response.status_code,
            response.headers["content-type"],
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The `data` of an answer that must have no errors."""
        answer = await self.post(query, variables)
        assert "errors" not in answer, answer
        return answer["data"]


@asynccontextmanager
async def graphql_hub(data_dir: Path, **overrides: Any) -> AsyncIterator[GraphQLHub]:
    """A `GraphQLHub` for a hub with `overrides` (sections of the YAML settings)."""
    calls = CallCounter()
    async with (
        running_hub(data_dir, client_interceptors=[calls], **overrides) as running,
        httpx.AsyncClient() as http,
    ):
        yield GraphQLHub(running, http, calls)


@pytest.fixture
async def gql(tmp_path: Path) -> AsyncIterator[GraphQLHub]:
    """A started hub with default settings, its GraphQL client and call counter."""
    async with graphql_hub(tmp_path / "data") as hub:
        yield hub


CREATE_USER = """
mutation($email: String!, $name: String!) {
  createUser(input: {email: $email, displayName: $name}) { user { id email etag } }
}"""
CREATE_MINDMAP = """
mutation($owner: ID!, $title: String!) {
  createMindmap(input: {ownerId: $owner, title: $title}) { mindmap { id etag root { id } } }
}"""


async def create_user(hub: GraphQLHub, name: str) -> dict[str, Any]:
    """Creates a user named `name` (email `name@example.com`) through GraphQL."""
    variables = {"email": f"{name.lower()}@example.com", "name": name}
    user: dict[str, Any] = (await hub.data(CREATE_USER, variables))["createUser"]["user"]
    return user


async def create_mindmap(hub: GraphQLHub, owner_id: str, title: str) -> dict[str, Any]:
    """Creates a mindmap through GraphQL; its `root` holds the root node's id."""
    variables = {"owner": owner_id, "title": title}
    mindmap: dict[str, Any] = (await hub.data(CREATE_MINDMAP, variables))["createMindmap"][
        "mindmap"
    ]
    return mindmap
