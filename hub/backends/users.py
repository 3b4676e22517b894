"""`UserService`: the servicer of `hub.user.v1.UserService` over a `Store`.

Each RPC validates its whole request first (`validation`), then reads or writes through the
store; every write carries its one domain event (`events`). Conditional writes follow
`writes.conditional_write`: an etag in the request must match (else ABORTED); without one
the write applies to the latest version. Emails are kept as given and unique ignoring case
(ALREADY_EXISTS, reason EMAIL_TAKEN); a user who owns mindmaps cannot be deleted
(FAILED_PRECONDITION, reason USER_HAS_MINDMAPS). Output-only fields (id, times) in requests
are ignored.
"""

from __future__ import annotations

import uuid

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from typing_extensions import override

from hub import rules
from hub.backends import access, pagination, reads, validation
from hub.backends.events import Origin, Payload, event, origin_of
from hub.backends.status import Context, rpc
from hub.backends.validation import Violations
from hub.backends.writes import conditional_write, new_etag, now
from hub.contracts.events.v1.events_pb2 import Event, UserCreated, UserDeleted, UserUpdated
from hub.contracts.user.v1 import user_pb2_grpc
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    BatchGetUsersResponse,
    CreateUserRequest,
    CreateUserResponse,
    DeleteUserRequest,
    DeleteUserResponse,
    GetUserRequest,
    GetUserResponse,
    ListUsersRequest,
    ListUsersResponse,
    UpdateUserRequest,
    UpdateUserResponse,
    User,
)
from hub.storage.store import Store
from hub.subjects import user_subject

USER_TYPE = User.DESCRIPTOR.full_name


class UserService(user_pb2_grpc.UserServiceServicer):
    """Creates, reads, lists, updates and deletes users stored in `store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @override
    @rpc
    async def CreateUser(self, request: CreateUserRequest, context: Context) -> CreateUserResponse:
        validation.check(request, required=("user.email", "user.display_name"))
        fields = request.user
        time = now()
        user = User(
            id=str(uuid.uuid4()),
            email=fields.email.strip(),
            display_name=fields.display_name.strip(),
            plan=validation.plan(fields.plan),
            create_time=time,
            update_time=time,
            etag=new_etag(),
        )
        await self._store.insert_user(
            user, _event(UserCreated(user=user), user.id, time, origin_of(context))
        )
        return CreateUserResponse(user=user)

    @override
    @rpc
    async def GetUser(self, request: GetUserRequest, context: Context) -> GetUserResponse:
        validation.check(request, required=("id",))
        access.require_user(origin_of(context), request.id, "read the profile")
        return GetUserResponse(user=await self._get(request.id))

    @override
    @rpc
    async def BatchGetUsers(
        self, request: BatchGetUsersRequest, context: Context
    ) -> BatchGetUsersResponse:
        validation.check(request, required=("ids",))
        origin = origin_of(context)
        for user_id in request.ids:
            access.require_user(origin, user_id, "read the profile")
        found = await self._store.get_users(sorted(set(request.ids)))
        users, missing = reads.in_request_order(request.ids, found)
        return BatchGetUsersResponse(users=users, missing_ids=missing)

    @override
    @rpc
    async def ListUsers(self, request: ListUsersRequest, context: Context) -> ListUsersResponse:
        access.require_admin(origin_of(context), "list every user")
        v = Violations()
        v.check(request)
        list_key = pagination.fingerprint("users")
        after = pagination.after_seq(v, "page_token", request.page_token, list_key)
        v.raise_if_any()
        size = pagination.page_size(request.page_size)
        rows = await self._store.list_users(after, size + 1)
        users, next_token = pagination.page(rows, size, list_key)
        return ListUsersResponse(users=users, next_page_token=next_token)

    @override
    @rpc
    async def UpdateUser(self, request: UpdateUserRequest, context: Context) -> UpdateUserResponse:
        paths = rules.mask_selection(request, "update_mask")
        validation.check(request, required=("user.id", *(f"user.{path}" for path in paths)))
        fields = request.user
        user_id = fields.id
        changes = User(  # the mask picks which of these apply
            email=fields.email.strip(),
            display_name=fields.display_name.strip(),
            plan=validation.plan(fields.plan),
        )
        mask = FieldMask(paths=paths)
        origin = origin_of(context)
        access.require_user(origin, user_id, "change the profile")

        async def write(current: User) -> User:
            time = now()
            updated = User()
            updated.CopyFrom(current)
            mask.MergeMessage(changes, updated)
            updated.update_time.CopyFrom(time)
            updated.etag = new_etag()
            payload = UserUpdated(user=updated, update_mask=mask, previous_plan=current.plan)
            await self._store.update_user(
                updated, current.etag, _event(payload, user_id, time, origin)
            )
            return updated

        user = await conditional_write(
            resource_type=USER_TYPE,
            name=user_id,
            etag=request.user.etag,
            read=lambda: self._get(user_id),
            write=write,
        )
        return UpdateUserResponse(user=user)

    @override
    @rpc
    async def DeleteUser(self, request: DeleteUserRequest, context: Context) -> DeleteUserResponse:
        validation.check(request, required=("id",))
        user_id = request.id
        origin = origin_of(context)
        access.require_user(origin, user_id, "delete the profile")

        async def write(current: User) -> None:
            payload = UserDeleted(user_id=user_id)
            await self._store.delete_user(
                user_id, current.etag, _event(payload, user_id, now(), origin)
            )

        await conditional_write(
            resource_type=USER_TYPE,
            name=user_id,
            etag=request.etag,
            read=lambda: self._get(user_id),
            write=write,
        )
        return DeleteUserResponse()

    async def _get(self, user_id: str) -> User:
        return reads.one(await self._store.get_users([user_id]), USER_TYPE, user_id)


def _event(payload: Payload, user_id: str, time: Timestamp, origin: Origin) -> Event:
    """The event of a write to the user `user_id`, who owns it."""
    return event(payload, time=time, subject=user_subject(user_id), owner_id=user_id, origin=origin)
