"""`RedisEventBus`: the `EventBus` shared by every process of a scaled-out hub, on a Redis
stream, with a local copy in each process for its subscribers.

- The shared log is one stream, `<prefix>:events` (and `<prefix>:events:trimmed`, the
  highest id trimmed from it so far). Each event is an entry whose id is
  `<outbox id>-0`, given explicitly, with two fields: `t`, its commit time in milliseconds,
  and `e`, the serialized `Event`. Redis refuses an id that is not above the stream's top, so
  several relays publishing the same outbox (one per backend process) add each event once,
  in id order, whichever relay is first. `publish` is one Lua script per batch: it adds the
  new events, skips those already there, and trims the stream to `retention_count` entries
  and to `retention_seconds` of commit time (by this process's clock), atomically.
- Each process runs one reader task (XREAD BLOCK) that copies the stream, in order, into a
  `MemoryEventBus`: the local replica, which holds the retained window and fans out to this
  process's subscribers with all of its guarantees (filters, the seam of a resume, bounded
  queues, slow consumers, push consumers). So `subscribe` and `push` stay synchronous, a
  resume answers from local memory (no Redis round trip per reconnecting client), and
  `ResumeTooOld` is raised at once, as the contract says. The replica costs each process
  what the embedded default costs: the retained events, shared by its subscribers.
- `start` loads what the stream retains into the replica (the trimmed id tells what it no
  longer has, so a resume from before it is refused, never silently short).
  The reader then reads on from the last id it copied. Should it ever find that entries it
  had not read yet were trimmed (it fell further behind than the retention, or Redis was
  unreachable meanwhile), it resets the replica: every local subscription is dropped as too
  slow (`SlowConsumer`, resume from the last id it got) and the replica knows nothing before
  what the stream still has, so those resumes get `ResumeTooOld` rather than a gap.
- `publish` returns once the local replica has the events (the reader caught up with
  them), or once a read issued after they were added found nothing new (they were trimmed
  at once, being older than the retention): a subscriber of this process that resumes
  after a publish finds them, as with the in-memory bus. Redis errors reach the caller (the
  relay logs them and tries again); the reader logs them and reconnects with a growing
  pause, then checks for a gap as above.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from hub.contracts.events.v1.events_pb2 import Event
from hub.events.bus import BusStats, Consumer, EventFilter
from hub.events.memory import MemoryEventBus, MemorySubscription
from hub.events.tasks import stop_task

READ_BATCH = 500
"""Entries the reader takes from Redis at a time."""
BLOCK_MS = 1000
"""How long one XREAD waits for new entries before asking again (below the client's socket
timeout, 5 s by default, which would otherwise end it as a failure)."""
RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""Pauses of the reader between attempts while Redis fails (the last one repeats)."""

_logger = logging.getLogger(__name__)

# KEYS[1]: the stream; KEYS[2]: the highest id trimmed from it. ARGV[1]: entries to keep;
# ARGV[2]: the oldest commit time (ms) to keep; then per event: id, commit time (ms), the
# serialized event. Returns how many were added. (Redis 7.0 reports `max-deleted-entry-id`
# for XDEL only, not for trimming: the script records it.)
_PUBLISH = """
local stream, trimmed_key = KEYS[1], KEYS[2]
local added = 0
for i = 3, #ARGV, 3 do
  local reply = redis.pcall('XADD', stream, ARGV[i] .. '-0', 't', ARGV[i + 1], 'e', ARGV[i + 2])
  if type(reply) == 'table' and reply.err then
    if not string.find(reply.err, 'equal or smaller', 1, true) then
      return redis.error_reply(reply.err)
    end
  else
    added = added + 1
  end
end
local trimmed = 0
local function trim_through(id)
  trimmed = tonumber(string.match(id, '^(%d+)'))
  redis.call('XTRIM', stream, 'MINID', string.format('%d', trimmed + 1))
end
local excess = redis.call('XLEN', stream) - tonumber(ARGV[1])
if excess > 0 then
  local gone = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)
  trim_through(gone[#gone][1])
end
local horizon = tonumber(ARGV[2])
while true do
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #oldest == 0 or tonumber(oldest[1][2][2]) >= horizon then
    break
  end
  trim_through(oldest[1][1])
end
if trimmed > tonumber(redis.call('GET', trimmed_key) or '0') then
  redis.call('SET', trimmed_key, string.format('%d', trimmed))
end
return added
"""


def entry_id(event_id: int) -> str:
    """The stream entry id of an event."""
    return f"{event_id}-0"


def _event_id(raw: bytes | str) -> int:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return int(text.partition("-")[0])


class RedisEventBus:
    """An `hub.events.bus.EventBus` on the Redis stream `key`, shared by every process that
    names the same one; `await start()` before use. `client` is not closed by the bus.
    `clock`: the current time in seconds since the epoch (for the age bound)."""

    def __init__(
        self,
        client: Redis,
        key: str,
        *,
        retention_count: int,
        retention_seconds: float,
        subscriber_queue: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._key = key
        self._trimmed_key = f"{key}:trimmed"
        self._retention_count = retention_count
        self._retention_seconds = retention_seconds
        self._clock = clock
        self._replica = MemoryEventBus(
            retention_count=retention_count,
            retention_seconds=retention_seconds,
            subscriber_queue=subscriber_queue,
            clock=clock,
        )
        self._script = client.register_script(_PUBLISH)
        self._position = 0
        """The id of the last stream entry copied into the replica."""
        self._reads = 0
        """XREADs the reader has issued."""
        self._drained = 0
        """The number of the last XREAD that found nothing new."""
        self._progress = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._published = 0

    @property
    def last_id(self) -> int:
        """The id of the last event this process has received from the stream."""
        return self._replica.last_id

    def stats(self) -> BusStats:
        """This process's subscriptions and queues, and the events it added to the stream."""
        return dataclasses.replace(self._replica.stats(), published=self._published)

    async def start(self) -> None:
        """Loads what the stream retains and starts the reader. Raises `RedisError` when
        Redis cannot be reached."""
        await self._synchronize(first=True)
        self._reader = asyncio.create_task(self._read(), name="hub-event-bus-reader")

    async def publish(self, events: Collection[Event]) -> None:
        """Adds `events` to the stream (those already there are skipped: another relay was
        first) and waits until this process's subscribers have them."""
        if not events:
            return
        args: list[int | bytes] = [
            self._retention_count,
            int((self._clock() - self._retention_seconds) * 1000),
        ]
        for event in events:
            args += [event.id, event.time.ToMilliseconds(), event.SerializeToString()]
        added = await self._script(keys=[self._key, self._trimmed_key], args=args)
        self._published += int(added)
        newest = max(event.id for event in events)
        # Until the reader has them, or a read issued after they were added found nothing
        # new: then they are gone already (trimmed, being older than the retention).
        issued = self._reads
        async with self._progress:
            await self._progress.wait_for(
                lambda: self._closed or self._position >= newest or self._drained > issued
            )

    def subscribe(self, event_filter: EventFilter, since: int | None = None) -> MemorySubscription:
        """See `EventBus.subscribe` (answered by the local replica)."""
        return self._replica.subscribe(event_filter, since)

    def push(
        self, event_filter: EventFilter, consumer: Consumer, since: int | None = None
    ) -> MemorySubscription:
        """See `EventBus.push` (answered by the local replica)."""
        return self._replica.push(event_filter, consumer, since)

    async def close(self) -> None:
        """Stops the reader and ends every local subscription (the stream stays)."""
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            await stop_task(reader)
        await self._replica.close()
        async with self._progress:
            self._progress.notify_all()

    async def _read(self) -> None:
        """Copies new stream entries into the replica until cancelled."""
        failures = 0
        suspect = False
        while not self._closed:
            try:
                if suspect:
                    await self._synchronize(first=False)
                    suspect = False
                self._reads += 1
                issued = self._reads
                reply: Any = await self._client.xread(
                    {self._key: entry_id(self._position)}, count=READ_BATCH, block=BLOCK_MS
                )
                failures = 0
            except Exception:  # Redis failed (or sent what cannot be read): retry, never die
                _logger.exception("event bus: cannot read the Redis stream %s", self._key)
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
                suspect = True
                continue
            entries: Sequence[Any] = reply[0][1] if reply else ()
            if not entries:
                self._drained = issued
            elif _event_id(entries[0][0]) != self._position + 1:
                suspect = True  # a hole in the ids, or entries trimmed before we read them
                continue
            await self._copy(entries)

    async def _synchronize(self, *, first: bool) -> None:
        """Reads, atomically, what the stream no longer has and the entries after the
        position; resets the replica when it is new or missed entries, then copies them."""
        pipeline = self._client.pipeline(transaction=True)
        pipeline.get(self._trimmed_key)
        pipeline.xinfo_stream(self._key)
        start = "-" if first else f"({entry_id(self._position)}"
        pipeline.xrange(self._key, min=start, count=READ_BATCH)
        trimmed_raw, info, entries = await pipeline.execute(raise_on_error=False)
        for reply in (trimmed_raw, entries):
            if isinstance(reply, Exception):
                raise reply
        if isinstance(info, ResponseError):
            newest = 0  # no stream yet (XINFO fails): nothing was ever published
        elif isinstance(info, Exception):
            raise info
        else:
            newest = _event_id(info["last-generated-id"])
        trimmed = int(trimmed_raw or 0)
        if first or trimmed > self._position:
            if not first:
                _logger.warning(
                    "event bus: events %d to %d were trimmed from %s before this process "
                    "read them; its subscribers resume or start again",
                    self._position + 1,
                    trimmed,
                    self._key,
                )
            # With entries, the replica's floor becomes the one before the first of them;
            # without, nothing up to the stream's last id is retained.
            self._replica.reset(None if entries or not newest else newest)
            self._position = self._replica.last_id
        await self._copy(entries)

    async def _copy(self, entries: Sequence[Any]) -> None:
        """Hands stream entries to the replica, in order, and wakes the publishers waiting
        for them."""
        if entries:
            await self._replica.publish([Event.FromString(fields[b"e"]) for _, fields in entries])
            self._position = _event_id(entries[-1][0])
        async with self._progress:
            self._progress.notify_all()
