"""`python -m bench.scaleout`: issue 8's scale-out figures, on PostgreSQL and Redis.

Two comparisons, each in rounds that alternate its two sides (bench/throughput.py's
`alternate`: warm-up, then A B A B ..., medians, spread, ratio, and the hub processes' CPU
per request from /proc):

- `gateways`: REST `GET /api/v1/mindmaps/{id}` on a split deployment (`hub serve --role
  users`, `--role mindmaps` and two `--role gateway`, on PostgreSQL and Redis). Subject: wrk
  load split across both gateways (half the connections on each, two wrk processes at
  once); baseline: all of it on one gateway. Both sides run against the same processes and
  the same database; the CPU per request is that of all four hub processes. The latency of
  the two-gateway side is the higher of its two wrk runs' percentiles (wrk reports
  percentiles, which cannot be merged).
- `postgresql-get` and `postgresql-writes`: one `hub serve` (role `all`) with
  `storage.engine: postgresql` against one with SQLite, both started side by side and
  loaded in turn: the same REST GET (wrk), and writes through the hub (CreateMindmap, then
  AddNode, from Python worker processes: bench/writes.py).

Each run uses a fresh schema in the PostgreSQL database at `--dsn` (dropped afterwards) and
a fresh Redis key prefix at `--redis` (its keys deleted afterwards). The policies are off:
every GET reaches the mindmap backend and the database. Prints each comparison and a
summary table (bench/table.py), and writes every figure to `--json`.

On a 2-core machine the two gateways share the same two cores with the backends,
PostgreSQL, Redis and wrk: the gateway ratio says what a second process buys when the
gateway is not alone on the machine, not what a second machine would.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from redis.exceptions import RedisError

from bench import table, tools
from bench.hubproc import HubProcess, free_port, seed_mindmap, start_hub, start_hubs
from bench.load import LoadResult, http_get
from bench.scenario import Options
from bench.throughput import Side, Target, ThroughputOutcome, alternate, rest_get
from bench.writes import NODES, create_owner, writes
from hub.testing import scratch_key_prefix, scratch_schema

DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
GET = "REST GET /api/v1/mindmaps/{id}"
POOL = {"min_connections": 2, "max_connections": 8}
"""Each backend process's PostgreSQL pool (deploy/kubernetes/hub.yaml's sizes)."""


@contextmanager
def fresh_schema(dsn: str) -> Iterator[str]:
    """A DSN whose connections see only a new, empty schema of the database at `dsn`
    (dropped afterwards, with everything the hubs made in it)."""
    with scratch_schema(dsn, "bench") as schema:
        yield schema


def split_deployment(stack: ExitStack, dsn: str, redis: dict[str, str]) -> list[HubProcess]:
    """Starts the users and mindmaps backends, then two gateways dialling them; returns
    [gateway A, gateway B, users, mindmaps], each stopped when `stack` closes."""
    storage = {"engine": "postgresql", "postgresql": {"dsn": dsn, **POOL}}
    backends: list[HubProcess] = []
    targets: dict[str, dict[str, list[str]]] = {}
    for role, service in (("users", "user-service"), ("mindmaps", "mindmap-service")):
        address = f"127.0.0.1:{free_port()}"
        backend = start_hub(
            role=role, storage=storage, redis=redis, services={service: {"listen": address}}
        )
        stack.callback(backend.stop)
        backends.append(backend)
        targets[service] = {"targets": [address]}
    gateway = {"redis": redis, "services": targets}
    gateways = start_hubs(gateway, gateway, role="gateway")
    for hub in gateways:
        stack.callback(hub.stop)
    return [*gateways, *backends]


def both_gateways(gateways: list[HubProcess]) -> Side:
    """The REST GET with half the connections on each gateway, two wrk at once."""

    def run(target: Target, seconds: float) -> LoadResult:
        half = max(1, target.connections // 2)
        urls = [f"{hub.http_base}/api/v1/mindmaps/{target.mindmap_id}" for hub in gateways]
        with ThreadPoolExecutor(len(urls)) as pool:
            loads = list(
                pool.map(lambda url: http_get(url, seconds=seconds, connections=half), urls)
            )
        return LoadResult(
            requests=sum(load.requests for load in loads),
            errors=sum(load.errors for load in loads),
            seconds=max(load.seconds for load in loads),
            p50_ms=max(load.p50_ms for load in loads),
            p99_ms=max(load.p99_ms for load in loads),
        )

    return Side(f"{GET}, two gateways", run)


def gateways_outcome(options: Options, dsn: str, redis_url: str) -> ThroughputOutcome:
    """Scenario `gateways` (module docstring)."""
    with (
        fresh_schema(dsn) as schema,
        scratch_key_prefix(redis_url, "bench") as prefix,
        ExitStack() as stack,
    ):
        redis = {"url": redis_url, "key_prefix": prefix}
        first, second, *backends = split_deployment(stack, schema, redis)
        others = tuple(hub.process.pid for hub in (second, *backends))
        target = Target(first, seed_mindmap(first), options.connections, also=others)
        return alternate(
            "gateways",
            (both_gateways([first, second]), target),
            (rest_get(f"{GET}, one gateway"), target),
            options,
            goal=None,
        )


def engine_outcomes(options: Options, dsn: str) -> list[ThroughputOutcome]:
    """Scenarios `postgresql-get` and `postgresql-writes` (module docstring)."""
    with fresh_schema(dsn) as schema, ExitStack() as stack:
        configurations: list[dict[str, Any]] = [
            {"storage": {"engine": "postgresql", "postgresql": {"dsn": schema, **POOL}}},
            {"storage": {"engine": "sqlite"}},
        ]
        postgresql, sqlite = start_hubs(*configurations)
        for hub in (postgresql, sqlite):
            stack.callback(hub.stop)
        on_postgresql = Target(postgresql, seed_mindmap(postgresql), options.connections)
        on_sqlite = Target(sqlite, seed_mindmap(sqlite), options.connections)
        get = alternate(
            "postgresql-get",
            (rest_get(f"{GET}, PostgreSQL"), on_postgresql),
            (rest_get(f"{GET}, SQLite"), on_sqlite),
            options,
            goal=None,
        )
        what = f"CreateMindmap + {NODES} AddNode through the hub"
        owners = {hub.grpc_target: create_owner(hub.grpc_target) for hub in (postgresql, sqlite)}
        written = alternate(
            "postgresql-writes",
            (_writes(f"{what}, PostgreSQL", postgresql, owners), on_postgresql),
            (_writes(f"{what}, SQLite", sqlite, owners), on_sqlite),
            options,
            goal=None,
        )
        return [get, written]


def _writes(name: str, hub: HubProcess, owners: dict[str, str]) -> Side:
    return writes(name, lambda target: target.hub.grpc_target, owners[hub.grpc_target])


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaleout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, no warm-up")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds per round and side (default 3)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="requests in flight (default 16)"
    )
    parser.add_argument("--dsn", default=DSN, help=f"the PostgreSQL database (default {DSN})")
    parser.add_argument("--redis", default=REDIS_URL, help=f"Redis (default {REDIS_URL})")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-scaleout.json"),
        help="where to write every figure (default: bench-scaleout.json)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run both comparisons, print them and the table, save the figures."""
    args = parse_arguments(argv)
    absent = tools.missing([tools.WRK])
    if absent:
        print(f"python -m bench.scaleout: {tools.MissingTool(absent)}", file=sys.stderr)
        return 2
    options = Options(
        rounds=1 if args.quick else args.rounds,
        seconds=1.0 if args.quick else args.seconds,
        connections=args.connections,
        quick=args.quick,
    )
    try:
        with fresh_schema(args.dsn), scratch_key_prefix(args.redis, "bench"):
            pass
    except (psycopg.Error, RedisError, OSError) as error:
        print(f"python -m bench.scaleout: needs PostgreSQL and Redis: {error}", file=sys.stderr)
        return 2
    machine = table.Machine.now()
    started = datetime.now(UTC)
    clock = time.monotonic()
    outcomes = [gateways_outcome(options, args.dsn, args.redis)]
    print("\n".join(outcomes[0].report()), flush=True)
    for outcome in engine_outcomes(options, args.dsn):
        print("\n".join(outcome.report()), flush=True)
        outcomes.append(outcome)
    took = f"{time.monotonic() - clock:.0f} s"
    table.report(
        [row for outcome in outcomes for row in outcome.rows()],
        [outcome.as_json() for outcome in outcomes],
        command=" ".join(
            ["python -m bench.scaleout", *(argv if argv is not None else sys.argv[1:])]
        ),
        machine=machine,
        started=started,
        took=took,
        json_path=args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
