"""No input reaches the INTERNAL path: seeded random requests for every RPC, every field of
every request filled (or not) with plausible or hostile values, all answered with a domain
status.

The requests are built from the message descriptors, so a field added to a request later is
fuzzed too. Together with the table of bad inputs this is the evidence that UNKNOWN and
INTERNAL are left to bugs: every call here ends OK or with a mapped domain error carrying
an ErrorInfo, nothing is logged as unexpected, and each committed write left one event.
Text that the protos say is stored without surrounding white space is sent padded, and is
found stripped afterwards.
"""

from __future__ import annotations

import base64
import logging
import random
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.contracts.mindmap.v1.mindmap_pb2 import ListMindmapsRequest, MindmapView
from hub.contracts.user.v1 import user_pb2
from hub.contracts.user.v1.user_pb2 import ListUsersRequest
from hub.storage.store import Store
from tests.backends.support import World, all_events, assert_sound_tree, build_world, error_info

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

CALLS_PER_RPC = 60
DOMAIN_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.FAILED_PRECONDITION,
}
READS = {"Get", "BatchGet", "List", "BatchList"}
HOSTILE_INTS = [-1, 1001, 2**31 - 1, -(2**31), 4, 7]
TEXT_FIELDS = {"display_name", "title", "text", "description"}
MASK_PATHS = ["email", "display_name", "plan", "title", "description", "text", "*"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


class Fuzzer:
    """Fills requests: per request, either mostly plausible values (to reach the deeper
    rules: trees, etags, uniqueness) or mostly hostile ones (to hit every check)."""

    def __init__(self, chance: random.Random, world: World) -> None:
        self.chance = chance
        self.ids = [
            world.owner.id,
            world.other.id,
            world.mindmap.id,
            world.root_id,
            world.a_id,
            world.b_id,
        ]
        self.hostile_strings = [
            *self.ids,
            world.mindmap.etag,
            world.stale_mindmap_etag,
            world.users_page_token,
            world.owner_mindmaps_page_token,
            "",
            " ",
            "*",
            "x" * 3000,
            "ünïcödé ✓",
            "😀" * 120,
            "nul\x00byte",
            "line\nbreak\ttab",
            "Mixed@Example.COM",
            "'; DROP TABLE users; --",
            "%_\\",
            b64('{"s": 1e999, "f": "x"}'),
            b64('{"s": 99999999999999999999999, "f": "x"}'),
            b64("[" * 100),
            "====",
            " padded ",
            "\u00a0\u2003unicode spaces\u3000",
            " " + "x" * 100,  # 101 characters as sent
            "x" * 64,
            "x" * 65,
        ]
        self.hostility = 0.0
        self.emails = 0

    def request(self, message: Message) -> Message:
        self.hostility = self.chance.choice([0.05, 0.6])
        self._fill(message, depth=0)
        return message

    def _fill(self, message: Message, depth: int) -> None:
        for field in message.DESCRIPTOR.fields:
            if self.chance.random() < 0.2:
                continue  # left unset
            hostile = self.chance.random() < self.hostility
            target = getattr(message, field.name)
            if field.message_type is None:
                value = self._scalar(field, hostile)
                if field.is_repeated:
                    target.extend(value)
                else:
                    setattr(message, field.name, value)
            elif field.message_type.full_name == FieldMask.DESCRIPTOR.full_name:
                pool = self.hostile_strings if hostile else MASK_PATHS
                target.paths.extend(self.chance.sample(pool, self.chance.choice([0, 1, 2])))
            elif field.message_type.full_name == Timestamp.DESCRIPTOR.full_name:
                target.seconds = self.chance.choice([0, -1, 2**40])
            elif field.is_repeated:
                for _ in range(self.chance.choice([0, 1, 2])):
                    self._fill(target.add(), depth + 1)
            elif depth < 2:
                self._fill(target, depth + 1)

    def learn(self, response: Message) -> None:
        """Adds the ids in a response to the plausible ids, so later requests hit them."""
        for field, value in response.ListFields():
            if isinstance(value, Message):
                self.learn(value)
            elif field.message_type is not None and field.is_repeated:
                for item in value:
                    self.learn(item)
            elif field.name.endswith("id") and isinstance(value, str) and value:
                self.ids.append(value)

    # `field` is a FieldDescriptor of the pure-Python or the upb flavour; the stubs type
    # the two apart, the code treats them alike.
    def _scalar(self, field: Any, hostile: bool) -> object:
        chance = self.chance
        if field.type == FieldDescriptor.TYPE_STRING and field.is_repeated:
            count = chance.choice([0, 1001] if hostile else [1, 3, 1000])
            pool = self.hostile_strings[:20] if hostile else self.ids
            return [chance.choice(pool) for _ in range(count)]
        if field.type == FieldDescriptor.TYPE_STRING:
            if hostile:
                return chance.choice(self.hostile_strings)
            if field.name == "email":
                self.emails += 1
                return f" fuzz{self.emails}@example.com\t"
            if field.name in TEXT_FIELDS:
                return f"\n fuzz {chance.randrange(1000)} "
            return "" if field.name in ("etag", "page_token") else chance.choice(self.ids)
        if field.type == FieldDescriptor.TYPE_ENUM:
            known = [value.number for value in field.enum_type.values]
            return chance.choice(HOSTILE_INTS if hostile else known)
        if field.type == FieldDescriptor.TYPE_INT32:
            return chance.choice(HOSTILE_INTS if hostile else [0, 1, 2, 5])
        raise AssertionError(f"no fuzz values for {field.full_name}")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_requests_get_domain_statuses_only(
    seed: int,
    store: Store,
    users: UserServiceAsyncStub,
    mindmaps: MindmapServiceAsyncStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await build_world(users, mindmaps)
    fuzzer = Fuzzer(random.Random(seed), world)
    events_before = len(await all_events(store))
    committed_writes = 0
    services = [
        (users, user_pb2.DESCRIPTOR.services_by_name["UserService"]),
        (mindmaps, mindmap_pb2.DESCRIPTOR.services_by_name["MindmapService"]),
    ]
    methods = [(stub, method) for stub, service in services for method in service.methods]
    plan = [pair for pair in methods for _ in range(CALLS_PER_RPC)]
    fuzzer.chance.shuffle(plan)

    refusals: list[tuple[str, grpc.StatusCode, str]] = []
    with caplog.at_level(logging.WARNING, logger="hub"):
        for stub, method in plan:
            module = user_pb2 if stub is users else mindmap_pb2
            request = fuzzer.request(getattr(module, method.input_type.name)())
            try:
                fuzzer.learn(await getattr(stub, method.name)(request))
            except grpc.aio.AioRpcError as error:
                refusals.append((method.name, error.code(), error_info(error).domain))
            else:
                if not any(method.name.startswith(read) for read in READS):
                    committed_writes += 1

    assert [] == [r for r in refusals if r[1] not in DOMAIN_CODES or r[2] != "hub"]
    assert 0 < committed_writes
    assert [] == [r for r in caplog.records if r.name.startswith("hub")]
    assert committed_writes == len(await all_events(store)) - events_before
    listed = await mindmaps.ListMindmaps(
        ListMindmapsRequest(page_size=1000, view=MindmapView.MINDMAP_VIEW_FULL)
    )
    for mindmap in listed.mindmaps:
        assert_sound_tree(mindmap.nodes)
        assert len(mindmap.nodes) == mindmap.node_count
    listed_users = await users.ListUsers(ListUsersRequest(page_size=1000))
    stored_texts = [
        *(text for user in listed_users.users for text in (user.email, user.display_name)),
        *(mindmap.title for mindmap in listed.mindmaps),
        *(node.text for mindmap in listed.mindmaps for node in mindmap.nodes),
    ]
    assert [] == [text for text in stored_texts if text != text.strip()]
