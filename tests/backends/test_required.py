"""The backends require no field that the published contract leaves optional.

The REST front end refuses JSON that breaks the schema published from the protos, and then
forwards everything else; a backend that answered INVALID_ARGUMENT "is required" for a field
the schema does not require would refuse requests that the schema accepts. So every RPC is
called with an empty request (an update with an empty mask, which reads every field), and each
field the backend reports as required must be required by the contract: REQUIRED
(`google.api.field_behavior`) at every step of its path, or bound to the URL path of every
HTTP binding of the RPC.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import google.api.annotations_pb2 as annotations_pb2
import google.api.field_behavior_pb2 as field_behavior_pb2
import grpc
import pytest
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.rpc.error_details_pb2 import BadRequest

from hub import rules
from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.contracts.user.v1 import user_pb2
from tests.backends.support import bad_request

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub

METHODS = [
    *user_pb2.DESCRIPTOR.services_by_name["UserService"].methods,
    *mindmap_pb2.DESCRIPTOR.services_by_name["MindmapService"].methods,
]
_VARIABLE = re.compile(r"\{([\w.]+)")


def url_bound(method: MethodDescriptor) -> set[str]:
    """The fields that every HTTP binding of `method` takes from the URL path."""
    # googleapis-common-protos' stubs type the extension as a plain FieldDescriptor.
    extension: Any = annotations_pb2.http
    rule = method.GetOptions().Extensions[extension]
    bindings = [rule, *rule.additional_bindings]
    paths = [getattr(b, b.WhichOneof("pattern")) for b in bindings]
    return set.intersection(*(set(_VARIABLE.findall(path)) for path in paths))


def required_all_along(message: Descriptor, path: str) -> bool:
    """Whether every field on the dotted `path` from `message` is REQUIRED."""
    step: Descriptor | None = message
    for name in path.split("."):
        assert step is not None, f"{path} goes through a field that is not a message"
        field = step.fields_by_name[name]
        if field_behavior_pb2.REQUIRED not in rules.behaviors(field):
            return False
        step = field.message_type
    return True


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
async def test_an_empty_request_is_refused_only_for_fields_the_contract_requires(
    method: MethodDescriptor,
    users: UserServiceAsyncStub,
    mindmaps: MindmapServiceAsyncStub,
) -> None:
    stub: Any = users if method.containing_service.name == "UserService" else mindmaps
    module: Any = user_pb2 if stub is users else mindmap_pb2
    violations: list[BadRequest.FieldViolation] = []
    try:
        await getattr(stub, method.name)(getattr(module, method.input_type.name)())
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            violations = list(bad_request(error).field_violations)
    required = [v.field for v in violations if v.description == rules.REQUIRED_DESCRIPTION]
    assert len(violations) == len(required), "an empty request can only miss fields"
    bound = url_bound(method)
    assert [] == [
        path
        for path in required
        if path not in bound and not required_all_along(method.input_type, path)
    ]
