"""`hub serve` (one process, every role) with `redis.url` set: its event bus, rate-limit
buckets and response cache live in the real Redis, and it works end to end: a write over
REST reaches a `/ws` subscriber, and the keys under the configured prefix show where the
state went. Without a reachable Redis it refuses to start, saying where it looked."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.test_serve import Launcher
from tests.redisdb import REDIS_URL, RedisSpace

pytestmark = pytest.mark.e2e

RECEIVE_SECONDS = 10.0


async def _keys(keyspace: RedisSpace, pattern: str) -> list[str]:
    return sorted(
        [key.decode() async for key in keyspace.client.scan_iter(match=keyspace.key(pattern))]
    )


async def test_a_write_over_rest_reaches_a_websocket_subscriber_through_redis(
    launcher: Launcher, keyspace: RedisSpace
) -> None:
    config = launcher.config("hub", redis={"url": REDIS_URL, "key_prefix": keyspace.prefix})
    served = await asyncio.to_thread(launcher.serve, config)
    base = f"http://{served.http_address}"
    async with httpx.AsyncClient(base_url=base) as http:
        created = await http.post(
            "/api/v1/users", json={"email": "ada@example.com", "displayName": "Ada"}
        )
        assert 200 == created.status_code, created.text
        user_id = created.json()["id"]

        def subscribe_and_receive() -> list[dict[str, object]]:
            with connect(f"ws://{served.http_address}/ws") as websocket:
                websocket.send(
                    json.dumps(
                        {"type": "subscribe", "id": "s1", "channel": "user", "userId": user_id}
                    )
                )
                answers = [json.loads(websocket.recv(timeout=RECEIVE_SECONDS))]
                mindmap = httpx.post(
                    f"{base}/api/v1/mindmaps", json={"ownerId": user_id, "title": "Plans"}
                )
                assert 200 == mindmap.status_code, mindmap.text
                answers.append(json.loads(websocket.recv(timeout=RECEIVE_SECONDS)))
                return answers

        subscribed, delivered = await asyncio.to_thread(subscribe_and_receive)
        read = await http.get(f"/api/v1/users/{user_id}")
    stream: Any = await keyspace.client.xrange(keyspace.key("events"))
    ratelimit_keys = await _keys(keyspace, "ratelimit:*")
    cache_entries = await _keys(keyspace, "cache:entry:*")
    exit_code = await asyncio.to_thread(served.terminate)

    assert ("subscribed", "s1") == (subscribed["type"], subscribed["id"])
    assert ("event", "s1") == (delivered["type"], delivered["subscription"])
    event = delivered["event"]
    assert isinstance(event, dict)
    assert "mindmap.created" == event["type"]
    assert 200 == read.status_code
    assert [b"1-0", b"2-0"] == [entry_id for entry_id, _ in stream]
    assert str(event["id"]) == "2"
    assert ratelimit_keys, "the rate-limit buckets live in Redis"
    assert cache_entries, "the cached read lives in Redis"
    assert 0 == exit_code


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_without_a_reachable_redis_fails_clearly(launcher: Launcher) -> None:
    url = f"redis://:secret@127.0.0.1:{_unused_port()}/0"
    result = launcher.run(launcher.config("hub", redis={"url": url}))

    assert 1 == result.returncode
    assert (
        f"cannot reach Redis at redis://127.0.0.1:{url.rsplit(':', 1)[1]}"
        in result.stdout + result.stderr
    )
    assert "secret" not in result.stdout + result.stderr
