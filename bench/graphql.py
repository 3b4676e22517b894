"""Scenario `graphql`: what the GraphQL front end costs, three ways, in one run.

(a) nested: `users(first: N) { edges { node { mindmaps { edges { node { owner { id } } } } } } }`
    for N = 1, 100, 1000 users (`--quick`: 1, 10, 100; one mindmap each) against an
    in-process hub: the backend
    calls it makes (counted by a client interceptor, `hub.testing.CallCounter`) and its
    median wall time over HTTP. The limit `max_cost` is raised for the run: N = 1000 costs
    about 76,000 against the default 50,000.
(b) execution: a 1,000-node query (`mindmap(id) { nodes { id text position } }`) executed
    by the hub's schema with every protection on (limits, cached parse and validation, error
    shaping) against plain graphql-core (`graphql()`: parse, validate, execute) on an
    equivalent schema whose resolvers build the same objects; both in-process from a
    primed loader, so no backend call is timed. Ratio hub / plain; goal at most 1.1.
(c) over HTTP: the same single mindmap (10 nodes) as a GraphQL GET query and as a REST GET,
    through one `hub serve` process, alternating rounds (bench/throughput.py); ratio of
    throughputs GraphQL / REST, goal at least 0.5.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx

from bench import table
from bench.load import LoadResult, http_get
from bench.scenario import Options
from bench.throughput import Side, Target, ThroughputOutcome, ThroughputScenario, rest_get
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql,
)
from hub.client import BackendClient
from hub.config import GraphQL
from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.events.memory import MemoryEventBus
from hub.frontends.graphql.context import Calls, Context
from hub.frontends.graphql.loaders import Loaders
from hub.frontends.graphql.schema import build_schema
from hub.frontends.graphql.types import Node, Tree
from hub.testing import CallCounter, running_hub

NESTED_SIZES = (1, 100, 1000)
QUICK_NESTED_SIZES = (1, 10, 100)
NESTED_QUERY = """query($n: Int!) {
  users(first: $n) { edges { node { mindmaps { edges { node { owner { id } } } } } } }
}"""
NODES_QUERY = "query($id: ID!) { mindmap(id: $id) { nodes { id text position } } }"
EXECUTION_ITEMS = 1000
SINGLE_QUERY = (
    '{ mindmap(id: "%s") { id title description etag nodeCount createTime updateTime '
    "nodes { id text position } } }"
)


@dataclass(frozen=True)
class NestedRow:
    """The nested query at one N."""

    n: int
    items: int
    backend_calls: int
    calls: list[str]
    median_ms: float


@dataclass(frozen=True)
class ExecutionRatio:
    """The 1,000-item query: hub schema with protections against plain graphql-core."""

    items: int
    hub_ms: float
    plain_ms: float
    ratio: float
    goal: float = 1.1


@dataclass(frozen=True)
class GraphQLOutcome:
    """The three measurements."""

    nested: list[NestedRow]
    execution: ExecutionRatio
    http: ThroughputOutcome

    def report(self) -> list[str]:
        """Table rows."""
        lines = [f"{'graphql: nested users -> mindmaps -> owner':46} {'calls':>6} {'ms':>9}"]
        lines += [
            f"  N = {row.n:<5} ({row.items} users answered)".ljust(46)
            + f" {row.backend_calls:6d} {row.median_ms:9.2f}"
            for row in self.nested
        ]
        e = self.execution
        lines.append(
            f"graphql: {e.items}-item query, hub with protections {e.hub_ms:.2f} ms, plain "
            f"graphql-core {e.plain_ms:.2f} ms: ratio {e.ratio:.2f} (goal <= {e.goal})"
        )
        return lines + self.http.report()

    def rows(self) -> list[table.Row]:
        """(a) one row, its ratio the most backend calls of any N over the fewest (goal: 1,
        equal); (b) the hub schema's row with the time ratio, then plain graphql-core's;
        (c) the throughput rows."""
        calls = [row.backend_calls for row in self.nested]
        sizes = " / ".join(f"{row.n:,}" for row in self.nested)
        nested = table.Ratio(
            f"graphql nested: most / fewest backend calls over N = {sizes}",
            max(calls) / min(calls),
            goal=table.at_most(1.0),
            note=f"{' / '.join(map(str, calls))} calls",
        )
        e = self.execution
        execution = table.Ratio(
            f"graphql execution: {e.items}-item query, hub / plain graphql-core",
            e.ratio,
            goal=table.at_most(e.goal),
        )
        return [
            table.Row(
                "graphql",
                f"nested users -> mindmaps -> owner, N = {sizes}",
                latency=" / ".join(f"{row.median_ms:.1f}" for row in self.nested) + " ms",
                ratio=nested,
            ),
            table.Row(
                "graphql",
                f"{e.items}-item query, hub schema, every protection on",
                latency=f"{e.hub_ms:.2f} ms",
                ratio=execution,
            ),
            table.Row("graphql", "the same, plain graphql-core", latency=f"{e.plain_ms:.2f} ms"),
            *self.http.rows(),
        ]

    def as_json(self) -> dict[str, object]:
        """Everything, for bench-results.json."""
        return {
            "kind": "graphql",
            "nested": [asdict(row) for row in self.nested],
            "execution": asdict(self.execution),
            "http": self.http.as_json(),
        }


def _graphql_get(target: Target, seconds: float) -> LoadResult:
    url = f"{target.hub.http_base}/graphql?query={quote(SINGLE_QUERY % target.mindmap_id)}"
    return http_get(url, seconds=seconds, connections=target.connections)


GRAPHQL_VS_REST = ThroughputScenario(
    "graphql-http",
    Side("GraphQL GET /graphql, one mindmap (10 nodes)", _graphql_get),
    rest_get("REST GET /api/v1/mindmaps/{id}, the same mindmap"),
    goal=0.5,
)


@dataclass(frozen=True)
class GraphQLScenario:
    """(a), (b) and (c) of the module docstring."""

    name: str = "graphql"

    def run(self, options: Options) -> GraphQLOutcome:
        """Runs the three measurements, one after the other."""
        repeats = 3 if options.quick else 15
        sizes = QUICK_NESTED_SIZES if options.quick else NESTED_SIZES
        nested = asyncio.run(_nested(sizes, repeats))
        execution = asyncio.run(_execution(repeats * 4))
        return GraphQLOutcome(nested, execution, GRAPHQL_VS_REST.run(options))


async def _nested(sizes: tuple[int, ...], repeats: int) -> list[NestedRow]:
    calls = CallCounter()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        async with (
            running_hub(
                Path(folder), client_interceptors=[calls], graphql={"max_cost": 1_000_000}
            ) as running,
            httpx.AsyncClient(timeout=60) as http,
        ):
            await _seed(running, max(sizes))
            rows = []
            for n in sizes:
                body = {"query": NESTED_QUERY, "variables": {"n": n}}
                times: list[float] = []
                answered = 0
                for _ in range(repeats):
                    calls.methods.clear()
                    start = time.perf_counter()
                    response = await http.post(running.graphql_url, json=body)
                    times.append((time.perf_counter() - start) * 1000)
                    answered = len(response.json()["data"]["users"]["edges"])
                rows.append(
                    NestedRow(n, answered, len(calls.methods), calls.short(), median(times))
                )
            return rows


async def _seed(running: Any, count: int) -> None:
    from hub.contracts.user.v1 import user_pb2

    async def one(index: int) -> None:
        user = user_pb2.User(email=f"u{index}@example.com", display_name=f"User {index}")
        created = (await running.users.CreateUser(user_pb2.CreateUserRequest(user=user))).user
        mindmap = mindmap_pb2.Mindmap(owner_id=created.id, title=f"Map {index}")
        await running.mindmaps.CreateMindmap(mindmap_pb2.CreateMindmapRequest(mindmap=mindmap))

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))


def _big_mindmap(items: int) -> mindmap_pb2.Mindmap:
    root = mindmap_pb2.Node(id="root", text="root", position=0)
    nodes = [root] + [
        mindmap_pb2.Node(id=f"n{i}", parent_id="root", text=f"idea {i}", position=i)
        for i in range(items - 1)
    ]
    return mindmap_pb2.Mindmap(id="big", owner_id="o", title="Big", nodes=nodes)


def _plain_schema(mindmap: mindmap_pb2.Mindmap) -> GraphQLSchema:
    """The same shape in plain graphql-core; `nodes` builds the same `Node` objects."""
    node = GraphQLObjectType(
        "Node",
        {
            "id": GraphQLField(GraphQLNonNull(GraphQLID)),
            "text": GraphQLField(GraphQLNonNull(GraphQLString)),
            "position": GraphQLField(GraphQLNonNull(GraphQLInt)),
        },
    )

    def nodes(source: mindmap_pb2.Mindmap, _info: Any) -> list[Node]:
        tree = Tree.of(source)
        return [Node.of(n, source.id, tree) for n in tree.nodes]

    mindmap_type = GraphQLObjectType(
        "Mindmap",
        {"nodes": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(node))), resolve=nodes)},
    )

    async def find(_root: Any, _info: Any, id: str) -> mindmap_pb2.Mindmap:
        return mindmap

    query = GraphQLObjectType(
        "Query",
        {
            "mindmap": GraphQLField(
                mindmap_type, args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))}, resolve=find
            )
        },
    )
    return GraphQLSchema(query)


async def _execution(repeats: int) -> ExecutionRatio:
    mindmap = _big_mindmap(EXECUTION_ITEMS)
    schema = build_schema(GraphQL(), introspection=True)
    plain = _plain_schema(mindmap)
    # Never called: the loader is primed, so the hub schema makes no backend call.
    calls = Calls(cast(BackendClient, None), (), 1.0)
    bus = MemoryEventBus(retention_count=1, retention_seconds=1, subscriber_queue=1)
    variables = {"id": mindmap.id}

    def context() -> Context:
        loaders = Loaders(calls)
        loaders.mindmaps.prime(mindmap.id, mindmap)
        return Context(call=calls, loaders=loaders, bus=bus)

    async def hub_once() -> None:
        result = await schema.execute(
            NODES_QUERY, variable_values=variables, context_value=context()
        )
        if result.errors:
            raise RuntimeError(result.errors)

    async def plain_once() -> None:
        result = await graphql(plain, NODES_QUERY, variable_values=variables)
        if result.errors:
            raise RuntimeError(result.errors)

    hub_times, plain_times = [], []
    await hub_once()
    await plain_once()
    for _ in range(repeats):  # alternate, so that drift hits both alike
        hub_times.append(await _timed(hub_once))
        plain_times.append(await _timed(plain_once))
    hub_ms, plain_ms = median(hub_times), median(plain_times)
    return ExecutionRatio(EXECUTION_ITEMS, hub_ms, plain_ms, hub_ms / plain_ms)


async def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    await run()
    return (time.perf_counter() - start) * 1000


def median(values: list[float]) -> float:
    """The median, in the unit of `values`."""
    return statistics.median(values)


GRAPHQL = GraphQLScenario()
