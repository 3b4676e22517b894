"""When the Redis that the gateway policies keep their state in goes away under a running
hub, reads go on being served (rate limiting admits them, the cache is bypassed), and
`/metrics` counts every failed operation by policy, `hub_policy_store_failures_total`."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.contracts.user.v1.user_pb2 import CreateUserRequest, User
from hub.testing import running_hub
from tests.observability.scrape import scrape
from tests.redisdb import redis_server, unused_port

USERS = "hub.user.v1.UserService"
GATEWAY = {
    "policies": ["rate_limiting", "caching"],
    # Three reads at most, then one every 100 s: a fourth read is refused while Redis is up.
    "rate_limiting": {"rules": [{"rpc": f"{USERS}/GetUser", "rate_per_second": 0.01, "burst": 3}]},
    "caching": {"rules": [{"rpc": f"{USERS}/GetUser"}]},
}


async def test_a_redis_outage_is_served_through_and_counted_in_metrics(tmp_path: Path) -> None:
    port = unused_port()
    (tmp_path / "redis").mkdir()
    async with (
        redis_server(port, tmp_path / "redis") as redis,
        running_hub(
            tmp_path / "hub",
            api_gateway=GATEWAY,
            redis={"url": f"redis://127.0.0.1:{port}/0", "key_prefix": "hub"},
        ) as running,
        httpx.AsyncClient(base_url=running.http_url) as http,
    ):
        created = await running.users.CreateUser(
            CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
        )
        path = f"/api/v1/users/{created.user.id}"
        before = [(await http.get(path)).status_code for _ in range(4)]
        healthy = await scrape(running)
        redis.terminate()
        await redis.wait()
        during = [(await http.get(path)).status_code for _ in range(4)]
        outage = await scrape(running)

    assert [200, 200, 200, 429] == before
    assert [200, 200, 200, 200] == during
    failures = "hub_policy_store_failures_total"
    assert (0.0, 0.0) == (
        healthy.value(failures, policy="rate_limiting"),
        healthy.value(failures, policy="caching"),
    )
    # Each read: one rate-limit hit, then the cache bypassed (its first failure marks it to
    # be cleared; each read after tries that clear first).
    assert 4.0 == outage.value(failures, policy="rate_limiting")
    assert (outage.value(failures, policy="caching") or 0.0) >= 4.0
