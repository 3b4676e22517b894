"""What every benchmark scenario is: given the run's options, it starts what it needs (a
fresh hub, a baseline), measures subject against baseline, stops them, and returns an
outcome that prints as table rows (its own detailed ones, and its rows of the summary table,
bench/table.py) and records as JSON.

Throughput scenarios (bench/throughput.py) load two sides for some seconds; the fan-out
scenario (bench/fanout.py) measures delivery latency and memory per idle connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bench.table import Row


@dataclass(frozen=True)
class Options:
    """How long and how hard to measure, from the command line."""

    rounds: int
    seconds: float  # per round, for throughput scenarios
    connections: int  # HTTP connections, for throughput scenarios
    quick: bool  # a smoke run: scenarios shrink their sizes
    subscribers: tuple[int, ...] = ()  # fan-out sizes to run instead of the default ones


class Outcome(Protocol):
    """A scenario's figures."""

    def report(self) -> list[str]:
        """Lines of the printed table."""

    def as_json(self) -> dict[str, object]:
        """The figures for bench-results.json."""

    def rows(self) -> list[Row]:
        """Its rows of the summary table, each ratio on its subject's row."""


class Scenario(Protocol):
    """A named measurement of a subject against its baseline."""

    @property
    def name(self) -> str:
        """How the command line names it."""

    def run(self, options: Options) -> Outcome:
        """Measures both sides and returns the figures."""
