"""`python -m bench.storewrites`: write throughput of the stores, PostgreSQL against SQLite.

The same workload runs through the `Store` interface on both engines in one run, in
alternating rounds: each of `--clients` concurrent writers creates a mindmap and then adds
nodes to it, as the mindmap backend does for CreateMindmap and AddNode: read the mindmap,
add a node to its tree (`hub.backends.tree`), write it back conditionally on the etag it
read, with its `mindmap.node_added` event. Every write is one transaction with its outbox
row. Each round runs `--seconds` per engine on a fresh database: a SQLite file in a
temporary folder, and a fresh schema in the PostgreSQL database at `--dsn` (dropped after).
Printed: committed writes per second, write latency (p50, p99), and PostgreSQL's share of
SQLite's throughput, at each concurrency.

No hub process is involved, nor gRPC: this measures the stores alone. The machine and its
disks matter (PostgreSQL flushes its WAL at each commit, SQLite in WAL mode with
`synchronous=NORMAL` does not): compare figures from one machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from hub.backends import tree
from hub.backends.events import Origin, Payload, event
from hub.backends.writes import new_etag, now
from hub.contracts.events.v1.events_pb2 import Event, MindmapCreated, NodeAdded, UserCreated
from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap, Node
from hub.contracts.user.v1.user_pb2 import User
from hub.storage.postgres import PostgresStore
from hub.storage.sqlite import SqliteStore
from hub.storage.store import Store
from hub.subjects import mindmap_subject, user_subject
from hub.testing import scratch_schema

ENGINES = ("sqlite", "postgresql")
NODES_PER_MINDMAP = 50
"""Nodes each writer adds before it starts a new mindmap (a mindmap grows as it is used)."""
_ORIGIN = Origin(principal=None, traceparent="")


@dataclass(frozen=True)
class Round:
    """One engine's writes over one round."""

    engine: str
    clients: int
    writes: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds


async def write_for(store: Store, owner: User, seconds: float) -> list[float]:
    """One writer: creates mindmaps and adds nodes until `seconds` have passed; returns the
    latency of each committed write."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        mindmap = await create_mindmap(store, owner)
        latencies.append(time.perf_counter() - started)
        for n in range(NODES_PER_MINDMAP):
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            await add_node(store, mindmap.id, f"Idea {n}")
            latencies.append(time.perf_counter() - started)
    return latencies


async def create_user(store: Store) -> User:
    """A user to own the writers' mindmaps."""
    time_ = now()
    user_id = str(uuid.uuid4())
    user = User(
        id=user_id,
        email=f"{user_id}@example.com",
        display_name="Bench",
        etag=new_etag(),
        create_time=time_,
        update_time=time_,
    )
    await store.insert_user(user, _event(UserCreated(user=user), user_subject(user.id), user.id))
    return user


async def create_mindmap(store: Store, owner: User) -> Mindmap:
    """A new mindmap with its root, as CreateMindmap writes it."""
    time_ = now()
    mindmap = Mindmap(
        id=str(uuid.uuid4()),
        owner_id=owner.id,
        title="Bench",
        nodes=tree.new_tree(str(uuid.uuid4()), "Bench"),
        node_count=1,
        etag=new_etag(),
        create_time=time_,
        update_time=time_,
    )
    created = _event(MindmapCreated(mindmap=mindmap), mindmap_subject(mindmap.id), owner.id)
    await store.insert_mindmap(mindmap, created)
    return mindmap


async def add_node(store: Store, mindmap_id: str, text: str) -> None:
    """Reads the mindmap and writes it back with one more node under its root, as AddNode
    does."""
    current = (await store.get_mindmaps([mindmap_id], with_nodes=True))[mindmap_id]
    node = Node(id=str(uuid.uuid4()), parent_id=tree.root(current.nodes).id, text=text)
    updated = Mindmap()
    updated.CopyFrom(current)
    del updated.nodes[:]
    updated.nodes.extend(tree.add(current.nodes, node, None))
    updated.node_count = len(updated.nodes)
    updated.etag = new_etag()
    updated.update_time.CopyFrom(now())
    added = tree.find(updated.nodes, node.id)
    payload = NodeAdded(mindmap_id=mindmap_id, node=added, etag=updated.etag)
    written = _event(payload, mindmap_subject(mindmap_id), current.owner_id)
    await store.update_mindmap(updated, current.etag, written)


def _event(payload: Payload, subject: str, owner_id: str) -> Event:
    return event(payload, time=now(), subject=subject, owner_id=owner_id, origin=_ORIGIN)


@asynccontextmanager
async def fresh_store(engine: str, dsn: str, folder: Path, clients: int) -> AsyncIterator[Store]:
    """An open store of `engine` over a new, empty database."""
    if engine == "sqlite":
        store: Store = SqliteStore(folder / f"{uuid.uuid4().hex}.db")
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    with scratch_schema(dsn, "bench") as schema_dsn:
        store = PostgresStore(schema_dsn, min_connections=clients, max_connections=clients)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


async def run_round(engine: str, dsn: str, folder: Path, clients: int, seconds: float) -> Round:
    """`clients` writers on a fresh store of `engine` for `seconds`."""
    async with fresh_store(engine, dsn, folder, clients) as store:
        owner = await create_user(store)
        started = time.perf_counter()
        latencies = await asyncio.gather(
            *(write_for(store, owner, seconds) for _ in range(clients))
        )
        elapsed = time.perf_counter() - started
    flat = [latency for writer in latencies for latency in writer]
    return Round(engine, clients, len(flat), elapsed, flat)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(rounds: Sequence[Round], concurrencies: Sequence[int]) -> list[str]:
    """The figures, one line per engine and concurrency, then the ratios."""
    lines = [f"{'engine':<11} {'clients':>7} {'writes/s':>9} {'p50 ms':>7} {'p99 ms':>7}"]
    medians: dict[tuple[str, int], float] = {}
    for clients in concurrencies:
        for engine in ENGINES:
            mine = [r for r in rounds if r.engine == engine and r.clients == clients]
            latencies = [latency for r in mine for latency in r.latencies]
            medians[engine, clients] = statistics.median(r.per_second for r in mine)
            lines.append(
                f"{engine:<11} {clients:>7} {medians[engine, clients]:>9.0f}"
                f" {1000 * percentile(latencies, 0.5):>7.2f}"
                f" {1000 * percentile(latencies, 0.99):>7.2f}"
            )
    for clients in concurrencies:
        ratio = medians["postgresql", clients] / medians["sqlite", clients]
        lines.append(
            f"PostgreSQL / SQLite at {clients} client(s): {ratio:.2f}x the writes per second"
        )
    return lines


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storewrites", description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="hub-storewrites-") as folder:
        for number in range(args.rounds):
            for clients in args.clients:
                for engine in ENGINES if number % 2 == 0 else reversed(ENGINES):
                    done = await run_round(engine, args.dsn, Path(folder), clients, args.seconds)
                    rounds.append(done)
                    print(
                        f"round {number + 1}: {engine}, {clients} client(s):"
                        f" {done.per_second:.0f} writes/s",
                        file=sys.stderr,
                    )
    print("\n".join(report(rounds, args.clients)))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
