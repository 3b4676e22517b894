"""The one table every scenario's figures end up in, printed and written to docs.

Each outcome gives `rows()`: one `Row` per side it measured (throughput, p50/p99 latency,
server CPU per request, as text in the side's own unit), and on the subject's row the
`Ratio` to its baseline measured in the same run: the ratio of the medians, the spread of
the per-round ratios, and the goal it is held to. `python -m bench` prints the rows as a
text table, records the ratios in its JSON, and replaces the part of docs/benchmarks.md
between `BEGIN` and `END` with the same table as markdown and a description of the machine
(`Machine`: cores, Python, package and tool versions, load average).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import tools

BEGIN = "<!-- bench:results:begin (written by python -m bench; edits here are overwritten) -->"
END = "<!-- bench:results:end -->"

PACKAGES = (
    "grpcio",
    "protobuf",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "strawberry-graphql",
    "graphql-core",
    "websockets",
    "prometheus-client",
    "opentelemetry-sdk",
)
"""The packages whose versions the figures depend on most."""

_TOOL_VERSIONS = {
    tools.WRK: (["-v"], r"wrk (?:debian/)?([0-9.]+)"),
    tools.H2LOAD: (["--version"], r"nghttp2/([0-9.]+)"),
    tools.NGINX: (["-v"], r"nginx/([0-9.]+)"),
}


@dataclass(frozen=True)
class Goal:
    """What a ratio should reach: at least or at most `value`."""

    at_least: bool
    value: float

    def met(self, ratio: float) -> bool:
        """Whether `ratio` reaches the goal."""
        return ratio >= self.value if self.at_least else ratio <= self.value

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.value:g}"


def at_least(value: float) -> Goal:
    """The goal `ratio >= value`."""
    return Goal(True, value)


def at_most(value: float) -> Goal:
    """The goal `ratio <= value`."""
    return Goal(False, value)


@dataclass(frozen=True)
class Ratio:
    """Subject against baseline: `value` (ratio of the medians, or as the scenario defines
    it), the per-round ratios it comes from, and the goal, if the issue set one. `cpu`: for a
    throughput ratio, the same comparison by CPU per request (baseline's / subject's), which
    holds steadier on a shared machine; the goal is judged by both. `note`: what else to
    read beside it."""

    what: str
    value: float
    rounds: Sequence[float] = ()
    goal: Goal | None = None
    note: str = ""
    unit: str = ""  # for a figure held to a goal rather than a ratio: " ms", " KiB"
    cpu: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None without a goal."""
        return None if self.goal is None else self.goal.met(self.value)

    @property
    def met_by_cpu(self) -> bool | None:
        """Whether the CPU ratio meets the goal; None without a goal or a CPU ratio."""
        return None if self.goal is None or self.cpu is None else self.goal.met(self.cpu)

    def text(self) -> str:
        """`0.55 (0.46-0.67); CPU 0.50`: the ratio, the spread of its rounds if there are
        several, the CPU ratio, the note."""
        spread = f" ({min(self.rounds):.2f}-{max(self.rounds):.2f})" if len(self.rounds) > 1 else ""
        cpu = "" if self.cpu is None else f"; CPU {self.cpu:.2f}"
        note = f"; {self.note}" if self.note else ""
        return f"{self.value:.2f}{self.unit}{spread}{cpu}{note}"

    def goal_text(self) -> str:
        """`>= 0.6: met` (`; by CPU: NOT met` when that verdict differs), or `-`."""
        if self.goal is None:
            return "-"
        text = f"{self.goal}: {_verdict(self.met)}"
        if self.met_by_cpu is not None and self.met_by_cpu != self.met:
            text += f"; by CPU: {_verdict(self.met_by_cpu)}"
        return text

    def as_json(self) -> dict[str, object]:
        """The ratio for bench-results.json."""
        return {
            "what": self.what,
            "value": self.value,
            "rounds": list(self.rounds),
            "cpu": self.cpu,
            "goal": None if self.goal is None else str(self.goal),
            "met": self.met,
            "met_by_cpu": self.met_by_cpu,
            "note": self.note,
            "unit": self.unit.strip(),
        }


def _verdict(met: bool | None) -> str:
    return "met" if met else "NOT met"


@dataclass(frozen=True)
class Row:
    """One side of one scenario, its figures as text; the subject's row carries the ratio."""

    scenario: str
    side: str
    throughput: str = "-"
    latency: str = "-"
    cpu: str = "-"
    ratio: Ratio | None = field(default=None)


HEADERS = (
    "scenario",
    "side",
    "throughput (median, spread)",
    "p50 / p99",
    "server CPU",
    "ratio (rounds)",
    "goal",
)


def per_second(median: float, low: float, high: float, unit: str = "req/s") -> str:
    """`1,098 req/s (1,050-1,130)`."""
    if low == high:
        return f"{median:,.0f} {unit}"
    return f"{median:,.0f} {unit} ({low:,.0f}-{high:,.0f})"


def latency(p50_ms: float, p99_ms: float) -> str:
    """`14.5 / 27.7 ms`."""
    return f"{p50_ms:.1f} / {p99_ms:.1f} ms"


def cpu(microseconds: float, per: str = "req") -> str:
    """`1,137 us/req`; `-` when not measured (NaN)."""
    return "-" if math.isnan(microseconds) else f"{microseconds:,.0f} us/{per}"


def _cells(row: Row) -> tuple[str, ...]:
    ratio = row.ratio
    return (
        row.scenario,
        row.side,
        row.throughput,
        row.latency,
        row.cpu,
        "" if ratio is None else ratio.text(),
        "" if ratio is None else ratio.goal_text(),
    )


def text_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width table for the terminal."""
    cells = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        cells = (cell.replace("|", "\\|") for cell in _cells(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Machine:
    """What the figures were measured on: cores, CPU, Python, the packages and programs
    they depend on, and how loaded the machine was (load average over 1 minute)."""

    cores: int | None
    cpu: str
    python: str
    platform: str
    packages: dict[str, str]
    tools: dict[str, str]
    load_average: float

    @classmethod
    def now(cls) -> Machine:
        """This machine, now."""
        return cls(
            cores=os.cpu_count(),
            cpu=_cpu_model(),
            python=platform.python_version(),
            platform=platform.platform(),
            packages={name: _version(name) for name in PACKAGES},
            tools={tool.program: _tool_version(tool) for tool in _TOOL_VERSIONS},
            load_average=round(os.getloadavg()[0], 2),
        )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _tool_version(tool: tools.Tool) -> str:
    if tools.missing([tool]):
        return "not installed"
    arguments, pattern = _TOOL_VERSIONS[tool]
    completed = subprocess.run(  # noqa: S603 - a fixed program and argument
        [tools.path(tool), *arguments], capture_output=True, text=True, check=False
    )
    found = re.search(pattern, completed.stdout + completed.stderr)
    return found[1] if found else "unknown"


def describe(machine: Machine, load_at_end: float, command: str, started: str, took: str) -> str:
    """The paragraph above the table: the command, when and how long, on what."""
    versions = ", ".join(f"{name} {version}" for name, version in machine.packages.items())
    programs = ", ".join(f"{name} {version}" for name, version in machine.tools.items())
    return (
        f"`{command}`, started {started}, took {took}. Machine: {machine.cores} cores"
        f" ({machine.cpu}), Python {machine.python}, {machine.platform}; load average"
        f" (1 min) {machine.load_average:.2f} at the start, {load_at_end:.2f} at the end."
        f" Packages: {versions}. Programs: {programs}."
    )


def report(
    rows: Sequence[Row],
    results: list[dict[str, Any]],
    *,
    command: str,
    machine: Machine,
    started: datetime,
    took: str,
    json_path: Path,
) -> str:
    """Prints the table and the paragraph that describes the run, and writes both, with each
    ratio and the scenarios' `results`, as JSON to `json_path`; returns the paragraph."""
    print(f"\n{text_table(rows)}\n")
    description = describe(
        machine, os.getloadavg()[0], command, started.strftime("%Y-%m-%d %H:%M UTC"), took
    )
    print(description)
    document = {
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "took": took,
        "machine": asdict(machine),
        "ratios": [
            {"scenario": row.scenario, **row.ratio.as_json()}
            for row in rows
            if row.ratio is not None
        ],
        "results": results,
    }
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results written to {json_path}")
    return description


def update_docs(path: Path, description: str, rows: Sequence[Row]) -> None:
    """Replaces what lies between the markers in `path` with `description` and the table.
    ValueError if the markers are missing or out of order."""
    text = path.read_text()
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"{path}: no {BEGIN!r} ... {END!r} section to write the results in")
    block = f"{BEGIN}\n{description}\n\n{markdown_table(rows)}\n"
    path.write_text(text[:begin] + block + text[end:])
