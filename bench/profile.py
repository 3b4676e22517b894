"""Where a `hub serve` spends its time on one request path: `python -m bench.profile PATH`.

Starts a hub (as every scenario does), loads it with one path (`rest`: REST GET of a
mindmap with wrk; `graphql`: the GraphQL GET of the same mindmap; `grpc`: gRPC GetMindmap
through the hub with h2load; `backend`: the same straight to the backend) and samples it
with py-spy (a dev dependency; it reads the process from outside, without stopping it)
for the duration of the load. Printed: the hub's CPU per request in that run, and the
functions holding the most samples: any function by its own samples, and the hub's own
functions with what they call (a thread's C code, such as grpc's poller, shows as its
`Thread.run`, a call into C as the Python line that made it). The
samples are written in py-spy's raw format (collapsed stacks, one per line: flame graph
tools read it) to `--out`.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.graphql import GRAPHQL_VS_REST
from bench.hubproc import seed_mindmap, start_hub
from bench.throughput import GRPC_THROUGH_HUB, GRPC_TO_BACKEND, Side, Target, measure, rest_get

PATHS: dict[str, Side] = {
    "rest": rest_get("REST GET /api/v1/mindmaps/{id}"),
    "graphql": GRAPHQL_VS_REST.subject,
    "grpc": GRPC_THROUGH_HUB,
    "backend": GRPC_TO_BACKEND,
}
RATE = 200  # samples per second
_HUB_CODE = " (hub/"


@dataclass(frozen=True)
class Profile:
    """Samples by function (`name (file:line)`, as py-spy names frames): their own, and for
    the hub's own functions (below its entry point) with everything they called."""

    total: int
    own: collections.Counter[str]
    inclusive: collections.Counter[str]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Profile:
        """Reads py-spy's raw output: `frame;frame;...;frame COUNT` per line, outermost
        frame first."""
        own: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        total = 0
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            samples = int(count)
            frames = stack.split(";")
            total += samples
            own[frames[-1]] += samples
            for frame in set(frames):
                if _HUB_CODE in frame and "hub/cli.py" not in frame and "hub/__main__" not in frame:
                    inclusive[frame] += samples
        return cls(total, own, inclusive)

    def top(self, counter: collections.Counter[str], count: int) -> list[str]:
        """The `count` frames with the most samples in `counter`, as `12.3% frame`."""
        return [
            f"{samples / self.total * 100:5.1f}% {frame}"
            for frame, samples in counter.most_common(count)
        ]


def main() -> None:
    """Parses the command line, profiles, prints."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("path", choices=sorted(PATHS))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path("profile.txt"))
    args = parser.parse_args()
    # beside this interpreter (a virtual environment's bin/, not always on PATH), or on PATH
    py_spy = shutil.which(
        "py-spy",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    if py_spy is None:
        parser.error("py-spy is not installed: pip install -e '.[dev]' (or pip install py-spy)")
    side = PATHS[args.path]
    hub = start_hub()
    try:
        target = Target(hub, seed_mindmap(hub), 16)
        measure(target, side, 1.0)  # warm-up
        command = [py_spy, "record", "--pid", str(hub.process.pid), "--rate", str(RATE)]
        command += ["--duration", str(args.seconds), "--format", "raw", "--nonblocking"]
        sampler = subprocess.Popen(  # noqa: S603 - py-spy, our arguments
            [*command, "--output", str(args.out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        measured = measure(target, side, args.seconds)
        _, errors = sampler.communicate()
        if sampler.returncode != 0:
            raise RuntimeError(f"py-spy exited with {sampler.returncode}: {errors}")
    finally:
        hub.stop()
    profile = Profile.parse(args.out.read_text().splitlines())
    print(
        f"{side.name}: {measured.load.throughput:,.0f} req/s, {measured.cpu_us_per_request:,.0f}"
        f" us of hub CPU per request; {profile.total} samples in {args.out}"
    )
    print("\nby own samples:\n" + "\n".join(profile.top(profile.own, args.top)))
    print(
        "\nthe hub's own, with what they call:\n"
        + "\n".join(profile.top(profile.inclusive, args.top))
    )


if __name__ == "__main__":
    main()
