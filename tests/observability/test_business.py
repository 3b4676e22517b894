"""Business metrics from a scripted sequence of writes, and the active-user windows."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry, generate_latest

from hub.config import Business
from hub.contracts.events.v1.events_pb2 import Event
from hub.contracts.mindmap.v1.mindmap_pb2 import (
    AddNodeRequest,
    CreateMindmapRequest,
    Mindmap,
    Node,
)
from hub.contracts.user.v1.user_pb2 import (
    CreateUserRequest,
    Plan,
    UpdateUserRequest,
    User,
)
from hub.events.memory import MemoryEventBus
from hub.observability.business import BusinessMetrics
from hub.testing import running_hub
from tests.observability.scrape import Scrape, labels, scrape_until

NOW = 1_800_000_000.0


async def test_signups_an_upgrade_and_nodes_give_exact_business_figures(tmp_path: Path) -> None:
    """Two signups (free, pro), free -> pro and pro -> team upgrades, a mindmap with two
    nodes: signups by plan, conversions (free -> paid only), revenue at the configured
    prices (every move to a paid plan), feature usage by event type, active users."""
    business = {"currency": "EUR", "plan_prices": {"pro": 12.5, "team": 40}}
    async with running_hub(tmp_path, observability={"business": business}) as running:
        users = running.users
        free = (
            await users.CreateUser(
                CreateUserRequest(user=User(email="ada@example.com", display_name="Ada"))
            )
        ).user
        await users.CreateUser(
            CreateUserRequest(
                user=User(email="bob@example.com", display_name="Bob", plan=Plan.PLAN_PRO)
            )
        )
        plan_only = FieldMask(paths=["plan"])
        for plan in (Plan.PLAN_PRO, Plan.PLAN_TEAM):
            await users.UpdateUser(
                UpdateUserRequest(user=User(id=free.id, plan=plan), update_mask=plan_only)
            )
        mindmap = (
            await running.mindmaps.CreateMindmap(
                CreateMindmapRequest(mindmap=Mindmap(owner_id=free.id, title="Ideas"))
            )
        ).mindmap
        for text in ("one", "two"):
            await running.mindmaps.AddNode(
                AddNodeRequest(
                    mindmap_id=mindmap.id, node=Node(parent_id=mindmap.nodes[0].id, text=text)
                )
            )
        scraped = await scrape_until(
            running,
            lambda s: s.value("hub_feature_usage_total", feature="mindmap.node_added") == 2.0,
        )

    expected = {
        ("hub_signups_total", labels(plan="free")): 1.0,
        ("hub_signups_total", labels(plan="pro")): 1.0,
        ("hub_conversions_total", labels(plan="pro")): 2.0,
        ("hub_revenue_total", labels(currency="EUR", plan="pro")): 25.0,
        ("hub_revenue_total", labels(currency="EUR", plan="team")): 40.0,
        ("hub_feature_usage_total", labels(feature="user.created")): 2.0,
        ("hub_feature_usage_total", labels(feature="user.updated")): 2.0,
        ("hub_feature_usage_total", labels(feature="mindmap.created")): 1.0,
        ("hub_feature_usage_total", labels(feature="mindmap.node_added")): 2.0,
        ("hub_active_users", labels(window="5m")): 2.0,
        ("hub_active_users", labels(window="24h")): 2.0,
    }
    assert expected == scraped.expect(expected)
    assert None is scraped.value("hub_conversions_total", plan="team")


def _event(event_id: int, owner: str, seconds_ago: float) -> Event:
    moment = Timestamp()
    moment.FromNanoseconds(int((NOW - seconds_ago) * 1e9))
    return Event(id=event_id, type="mindmap.updated", owner_id=owner, time=moment)


async def test_active_users_count_each_user_once_per_window() -> None:
    """Users by their last event: within 5 minutes, within 24 hours, or neither."""
    registry = CollectorRegistry()
    bus = MemoryEventBus(retention_count=10, retention_seconds=60, subscriber_queue=10)
    metrics = BusinessMetrics(registry, bus, Business(), clock=lambda: NOW)
    for event in (
        _event(1, "recent", 3600.0),
        _event(2, "recent", 10.0),  # the last one counts
        _event(3, "today", 3600.0),
        _event(4, "yesterday", 25 * 3600.0),
    ):
        metrics.record(event)
    scraped = Scrape.parse(generate_latest(registry).decode())
    assert {"5m": 1.0, "24h": 2.0} == {
        window: scraped.value("hub_active_users", window=window) for window in ("5m", "24h")
    }
    await bus.close()
