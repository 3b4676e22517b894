"""What the stores' schema migrations share: the rule for a database newer than the code.

Each store keeps its schema as ordered steps (`sqlite_schema.py`, `postgres_schema.py`):
step N (1-based) brings a database from schema version N-1 to N, and runs in one transaction
with the version bump, so a crash leaves the database at a whole version. Steps are never
edited once released: a schema change is a new step appended to the store's `MIGRATIONS`.
"""

from __future__ import annotations


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer hub: this code does not know its schema."""


def needs_migration(version: int, latest: int, database: str) -> bool:
    """Whether a database at schema `version` needs steps to reach `latest`. Raises
    `SchemaTooNewError` (naming `database`) if it is newer than `latest`."""
    if version > latest:
        raise SchemaTooNewError(
            f"database {database} has schema version {version}, but this hub knows "
            f"versions up to {latest}: run a newer hub"
        )
    return version < latest
