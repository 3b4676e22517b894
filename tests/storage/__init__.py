"""Tests of hub/storage: one contract suite run against every `Store`, plus SQLite specifics."""
