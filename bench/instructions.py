"""CPU instructions per REST GET, by thread: `python -m bench.instructions [options]`.

Requests per second and even CPU time per request move by 5-15% between runs on a shared
2-core machine, more than the parts of a request this is meant to tell apart. Instructions do
not: each variant's `hub serve` runs under valgrind's callgrind, with instrumentation
switched on only after start-up and a warm-up (`callgrind_control -i on`), and then:
1. counters zeroed, the process left idle for `--idle` seconds, counters dumped: what its
   timers cost per second (uvicorn's clock, grpc's pollers, the access-log and span-export
   timers);
2. counters zeroed, `--requests` keep-alive `GET /api/v1/mindmaps/{id}` sent over
   `--connections` connections, counters dumped.
Printed per thread: instructions per request in 2, less the idle rate of 1 times 2's wall
time. The same variant measures within about 1% from run to run, whatever else the machine
does. `--keep` leaves callgrind's files for `callgrind_annotate` (the last dump of a thread
is the requests'). Callgrind counts user-space instructions only: system calls do not show,
and neither do cache misses (a native run's time per instruction differs between code
paths: the observability's instructions cost more each than the request's average).

The variants are bench/obsvariants.py's (off; metrics only; + JSON access lines; everything,
with OTLP export at 0.1 to a sink process); `--variant` picks some. valgrind (Debian's
`valgrind` package) must be installed; without it the command exits 2 naming the install
line. A diagnostic for issue 6, like bench.obsvariants.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import tools
from bench.hubproc import HubProcess, seed_mindmap, start_hub
from bench.obsvariants import variants
from bench.otlpsink import start_sink

READY_SECONDS = 600.0
_TOTALS = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)
_THREAD = re.compile(r"-(\d+)$")


async def _get(host: str, port: int, path: str, requests: int, connections: int) -> int:
    """Sends `requests` GETs of `path` over `connections` keep-alive connections; returns
    how many were answered 200."""
    request = f"GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()
    answered = 0

    async def connection(count: int) -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in range(count):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200 "):
                    answered += 1
        finally:
            writer.close()

    share, extra = divmod(requests, connections)
    await asyncio.gather(*(connection(share + (i < extra)) for i in range(connections)))
    return answered


class Callgrind:
    """One `hub serve` under callgrind, and its per-thread counters."""

    def __init__(self, hub: HubProcess, out: Path) -> None:
        self.hub = hub
        self._out = out
        self._pid = hub.process.pid
        self._seen: set[Path] = set()

    def control(self, *arguments: str) -> None:
        """Runs `callgrind_control ARGUMENTS PID`."""
        subprocess.run(  # noqa: S603 - fixed program, our arguments
            [tools.path(tools.CALLGRIND_CONTROL), *arguments, str(self._pid)],
            check=True,
            capture_output=True,
        )

    def dump(self) -> dict[int, int]:
        """Dumps the counters; instructions since the last zeroing, by thread number."""
        self.control("-d")
        counts: dict[int, int] = collections.Counter()
        deadline = time.monotonic() + 60
        while True:
            new = sorted(set(self._out.glob(f"cg.{self._pid}.*")) - self._seen)
            if new or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for path in new:
            self._seen.add(path)
            thread = _THREAD.search(path.name)
            totals = _TOTALS.search(path.read_text(errors="replace"))
            if thread is not None and totals is not None:
                counts[int(thread.group(1))] += int(totals.group(1))
        return counts

    def requests(self, path: str, requests: int, connections: int) -> tuple[dict[int, int], float]:
        """Counters over `requests` GETs of `path`, and the wall time they took."""
        self.control("-z")
        host, port = self.hub.http_base.removeprefix("http://").split(":")
        start = time.monotonic()
        answered = asyncio.run(_get(host, int(port), path, requests, connections))
        seconds = time.monotonic() - start
        if answered != requests:
            raise RuntimeError(f"{requests - answered} of {requests} GETs were not answered 200")
        return self.dump(), seconds

    def idle(self, seconds: float) -> dict[int, int]:
        """Counters over `seconds` of doing nothing."""
        self.control("-z")
        time.sleep(seconds)
        return self.dump()


def measure(
    name: str, section: dict[str, object], arguments: argparse.Namespace
) -> dict[int, float]:
    """Instructions per request by thread of the variant `section`."""
    out = Path(tempfile.mkdtemp(prefix="hub-callgrind-"))
    under = [
        tools.path(tools.VALGRIND),
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}/cg.%p",
    ]
    print(f"{name}: starting under callgrind", file=sys.stderr, flush=True)
    hub = start_hub(under=under, ready_seconds=READY_SECONDS, observability=section)
    try:
        path = f"/api/v1/mindmaps/{seed_mindmap(hub)}"
        grind = Callgrind(hub, out)
        host, port = hub.http_base.removeprefix("http://").split(":")
        asyncio.run(_get(host, int(port), path, arguments.requests, arguments.connections))
        grind.control("-i", "on")
        asyncio.run(_get(host, int(port), path, arguments.connections * 4, arguments.connections))
        idle = grind.idle(arguments.idle)
        counts, seconds = grind.requests(path, arguments.requests, arguments.connections)
    finally:
        hub.stop()
        if arguments.keep is not None:
            shutil.copytree(out, arguments.keep / name, dirs_exist_ok=True)
        shutil.rmtree(out, ignore_errors=True)
    return {
        thread: (count - idle.get(thread, 0) * seconds / arguments.idle) / arguments.requests
        for thread, count in sorted(counts.items())
    }


def main() -> None:
    """Measures each variant and prints a table: thousands of instructions per request."""
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--variant", action="append", help="a variant's name (repeatable)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy callgrind's files here (a folder per variant) for callgrind_annotate",
    )
    arguments = parser.parse_args()
    missing = tools.missing([tools.VALGRIND, tools.CALLGRIND_CONTROL])
    if missing:
        print(tools.MissingTool(missing), file=sys.stderr)
        raise SystemExit(2)
    sink = start_sink()
    try:
        chosen = variants(sink.endpoint)
        if arguments.variant:
            chosen = {name: chosen[name] for name in arguments.variant}
        results = {name: measure(name, section, arguments) for name, section in chosen.items()}
    finally:
        sink.stop()
    base = next(iter(results.values()))
    print(
        f"thousands of instructions per REST GET ({arguments.requests} requests, "
        f"{arguments.connections} connections; thread 1 is the event loop's)"
    )
    for name, threads in results.items():
        loop, total = threads.get(1, 0.0), sum(threads.values())
        rest = ", ".join(
            f"thread {thread} {count / 1000:.1f}"
            for thread, count in threads.items()
            if thread != 1
        )
        print(
            f"{name:26} loop {loop / 1000:8.1f} ({loop / base.get(1, loop):.3f}x)"
            f"  all {total / 1000:8.1f} ({total / sum(base.values()):.3f}x)  [{rest}]"
        )


if __name__ == "__main__":
    main()
