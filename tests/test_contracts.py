"""The contracts in proto/ keep the rules the front ends rely on.

buf lint passes; the vendored google/api protos are the ones the installed
googleapis-common-protos wheel ships (the generated code links against that wheel's
modules, so the two must not drift apart); every RPC of the backend services has a REST
mapping under its service's gateway route (SPEC §1), and the event service, a stream served
by the front end itself, has none; buf.yaml is a v2 workspace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import pytest
import yaml
from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from hub.codegen import THIRD_PARTY_ROOT
from hub.contracts.events.v1 import events_pb2
from hub.contracts.mindmap.v1 import mindmap_pb2
from hub.contracts.user.v1 import user_pb2

ROOT = Path(__file__).resolve().parent.parent
VENDORED_GOOGLE_API = ROOT / THIRD_PARTY_ROOT / "google" / "api"


def buf_executable() -> str | None:
    """buf as `npm ci` installs it (package.json), else one on PATH."""
    local = ROOT / "node_modules" / ".bin" / "buf"
    return str(local) if local.exists() else shutil.which("buf")


def test_buf_lint_passes() -> None:
    """`buf lint` finds nothing in the workspace (exit code 100 would mean findings)."""
    buf = buf_executable()
    if buf is None:
        if os.environ.get("CI") == "true":
            pytest.fail("buf is not installed: CI must run `npm ci` first (see .ci/run)")
        pytest.skip("buf is not installed: run `npm ci` to install it from package.json")
    result = subprocess.run([buf, "lint"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert (0, "") == (result.returncode, result.stdout + result.stderr)


@pytest.mark.parametrize(
    "vendored",
    sorted(VENDORED_GOOGLE_API.glob("*.proto")),
    ids=lambda path: path.name,
)
def test_vendored_google_api_proto_equals_the_wheel_copy(vendored: Path) -> None:
    """third_party/googleapis holds byte-exact copies of googleapis-common-protos' protos."""
    wheel = distribution("googleapis-common-protos")
    shipped = Path(str(wheel.locate_file(f"google/api/{vendored.name}")))
    assert shipped.read_bytes() == vendored.read_bytes(), (
        f"{vendored.relative_to(ROOT)} differs from the copy in googleapis-common-protos "
        f"{wheel.version}. Refresh it with `cp {shipped} {vendored.relative_to(ROOT)}`, "
        "then run `buf lint`, `hub gen` and the tests, and commit both."
    )


def test_google_api_protos_are_vendored() -> None:
    """The protos our contracts import from google/api are in third_party (buf needs them)."""
    expected = {"annotations.proto", "field_behavior.proto", "http.proto"}
    assert expected == {path.name for path in VENDORED_GOOGLE_API.glob("*.proto")}


def http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """The method's `google.api.http` option, if it has one."""
    for field, value in method.GetOptions().ListFields():
        if field.full_name == annotations_pb2.http.full_name:
            rule: http_pb2.HttpRule = value
            return rule
    return None


def http_paths(rule: http_pb2.HttpRule) -> list[str]:
    """The URL paths of a rule and of its additional bindings."""
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        own = []
    elif pattern == "custom":
        own = [rule.custom.path]
    else:
        own = [getattr(rule, pattern)]
    return own + [path for extra in rule.additional_bindings for path in http_paths(extra)]


@pytest.mark.parametrize(
    ("service", "route"),
    [
        (user_pb2.DESCRIPTOR.services_by_name["UserService"], "/api/v1/users"),
        (mindmap_pb2.DESCRIPTOR.services_by_name["MindmapService"], "/api/v1/mindmaps"),
    ],
    ids=["UserService", "MindmapService"],
)
def test_every_rpc_is_mapped_under_its_gateway_route(
    service: ServiceDescriptor, route: str
) -> None:
    """Each method has a google.api.http option whose paths all lie under the route."""
    unmapped = []
    for method in service.methods:
        rule = http_rule(method)
        paths = [] if rule is None else http_paths(rule)
        if not paths or not all(
            p == route or p.startswith((f"{route}/", f"{route}:")) for p in paths
        ):
            unmapped.append(f"{method.name}: {paths}")
    assert [] == unmapped


def test_the_contracts_define_the_backend_services_and_the_event_service() -> None:
    """The services are the two backends' (REST-mapped above) and EventService."""
    services = [
        service.full_name
        for module in (events_pb2, mindmap_pb2, user_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
    ]
    assert [
        "hub.events.v1.EventService",
        "hub.mindmap.v1.MindmapService",
        "hub.user.v1.UserService",
    ] == services


def test_event_service_streams_and_has_no_rest_mapping() -> None:
    """WatchEvents streams its responses, so it has no google.api.http rule to transcode
    (its HTTP counterpart is the WebSocket endpoint)."""
    methods = events_pb2.DESCRIPTOR.services_by_name["EventService"].methods
    assert [("WatchEvents", False, True, None)] == [
        (m.name, m.client_streaming, m.server_streaming, http_rule(m)) for m in methods
    ]


def test_buf_yaml_is_a_v2_workspace() -> None:
    """buf.yaml uses config v2, where modules are listed (proto and third_party/googleapis)."""
    config = yaml.safe_load((ROOT / "buf.yaml").read_text())
    assert ("v2", ["proto", "third_party/googleapis"]) == (
        config["version"],
        [module["path"] for module in config["modules"]],
    )
