"""Read results shared by both services: one resource by id, and batches in request order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from hub.errors import NotFound

T = TypeVar("T")


def one(found: Mapping[str, T], resource_type: str, resource_id: str) -> T:
    """The resource `resource_id` among `found`; `NotFound` if it is not there."""
    if resource_id not in found:
        raise NotFound(resource_type, resource_id)
    return found[resource_id]


def in_request_order(ids: Sequence[str], found: Mapping[str, T]) -> tuple[list[T], list[str]]:
    """The found resources in the order of `ids` and the ids not found, also in that order;
    an id asked twice appears twice (in either list)."""
    resources = [found[i] for i in ids if i in found]
    missing = [i for i in ids if i not in found]
    return resources, missing
