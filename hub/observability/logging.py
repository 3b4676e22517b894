"""Log lines: every stdlib `logging` record through one structlog pipeline, and access logs.

hub, grpc and uvicorn log through stdlib `logging` (`logging.getLogger(__name__)`, as
before). `configure_logging`, called by `hub serve` (never at import), puts one handler on
the root logger whose `structlog.stdlib.ProcessorFormatter` turns each record into an event
dict with an ISO-8601 UTC `timestamp`, `level`, `logger`, `event` (the message), the
record's `extra` fields, the `trace_id` and `span_id` of the hop being served (when it is in
a trace) and its `request_id` (context.py); rendered as one JSON object per line, or by
structlog's console renderer for people (format `auto`: console when the stream is a
terminal).

Access logs (`AccessLog`): the HTTP middleware and the gRPC server wrappers write one line
per request and per RPC served (`http`, `rpc`). In JSON they are rendered here, with the
same fields and ids as every other line, straight into a buffer that is written to the
handler's stream in batches, under its lock: no `LogRecord`, no processor chain, no event
dict; the values that can hold any text (path, endpoint, method name, request id) are
escaped by the `json` module's own string encoder. That costs about a tenth of the formatter's
path per line, which matters at two lines per REST request. Otherwise (console format, or a
process that never called `configure_logging`, like the tests) they are INFO records of the
logger `hub.access`, checked with `isEnabledFor` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

import structlog

from hub.config import Logging as LoggingSettings
from hub.observability.context import CURRENT, Hop

ACCESS_LOGGER = "hub.access"
FLUSH_SECONDS = 0.05
"""Access lines are written together, at most this long after the first of them ..."""
FLUSH_LINES = 64
"""... or as soon as this many wait."""
REQUEST_ID_KEY = "x-request-id"
_MAX_ESCAPED = 4096
"""Escaped values `AccessLog._json` keeps at most (it starts over beyond)."""
_string = encode_basestring_ascii
"""A str as a JSON string, escaped, non-ASCII as \\u escapes: the function `json.dumps`
itself uses for strings (as structlog's JSON renderer does), without its three Python
calls around it."""


def access_logger() -> logging.Logger:
    """The logger of the access lines."""
    return logging.getLogger(ACCESS_LOGGER)


class AccessLog:
    """Where access lines go: JSON straight to `handler`'s stream, or (no handler) records
    of the logger `hub.access`."""

    def __init__(
        self, handler: logging.StreamHandler[TextIO] | None = None, *, on: bool = True
    ) -> None:
        self._handler = handler
        self._on = on
        self._logger = access_logger()
        self._pending: list[str] = []
        self._escaped: dict[str, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._date_time = ""
        """The date and time of day of `_second`, formatted once per second."""

    def http(
        self, hop: Hop, method: str, path: str, endpoint: str, status: int, seconds: float
    ) -> None:
        """The line of one HTTP request (or WebSocket) answered, in `hop`."""
        if self._handler is None:
            self._record(
                "http request",
                {
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
        elif self._on:
            self._add(
                hop,
                f'{{"event": "http request", "method": {self._json(method)}, '
                f'"path": {_string(path)}, "endpoint": {self._json(endpoint)}, '
                f'"status": {status}, "duration_ms": {seconds * 1000:.3f}',
            )

    def rpc(self, hop: Hop, server: str, method: str, code: str, seconds: float) -> None:
        """The line of one RPC served by `server` ("frontend" or "backend"), in `hop`."""
        if self._handler is None:
            self._record(
                "rpc",
                {
                    "grpc_server": server,
                    "grpc_method": method,
                    "grpc_code": code,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
        elif self._on:
            self._add(
                hop,
                f'{{"event": "rpc", "grpc_server": "{server}", '
                f'"grpc_method": {self._json(method)}, "grpc_code": "{code}", '
                f'"duration_ms": {seconds * 1000:.3f}',
            )

    def _json(self, text: str) -> str:
        """`text` as a JSON string, for values that repeat (HTTP methods, endpoints, gRPC
        methods): escaped once each, then looked up. The log keeps the raw values (unlike
        the metric labels, which metrics.py folds), so a client can make new ones: at most
        `_MAX_ESCAPED` are kept."""
        escaped = self._escaped.get(text)
        if escaped is None:
            if len(self._escaped) >= _MAX_ESCAPED:
                self._escaped.clear()
            escaped = self._escaped[text] = _string(text)
        return escaped

    def _record(self, event: str, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(logging.INFO):
            self._logger.info(event, extra=fields)

    def _add(self, hop: Hop, head: str) -> None:
        """Completes the line that starts with `head` (the event and its own fields) with
        the common fields and `hop`'s ids, and buffers it."""
        ids = ""
        if hop.trace_id:
            ids = f', "trace_id": "{hop.trace_id}", "span_id": "{hop.span_id}"'
        if hop.request_id:
            if hop.request_id is hop.trace_id:  # hex digits: nothing to escape
                ids += f', "request_id": "{hop.request_id}"'
            else:
                ids += f', "request_id": {_string(hop.request_id)}'
        # ISO 8601 in UTC with microseconds, as structlog's TimeStamper writes it.
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)
        if second != self._second:
            self._second = second
            self._date_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._pending.append(
            f'{head}, "level": "info", "logger": "{ACCESS_LOGGER}", '
            f'"timestamp": "{self._date_time}.{micros:06d}Z"{ids}}}'
        )
        if len(self._pending) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # outside the event loop: nothing to flush it later
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Writes the lines not yet written, in one write."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._handler is None:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        with self._handler.lock or contextlib.nullcontext():
            self._handler.stream.write(text)
            self._handler.stream.flush()


def _add_trace(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    hop = CURRENT.get()
    if hop is not None and hop.trace_id:
        event_dict["trace_id"] = hop.trace_id
        event_dict["span_id"] = hop.span_id
    return event_dict


def _add_request_id(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    hop = CURRENT.get()
    if hop is not None and hop.request_id:
        event_dict["request_id"] = hop.request_id
    return event_dict


@dataclass
class LoggingSetup:
    """What `configure_logging` changed (`undo()` restores the root logger), and where
    access lines go (`access`, for the composition root)."""

    handler: logging.StreamHandler[TextIO]
    access: AccessLog
    previous_level: int
    previous_handlers: list[logging.Handler]
    access_level: int

    def undo(self) -> None:
        """Puts the root logger's handlers and level back as they were."""
        root = logging.getLogger()
        root.removeHandler(self.handler)
        for handler in self.previous_handlers:
            root.addHandler(handler)
        root.setLevel(self.previous_level)
        access_logger().setLevel(self.access_level)


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> LoggingSetup:
    """Routes every stdlib record to `stream` (default stderr) through the structlog
    pipeline, at `settings.level`; access lines only if `settings.access_log`."""
    out = sys.stderr if stream is None else stream
    console = settings.format == "console" or (settings.format == "auto" and out.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer()
    )
    chain: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.stdlib.ExtraAdder(),
        _add_trace,
        _add_request_id,
    ]
    final: list[structlog.types.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if not console:
        final.append(structlog.processors.format_exc_info)
    final.append(renderer)
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=final, foreign_pre_chain=chain)
    )
    root = logging.getLogger()
    access = AccessLog(None if console else handler, on=settings.access_log)
    setup = LoggingSetup(handler, access, root.level, list(root.handlers), access_logger().level)
    for previous in setup.previous_handlers:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.level)
    access_logger().setLevel(logging.INFO if settings.access_log else logging.WARNING)
    return setup
