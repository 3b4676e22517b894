"""Fixtures of the observability tests: where spans go, and the log lines captured."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub.config import Logging
from hub.observability.logging import LoggingSetup, configure_logging


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the hub's spans go."""
    return InMemorySpanExporter()


@pytest.fixture
def logged() -> Iterator[tuple[io.StringIO, LoggingSetup]]:
    """The process's log records as JSON lines, captured for the test, and the setup."""
    stream = io.StringIO()
    setup = configure_logging(Logging(format="json", level="INFO"), stream)
    try:
        yield stream, setup
    finally:
        setup.undo()
