"""The domain errors: what can go wrong in a backend or its storage, independent of any wire.

Backends and storage raise these; `hub.backends.status` maps them to gRPC status with
`google.rpc` details, and nothing else translates them. Each error carries a stable,
machine-readable `reason` (UPPER_SNAKE_CASE, the `ErrorInfo.reason` on the wire) and a
message for people.
"""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN = "hub"
"""`ErrorInfo.domain` of every error hub reports, whichever layer reports it."""


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: `field` is a dotted path (`user.email`, `update_mask`)."""

    field: str
    description: str


class DomainError(Exception):
    """Base of the family. Never raised itself."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class InvalidArgument(DomainError):
    """The request is malformed, whatever the state of the system: one violation per field."""

    def __init__(
        self, violations: list[FieldViolation], *, reason: str = "INVALID_ARGUMENT"
    ) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        fields = ", ".join(v.field or "(the whole request)" for v in violations)
        super().__init__(f"invalid request: {fields}", reason=reason)
        self.violations = tuple(violations)


class NotFound(DomainError):
    """The named resource does not exist (`resource_type` is e.g. `hub.user.v1.User`)."""

    def __init__(self, resource_type: str, name: str, *, reason: str = "NOT_FOUND") -> None:
        super().__init__(f"{resource_type} {name!r} not found", reason=reason)
        self.resource_type = resource_type
        self.name = name


class AlreadyExists(DomainError):
    """A resource with the same unique key exists already."""

    def __init__(self, resource_type: str, name: str, message: str, *, reason: str) -> None:
        super().__init__(message, reason=reason)
        self.resource_type = resource_type
        self.name = name


class Aborted(DomainError):
    """A conditional write lost: the etag it carried is no longer current. Retry after a read."""

    def __init__(self, resource_type: str, name: str, *, reason: str = "ETAG_MISMATCH") -> None:
        super().__init__(
            f"{resource_type} {name!r} was changed concurrently; read it again and retry",
            reason=reason,
        )
        self.resource_type = resource_type
        self.name = name


class FailedPrecondition(DomainError):
    """The request is well formed but the system is not in a state that allows it."""

    def __init__(self, subject: str, description: str, *, reason: str) -> None:
        super().__init__(description, reason=reason)
        self.subject = subject
        self.description = description


class PermissionDenied(DomainError):
    """The caller may not do this (whether or not the resource exists: AIP-211)."""

    def __init__(self, message: str, *, reason: str = "PERMISSION_DENIED") -> None:
        super().__init__(message, reason=reason)


class Unavailable(DomainError):
    """A part the backend needs (its database) cannot be reached right now: the request may
    succeed if retried later. A write that fails so may or may not have been applied."""

    def __init__(self, message: str, *, reason: str = "STORAGE_UNAVAILABLE") -> None:
        super().__init__(message, reason=reason)
