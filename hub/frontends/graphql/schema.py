"""The GraphQL schema of the hub, built from the settings' limits.

`build_schema` is what both the app and the SDL export (`export.py`) use, so the exported
document is the live schema. The settings change no type, only the checks around it:
the document limits, introspection (off also hides "did you mean" field suggestions, which
would leak the schema), and how many operations one batched request may hold.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext
from typing_extensions import override

from graphql import GraphQLError
from hub.config import GraphQL as GraphQLSettings
from hub.frontends.graphql.documents import Documents, OperationGuard, log_unexpected
from hub.frontends.graphql.limits import Limits, limit_rules
from hub.frontends.graphql.mutations import Mutation
from hub.frontends.graphql.resolvers import Query
from hub.frontends.graphql.subscriptions import EVENT_TYPES, Subscription


class HubSchema(strawberry.Schema):
    """strawberry's schema, logging only the errors that clients see masked."""

    @override
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors, execution_context)


def build_schema(settings: GraphQLSettings, *, introspection: bool) -> HubSchema:
    """The schema with the limits of `settings` (see `limits.py`) and `introspection`."""
    limits = Limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_cost=settings.max_cost,
        introspection=introspection,
    )
    documents = Documents(
        limit_rules(limits), max_tokens=settings.max_tokens, max_length=settings.max_query_length
    )
    extensions: Sequence[type[OperationGuard] | functools.partial[OperationGuard]] = [
        functools.partial(OperationGuard, documents)
    ]
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=EVENT_TYPES,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=not introspection,
            batching_config={"max_operations": settings.max_batch},
        ),
    )
