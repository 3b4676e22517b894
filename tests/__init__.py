"""hub's tests, laid out like the package they test (tests/storage ↔ hub/storage, ...)."""
