"""`python -m bench.wsmemory [N]`: what one idle `/ws` subscriber holds in the hub, by line.

A whole hub runs in this process (`hub.testing.running_hub`, asyncio's own loop: uvloop's
transports are C and invisible to tracemalloc) with N subscribers (default 2,000) held by
client processes (bench/wsclient.py) to one mindmap. tracemalloc compares the hub's Python
allocations before and after they connect and prints the total per connection and the
lines that allocated most of it. RSS per connection, under uvloop as `hub serve` runs, is
what `python -m bench ws-fanout` reports; this says which objects make it up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import tracemalloc
from pathlib import Path

from bench.fanout import Clients
from hub.contracts.mindmap.v1.mindmap_pb2 import CreateMindmapRequest, Mindmap
from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import running_hub

LINES = 15
SETTLE_SECONDS = 1.0


async def measure(count: int) -> list[str]:
    """The report lines: bytes per connection in total, then by allocating line."""
    with tempfile.TemporaryDirectory() as folder:
        async with running_hub(Path(folder)) as hub:
            user = await hub.users.CreateUser(
                CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
            )
            created = await hub.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=user.user.id, title="Ideas"))
            )
            mindmap_id = created.mindmap.id
            warm_up = await Clients.start(hub.ws_url, mindmap_id, 1)
            await warm_up.close()
            await asyncio.sleep(SETTLE_SECONDS)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            clients = await Clients.start(hub.ws_url, mindmap_id, count)
            try:
                await asyncio.sleep(SETTLE_SECONDS)
                gc.collect()
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
                await clients.close()
    differences = after.compare_to(before, "lineno")
    total = sum(difference.size_diff for difference in differences)
    lines = [f"{total / count:.0f} bytes of Python objects per idle connection ({count})"]
    for difference in differences[:LINES]:
        frame = difference.traceback[0]
        where = f"{frame.filename.rsplit('site-packages/', 1)[-1]}:{frame.lineno}"
        lines.append(
            f"{difference.size_diff / count:8.0f} B {difference.count_diff / count:6.2f}"
            f" objects  {where}"
        )
    return lines


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wsmemory", description=__doc__)
    parser.add_argument("count", type=int, nargs="?", default=2000)
    args = parser.parse_args()
    print("\n".join(asyncio.run(measure(args.count))))


if __name__ == "__main__":
    _main()
