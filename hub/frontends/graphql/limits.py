"""Limits on what one GraphQL document may ask for, checked as validation rules.

They run once per document text, with graphql-core's own validation, and their verdict is
cached with it (`documents.py`), so no resolver runs for a document over a limit and a
document under every limit pays nothing more on its next request. Each rejection is a
GraphQL error whose `extensions.code` names the limit, with `extensions.limit`:

- QUERY_TOO_DEEP: fields nested deeper than `max_depth` (fragments expanded);
- TOO_MANY_ALIASES: more than `max_aliases` aliased fields (fragments expanded);
- QUERY_TOO_COMPLEX: an estimated cost over `max_cost`. Like graphql-armor's cost limit, a
  leaf field costs 1 and an object field 2, but each is counted once per item it is
  expected to run for: below a field with a `first` argument everything is multiplied by
  that page size (its default when left out, `VARIABLE_PAGE_ESTIMATE` when it is a
  variable without a default), so `users(first: 100) { edges { node { id } } }` costs
  2 + 100 * (2 + 2 + 1).
- INTROSPECTION_DISABLED: `__schema` or `__type` while introspection is off.

Introspection fields are not counted (as in graphql-armor), except `__typename`, which
counts as a leaf so that no document can make the walk long without paying for it. The
walk stops as soon as a limit is passed, so measuring costs at most `max_cost` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

OBJECT_COST = 2
LEAF_COST = 1
VARIABLE_PAGE_ESTIMATE = 100
"""Page size assumed for `first: $variable` (validation runs before variables are known)."""
_INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Limits:
    """The document limits in force (from `Settings.graphql`)."""

    max_depth: int
    max_aliases: int
    max_cost: int
    introspection: bool


class _OverLimit(Exception):
    """Stops the walk: a limit is passed."""

    def __init__(self, error: GraphQLError) -> None:
        self.error = error


def limit_error(message: str, code: str, limit: int) -> GraphQLError:
    """A rejection of the whole document, coded."""
    return GraphQLError(message, extensions={"code": code, "limit": limit})


class _Walk:
    """Measures one operation: depth, aliases and cost, stopping at the first limit passed."""

    def __init__(
        self,
        limits: Limits,
        fragments: dict[str, FragmentDefinitionNode],
        context: ValidationContext,
        operation: OperationDefinitionNode,
    ) -> None:
        self._limits = limits
        self._fragments = fragments
        self._schema = context.schema
        self._defaults = {
            d.variable.name.value: d.default_value
            for d in operation.variable_definitions or ()
            if isinstance(d.default_value, IntValueNode)
        }
        self.aliases = 0
        self.cost = 0

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        depth: int,
        multiplier: int,
        spread: frozenset[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, parent, depth, multiplier, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._schema.get_type(condition.name.value) if condition else parent
                self.selections(selection.selection_set, inner, depth, multiplier, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragments.get(name)
                if fragment is None or name in spread:  # other rules report these
                    continue
                inner = self._schema.get_type(fragment.type_condition.name.value)
                self.selections(fragment.selection_set, inner, depth, multiplier, spread | {name})

    def _field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        depth: int,
        multiplier: int,
        spread: frozenset[str],
    ) -> None:
        name = node.name.value
        if name in _INTROSPECTION:
            return
        limits = self._limits
        if node.alias is not None:
            self.aliases += 1
            if self.aliases > limits.max_aliases:
                raise _OverLimit(
                    limit_error(
                        f"the document has more than {limits.max_aliases} aliases",
                        "TOO_MANY_ALIASES",
                        limits.max_aliases,
                    )
                )
        if depth + 1 > limits.max_depth:
            raise _OverLimit(
                limit_error(
                    f"the operation nests fields deeper than {limits.max_depth} levels",
                    "QUERY_TOO_DEEP",
                    limits.max_depth,
                )
            )
        self.cost += (OBJECT_COST if node.selection_set else LEAF_COST) * multiplier
        if self.cost > limits.max_cost:
            raise _OverLimit(
                limit_error(
                    f"the operation's estimated cost is over the limit of {limits.max_cost}",
                    "QUERY_TOO_COMPLEX",
                    limits.max_cost,
                )
            )
        if node.selection_set is None:
            return
        definition = _field_definition(parent, name)
        inner = get_named_type(definition.type) if definition is not None else None
        page = self._page(node, definition)
        self.selections(node.selection_set, inner, depth + 1, multiplier * page, spread)

    def _page(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """How many items the field's `first` asks for (1 for a field without one)."""
        if definition is None or "first" not in definition.args:
            return 1
        given: Any = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        if isinstance(given, VariableNode):
            given = self._defaults.get(given.name.value)
            if given is None:
                return VARIABLE_PAGE_ESTIMATE
        if isinstance(given, IntValueNode):
            return max(1, int(given.value))
        default = definition.args["first"].default_value
        return max(1, default) if isinstance(default, int) else VARIABLE_PAGE_ESTIMATE


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def limit_rules(limits: Limits) -> tuple[type[ValidationRule], ...]:
    """The validation rules enforcing `limits`: built once per schema, so that validation
    results stay cacheable (the rules are part of the cache key)."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                root = context.schema.get_root_type(definition.operation)
                walk = _Walk(limits, fragments, context, definition)
                try:
                    walk.selections(definition.selection_set, root, 0, 1, frozenset())
                except _OverLimit as over:
                    context.report_error(over.error)

    rules: list[type[ValidationRule]] = [DocumentLimits]
    if not limits.introspection:
        rules.append(NoIntrospection)
    return tuple(rules)


class NoIntrospection(ValidationRule):
    """Refuses `__schema` and `__type` (introspection turned off)."""

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in _INTROSPECTION:
            self.report_error(
                GraphQLError(
                    "introspection is disabled on this server",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )
