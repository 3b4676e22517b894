"""The project's FileDescriptorSet (`hub/contracts/descriptors.binpb`): comments and a pool.

Generated Python modules drop the comments of the protos; `hub gen` keeps them in a
FileDescriptorSet written beside the generated code. This module reads that set and
offers two things made from it:
- `proto_comments`: the leading comment of every message, field, enum, enum value,
  service and method, by full name (`hub.user.v1.User.email`), for the OpenAPI
  descriptions;
- `descriptor_pool`: a fresh pool holding exactly the set's files, so that a tool can
  describe the protos as they are on disk (the OpenAPI export runs right after `hub gen`,
  when the already imported generated modules may be stale).
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor_pool import DescriptorPool

DESCRIPTOR_SET_RESOURCE = ("hub.contracts", "descriptors.binpb")

# Field numbers of the descriptor.proto messages, as they appear in SourceCodeInfo paths.
_FILE_MESSAGES, _FILE_ENUMS, _FILE_SERVICES = 4, 5, 6
_MESSAGE_FIELDS, _MESSAGE_NESTED, _MESSAGE_ENUMS = 2, 3, 4
_ENUM_VALUES = 2
_SERVICE_METHODS = 2


def read_descriptor_set(path: Path | None = None) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet at `path`, by default the one packaged in `hub.contracts`."""
    if path is None:
        package, name = DESCRIPTOR_SET_RESOURCE
        data = importlib.resources.files(package).joinpath(name).read_bytes()
    else:
        data = path.read_bytes()
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    descriptor_set.ParseFromString(data)
    return descriptor_set


def proto_comments(descriptor_set: descriptor_pb2.FileDescriptorSet) -> dict[str, str]:
    """The leading comment (else the trailing one) of every named element, by full name;
    enum values are named `<enum full name>.<VALUE>`. Elements without a comment are left
    out. Comment lines lose their common indentation; line breaks are kept."""
    comments: dict[str, str] = {}
    for file in descriptor_set.file:
        names = dict(_named_paths(file))
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            text = _clean(location.leading_comments or location.trailing_comments)
            if name is not None and text:
                comments[name] = text
    return comments


def descriptor_pool_of(descriptor_set: descriptor_pb2.FileDescriptorSet) -> DescriptorPool:
    """A new pool with the set's files. Files they import that the set leaves out (the
    well-known types, google/api) come from their generated modules in the default pool."""
    pool = descriptor_pool.DescriptorPool()
    files = {file.name: file for file in descriptor_set.file}
    added: set[str] = set()

    def add(name: str) -> None:
        if name in added:
            return
        added.add(name)
        proto = files.get(name) or _from_default_pool(name)
        for dependency in proto.dependency:
            add(dependency)
        pool.Add(proto)

    for name in files:
        add(name)
    return pool


def _from_default_pool(name: str) -> descriptor_pb2.FileDescriptorProto:
    """A dependency outside the set, from the default pool, where its generated module put
    it; a module not imported yet is imported by its name (`google/api/http.proto` is
    `google.api.http_pb2`)."""
    default = descriptor_pool.Default()
    try:
        found = default.FindFileByName(name)
    except KeyError:
        importlib.import_module(name.removesuffix(".proto").replace("/", ".") + "_pb2")
        found = default.FindFileByName(name)
    proto = descriptor_pb2.FileDescriptorProto()
    found.CopyToProto(proto)
    return proto


def _named_paths(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[tuple[int, ...], str]]:
    prefix = f"{file.package}." if file.package else ""
    for index, message in enumerate(file.message_type):
        yield from _message_paths(message, (_FILE_MESSAGES, index), prefix + message.name)
    for index, enum in enumerate(file.enum_type):
        yield from _enum_paths(enum, (_FILE_ENUMS, index), prefix + enum.name)
    for index, service in enumerate(file.service):
        path, name = (_FILE_SERVICES, index), prefix + service.name
        yield path, name
        for number, method in enumerate(service.method):
            yield (*path, _SERVICE_METHODS, number), f"{name}.{method.name}"


def _message_paths(
    message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], name: str
) -> Iterator[tuple[tuple[int, ...], str]]:
    yield path, name
    for index, field in enumerate(message.field):
        yield (*path, _MESSAGE_FIELDS, index), f"{name}.{field.name}"
    for index, nested in enumerate(message.nested_type):
        yield from _message_paths(nested, (*path, _MESSAGE_NESTED, index), f"{name}.{nested.name}")
    for index, enum in enumerate(message.enum_type):
        yield from _enum_paths(enum, (*path, _MESSAGE_ENUMS, index), f"{name}.{enum.name}")


def _enum_paths(
    enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], name: str
) -> Iterator[tuple[tuple[int, ...], str]]:
    yield path, name
    for index, value in enumerate(enum.value):
        yield (*path, _ENUM_VALUES, index), f"{name}.{value.name}"


def _clean(comment: str) -> str:
    lines = comment.strip("\n").split("\n")
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:].rstrip() for line in lines).strip()
