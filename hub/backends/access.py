"""Authorization in the backends: who may read and change what.

A user (a principal without the `admin` role) reads and changes only their own profile and
their own mindmaps; an admin may do anything; listing every user is for admins. A call
without a principal is not restricted here: the gateway let it through, either because
authentication is off or because its configuration opens that RPC to anonymous callers.

Refusals are `PermissionDenied` (PERMISSION_DENIED). As AIP-211 asks, a user asking for a
mindmap they may not see is refused whether or not it exists, so that ids cannot be probed.
"""

from __future__ import annotations

from hub.backends.events import Origin
from hub.errors import PermissionDenied


def restricted(origin: Origin) -> bool:
    """Whether the caller is a principal limited to their own data."""
    return origin.principal is not None and not origin.principal.admin


def require_user(origin: Origin, user_id: str, action: str) -> None:
    """Lets the call act on user `user_id`'s data, or raises `PermissionDenied`."""
    if restricted(origin) and origin.actor != user_id:
        raise PermissionDenied(f"{origin.actor!r} may not {action} of another user")


def require_admin(origin: Origin, action: str) -> None:
    """Lets only an admin (or an anonymous call the gateway let through) do `action`."""
    if restricted(origin):
        raise PermissionDenied(f"only an admin may {action}")


def hidden(origin: Origin, what: str) -> PermissionDenied:
    """The refusal of a resource the caller may not see, or that does not exist."""
    return PermissionDenied(f"{origin.actor!r} may not access {what}")
