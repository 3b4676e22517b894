"""PostgreSQL for the tests: the machine's server, and a fresh schema for each test.

The server is the one at 127.0.0.1:5432 (trust authentication, database `test`, role
`postgres` or `root`, the first that answers), or the DSN in `TEST_POSTGRESQL_DSN`. A test
that needs it calls `postgresql_dsn()`: without a server it is skipped with the reason, except
under `CI=true`, where a missing service fails the test. `fresh_schema()` makes an empty
schema and hands out a DSN whose `search_path` is that schema, so a store opened on it
creates its tables there; the schema is dropped afterwards. A schema costs a few
milliseconds, a database a few hundred.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from hub.testing import scratch_schema

DSN_VARIABLE = "TEST_POSTGRESQL_DSN"
_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


@functools.cache
def _probe() -> tuple[str | None, str]:
    """The first DSN that connects, or None and why none did."""
    configured = os.environ.get(DSN_VARIABLE)
    reasons = []
    for dsn in (configured,) if configured else _CANDIDATES:
        try:
            with psycopg.connect(dsn, connect_timeout=3):
                return dsn, ""
        except psycopg.OperationalError as error:
            reasons.append(f"{dsn}: {' '.join(str(error).split())}")
    return None, "; ".join(reasons)


def postgresql_dsn() -> str:
    """The DSN of the test server; skips the test (fails it under CI=true) without one."""
    dsn, reason = _probe()
    if dsn is None:
        message = f"PostgreSQL is not reachable ({reason}); set {DSN_VARIABLE} to use another"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return dsn


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A DSN whose connections see only a new, empty schema (dropped afterwards)."""
    with scratch_schema(postgresql_dsn(), "hubtest") as dsn:
        yield dsn
