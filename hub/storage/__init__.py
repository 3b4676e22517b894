"""Persistence behind one small interface, `Store` (store.py).

Every write method takes the domain event that describes it and commits both in one
transaction: the row change and an outbox row. Implementations: SQLite (sqlite.py, the
embedded default) and PostgreSQL (postgres.py, shared by several processes); setup.py builds
the one `storage.engine` names. Storage raises the domain errors of `hub.errors` and imports
nothing above it.
"""
