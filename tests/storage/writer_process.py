"""A writer in a process of its own, for the tests of several processes on one database.

    python -m tests.storage.writer_process '{"storage": {...}, "data_dir": "..."}'

It opens the store the `storage` section describes (`build_store`, as `hub serve` does),
prints `{"ready": true}`, then runs one JSON command per line of its standard input and
answers each with one JSON line, until the input ends:
- `{"op": "race", "mindmap": ID, "expected": ETAG, "contenders": N}`: N concurrent updates of
  the mindmap, each conditional on ETAG; answers `{"results": [...]}`, one per update:
  `{"event_id": ID, "etag": NEW_ETAG}` for a write that committed, `{"aborted": true}` for
  one refused as stale.
- `{"op": "write", "mindmap": ID, "count": N}`: N updates one after the other, each on the
  etag the previous one wrote; answers `{"event_ids": [...]}`.
- `{"op": "users", "count": N}`: N new users, one after the other; answers `{"ids": [...]}`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hub.contracts.mindmap.v1.mindmap_pb2 import Mindmap
from hub.errors import Aborted
from hub.storage.setup import build_store
from hub.storage.store import Store
from tests.backings import store_settings
from tests.storage.messages import add_user, changed_mindmap, mindmap_event


async def _race(store: Store, command: dict[str, Any]) -> dict[str, Any]:
    mindmap = await _read(store, command["mindmap"])
    updates = [
        changed_mindmap(mindmap, title=f"Contender {n}") for n in range(command["contenders"])
    ]
    outcomes = await asyncio.gather(
        *(
            store.update_mindmap(update, command["expected"], mindmap_event("updated", update))
            for update in updates
        ),
        return_exceptions=True,
    )
    results: list[dict[str, Any]] = []
    for update, outcome in zip(updates, outcomes, strict=True):
        if isinstance(outcome, Aborted):
            results.append({"aborted": True})
        elif isinstance(outcome, int):
            results.append({"event_id": outcome, "etag": update.etag})
        else:
            raise outcome
    return {"results": results}


async def _write(store: Store, command: dict[str, Any]) -> dict[str, Any]:
    mindmap = await _read(store, command["mindmap"])
    event_ids = []
    for n in range(command["count"]):
        update = changed_mindmap(mindmap, title=f"Version {n}")
        event_ids.append(
            await store.update_mindmap(update, mindmap.etag, mindmap_event("updated", update))
        )
        mindmap = update
    return {"event_ids": event_ids}


async def _users(store: Store, command: dict[str, Any]) -> dict[str, Any]:
    return {"ids": [(await add_user(store)).id for _ in range(command["count"])]}


async def _read(store: Store, mindmap_id: str) -> Mindmap:
    return (await store.get_mindmaps([mindmap_id], with_nodes=True))[mindmap_id]


async def main(argument: str) -> None:
    """Opens the store, then answers commands until standard input ends."""
    setup = json.loads(argument)
    store = build_store(store_settings(setup["storage"], Path(setup["data_dir"])))
    await store.open()
    try:
        print(json.dumps({"ready": True}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            run = {"race": _race, "write": _write, "users": _users}[command["op"]]
            print(json.dumps(await run(store, command)), flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
