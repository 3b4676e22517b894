"""Around each operation: the document parsed, checked and cached; its errors coded.

`OperationGuard` is the one schema extension of the GraphQL front end. It hooks the
operation, parse and validation steps, never the resolvers (a `resolve` hook would wrap
every field):
- parse and validation run once per distinct document text: `Documents` keeps the parsed
  document and its validation errors (graphql-core's rules, strawberry's, and the limits
  of `limits.py`) in an LRU keyed by the text, which is what strawberry's `ParserCache` and
  `ValidationCache` do, with a cheaper key (the text, not the document tree);
- parse limits: `max_query_length` characters, `max_tokens` tokens (QUERY_TOO_LARGE), before
  anything else; a syntax error is GRAPHQL_PARSE_FAILED, a validation error without a code
  of its own GRAPHQL_VALIDATION_FAILED;
- after execution: a request error without a code (bad variables, an unknown operation
  name) is BAD_USER_INPUT; an error a resolver did not raise on purpose (anything but a
  `GraphQLFailure`) is masked as INTERNAL_SERVER_ERROR, after `HubSchema.process_errors`
  has logged it with its traceback.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ExecutionContext

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
)
from hub.frontends.graphql.errors import INTERNAL, INTERNAL_MESSAGE, GraphQLFailure

CACHE_SIZE = 1024
"""Distinct documents kept parsed and validated."""

_TOO_MANY_TOKENS = "Document contains more than"  # graphql-core's max_lexical_tokens error
_logger = logging.getLogger("hub.frontends.graphql")


@dataclass(frozen=True)
class Checked:
    """A document text, parsed (None if it did not parse) and validated."""

    document: DocumentNode | None
    errors: Sequence[GraphQLError]


class Documents:
    """Parsed and validated documents by text (LRU), and the parse limits."""

    def __init__(
        self,
        rules: Sequence[type[ASTValidationRule]],
        *,
        max_tokens: int,
        max_length: int,
        size: int = CACHE_SIZE,
    ) -> None:
        self.rules = (*specified_rules, *rules)
        self._max_tokens = max_tokens
        self._max_length = max_length
        self._size = size
        self._checked: OrderedDict[str, Checked] = OrderedDict()

    def check(self, query: str, schema: GraphQLSchema) -> Checked:
        """The parsed and validated `query` (cached unless it is over the length limit)."""
        if len(query) > self._max_length:
            error = _coded(
                f"the document is longer than {self._max_length} characters",
                "QUERY_TOO_LARGE",
                limit=self._max_length,
            )
            return Checked(None, [error])
        checked = self._checked.get(query)
        if checked is not None:
            self._checked.move_to_end(query)
            return checked
        checked = self._parse_and_validate(query, schema)
        self._checked[query] = checked
        if len(self._checked) > self._size:
            self._checked.popitem(last=False)
        return checked

    def _parse_and_validate(self, query: str, schema: GraphQLSchema) -> Checked:
        try:
            document = parse(
                query, max_lexical_tokens=self._max_tokens, max_comments=self._max_tokens
            )
        except GraphQLError as error:
            if _TOO_MANY_TOKENS in error.message:
                too_large = _coded(
                    f"the document has more than {self._max_tokens} tokens",
                    "QUERY_TOO_LARGE",
                    limit=self._max_tokens,
                )
                return Checked(None, [too_large])
            return Checked(None, [_with_code(error, "GRAPHQL_PARSE_FAILED")])
        errors = validate_document(schema, document, self.rules)
        return Checked(document, [_coded_once(e, "GRAPHQL_VALIDATION_FAILED") for e in errors])


class OperationGuard(SchemaExtension):
    """Caches and checks documents, codes and masks errors (see the module docstring)."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self._documents = documents
        self._checked: Checked | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            self._checked = self._documents.check(context.query, context.schema._schema)
        yield
        result = context.result
        if result is not None and result.errors:
            request_error = result.data is None
            result.errors = [_shaped(error, request_error) for error in result.errors]

    def on_parse(self) -> Iterator[None]:
        checked = self._checked
        if checked is not None:
            if checked.document is None:
                error = checked.errors[0]  # raised as a copy: a cached one would gather tracebacks
                raise _copy(error, error.message, dict(error.extensions or {}))
            self.execution_context.graphql_document = checked.document
        yield

    def on_validate(self) -> Iterator[None]:
        checked = self._checked
        if checked is not None:
            self.execution_context.pre_execution_errors = list(checked.errors)
        yield


def unexpected(error: GraphQLError) -> bool:
    """Whether `error` comes from an exception no resolver raised on purpose."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLFailure | GraphQLError)


def log_unexpected(errors: Sequence[GraphQLError], context: ExecutionContext | None) -> None:
    """Logs each unexpected error with its traceback (the client sees it masked)."""
    for error in errors:
        if unexpected(error):
            operation = context.operation_name if context is not None else None
            _logger.error(
                "GraphQL resolver failed at %s (operation %s)",
                ".".join(map(str, error.path or ())),
                operation or "anonymous",
                exc_info=error.original_error,
            )


def _coded_once(error: GraphQLError, code: str) -> GraphQLError:
    """`error` with `code` unless it has a code of its own (the limits do)."""
    return error if "code" in (error.extensions or {}) else _with_code(error, code)


def _shaped(error: GraphQLError, request_error: bool) -> GraphQLError:
    if "code" in (error.extensions or {}):
        return error
    if unexpected(error):
        return _copy(error, INTERNAL_MESSAGE, {"code": INTERNAL})
    if request_error and error.path is None:
        return _with_code(error, "BAD_USER_INPUT")
    return _with_code(error, INTERNAL)


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    return _copy(error, error.message, {**(error.extensions or {}), "code": code})


def _copy(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions=extensions,
    )


def _coded(message: str, code: str, **extensions: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})
