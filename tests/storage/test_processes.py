"""The `Store` contract with writers in several OS processes on one database, as in a split
deployment (tests/storage/writer_process.py is the writer). Run against every implementation:
- writers racing on one etag: exactly one wins each round, every other is ABORTED, and the
  outbox holds exactly the winners' events, in the order they committed;
- writers on different rows: a reader that pages the outbox after its cursor while they
  write (as the relay does) sees every event, none passed over by a later commit; and one
  that pages a list after its last seq while they insert (as page tokens do) sees every row.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from hub.storage.store import Store
from tests.backings import StorageSection
from tests.storage.messages import add_mindmap, add_user, outbox

ROUNDS = 25
CONTENDERS = 3
"""Concurrent updates per process and round (so 2 * CONTENDERS race on each etag)."""
WRITES = 150
"""Writes per process in the tests of a reader that follows the writers."""
STARTUP_SECONDS = 30.0


class Writer:
    """One writer process: send it a command, get its answer."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        """Sends `command` and waits for the answer."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps(command).encode() + b"\n")
        await stdin.drain()
        line = await stdout.readline()
        assert line, f"the writer process ended (exit {await self._process.wait()})"
        answer: dict[str, Any] = json.loads(line)
        return answer


@asynccontextmanager
async def writers(
    storage: StorageSection, data_dir: Path, count: int
) -> AsyncIterator[list[Writer]]:
    """`count` writer processes with the store of `storage` open; they exit cleanly after."""
    setup = json.dumps({"storage": storage, "data_dir": str(data_dir)})
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.storage.writer_process",
                setup,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            stack.push_async_callback(_finish, process)
            started.append(process)
        for process in started:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readline(), STARTUP_SECONDS)
            assert {"ready": True} == json.loads(ready)
        yield [Writer(process) for process in started]


async def _finish(process: asyncio.subprocess.Process) -> None:
    """Ends the writer's input and requires a clean exit."""
    if process.returncode is None:
        assert process.stdin is not None
        process.stdin.close()
    assert 0 == await asyncio.wait_for(process.wait(), STARTUP_SECONDS)


async def test_writers_in_two_processes_racing_on_one_etag_let_exactly_one_win(
    store: Store, backing: StorageSection, tmp_path: Path
) -> None:
    owner = await add_user(store)
    mindmap = await add_mindmap(store, owner.id)
    before = await outbox(store)
    winners: list[tuple[int, str]] = []
    """(event id, etag written) of each round's winner."""

    async with writers(backing, tmp_path, 2) as (first, second):
        etag = mindmap.etag
        for _ in range(ROUNDS):
            command = {
                "op": "race",
                "mindmap": mindmap.id,
                "expected": etag,
                "contenders": CONTENDERS,
            }
            answers = await asyncio.gather(first.ask(command), second.ask(command))
            results = [result for answer in answers for result in answer["results"]]
            won = [result for result in results if "event_id" in result]
            assert 1 == len(won), results
            assert (2 * CONTENDERS - 1) * [{"aborted": True}] == [
                result for result in results if "event_id" not in result
            ]
            winners.append((won[0]["event_id"], won[0]["etag"]))
            etag = won[0]["etag"]

    stored = (await store.get_mindmaps([mindmap.id], with_nodes=True))[mindmap.id]
    assert winners[-1][1] == stored.etag
    events = (await outbox(store))[len(before) :]
    assert [event_id for event_id, _ in winners] == [event.id for event in events]
    assert [etag for _, etag in winners] == [event.mindmap_updated.mindmap.etag for event in events]
    assert ROUNDS * ["mindmap.updated"] == [event.type for event in events]


async def test_a_reader_after_its_cursor_misses_no_event_of_writers_in_two_processes(
    store: Store, backing: StorageSection, tmp_path: Path
) -> None:
    """Outbox ids follow commit order across processes: the relay's way of reading (the
    events after the last id it saw) passes over none while others commit."""
    owner = await add_user(store)
    mindmaps = [await add_mindmap(store, owner.id) for _ in range(2)]
    (last_before,) = (await outbox(store))[-1:]
    seen: list[int] = []
    writing = True

    async def follow() -> None:
        cursor = last_before.id
        while True:
            still_writing = writing
            events = await store.read_outbox(cursor, 1000)
            seen.extend(event.id for event in events)
            cursor = events[-1].id if events else cursor
            if not still_writing and not events:
                return
            await asyncio.sleep(0)

    async with writers(backing, tmp_path, 2) as processes:
        reader = asyncio.create_task(follow())
        answers = await asyncio.gather(
            *(
                process.ask({"op": "write", "mindmap": mindmap.id, "count": WRITES})
                for process, mindmap in zip(processes, mindmaps, strict=True)
            )
        )
        writing = False
        await reader

    written = sorted(event_id for answer in answers for event_id in answer["event_ids"])
    assert 2 * WRITES == len(written)
    assert written == seen
    assert written == [event.id for event in await store.read_outbox(last_before.id, 1000)]


async def test_a_reader_paging_after_its_last_seq_misses_no_row_of_inserts_in_two_processes(
    store: Store, backing: StorageSection, tmp_path: Path
) -> None:
    """Lists follow commit order across processes: a page token (the last seq seen) passes
    over no row that commits later."""
    seen: list[str] = []
    writing = True

    async def follow() -> None:
        after_seq = 0
        while True:
            still_writing = writing
            page = await store.list_users(after_seq, 1000)
            seen.extend(row.message.id for row in page)
            after_seq = page[-1].seq if page else after_seq
            if not still_writing and not page:
                return
            await asyncio.sleep(0)

    async with writers(backing, tmp_path, 2) as processes:
        reader = asyncio.create_task(follow())
        answers = await asyncio.gather(
            *(process.ask({"op": "users", "count": WRITES}) for process in processes)
        )
        writing = False
        await reader

    inserted = {user_id for answer in answers for user_id in answer["ids"]}
    assert 2 * WRITES == len(inserted)
    assert sorted(inserted) == sorted(seen)
