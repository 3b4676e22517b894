"""A hub whose mindmap backend is down, for the policies scenario to measure its breaker.

`python -m bench.breakerhub DATA_DIR` starts a whole hub in this process (the test
harness, `hub.testing.running_hub`) with circuit breaking on, creates one user, stops the
mindmap backend, prints one JSON line (`{"grpc": target, "user": id}`) and serves until
SIGTERM. The breaker opens at the first failed mindmap call and stays open for the run.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import uvloop

from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import running_hub

GATEWAY = {
    "policies": ["circuit_breaking"],
    "circuit_breaking": {"consecutive_failures": 1, "open_seconds": 3600},
}


async def serve(data_dir: Path) -> None:
    """Runs the hub until SIGTERM (see the module docstring)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running_hub(data_dir, api_gateway=GATEWAY) as hub:
        created = await hub.users.CreateUser(
            CreateUserRequest(user=User(email="bench@example.com", display_name="Bench"))
        )
        await hub.hub.stop_backend("mindmap-service")
        print(json.dumps({"grpc": hub.target, "user": created.user.id}), flush=True)
        await stop.wait()


if __name__ == "__main__":
    uvloop.run(serve(Path(sys.argv[1])))
