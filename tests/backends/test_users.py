"""UserService over a real server and SQLite file: what each RPC does when it succeeds."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from hub.contracts.mindmap.v1.mindmap_pb2 import (
    CreateMindmapRequest,
    DeleteMindmapRequest,
    Mindmap,
)
from hub.contracts.user.v1.user_pb2 import (
    BatchGetUsersRequest,
    CreateUserRequest,
    DeleteUserRequest,
    GetUserRequest,
    ListUsersRequest,
    Plan,
    UpdateUserRequest,
    User,
)

if TYPE_CHECKING:
    from hub.contracts.mindmap.v1.mindmap_pb2_grpc import MindmapServiceAsyncStub
    from hub.contracts.user.v1.user_pb2_grpc import UserServiceAsyncStub


async def create(users: UserServiceAsyncStub, name: str) -> User:
    """A new user `name` with email `name@example.com`."""
    request = CreateUserRequest(user=User(email=f"{name}@example.com", display_name=name))
    return (await users.CreateUser(request)).user


async def test_create_assigns_id_times_etag_and_the_free_plan(users: UserServiceAsyncStub) -> None:
    user = await create(users, "ada")
    assert str(uuid.UUID(user.id)) == user.id
    assert ("ada@example.com", "ada", Plan.PLAN_FREE) == (user.email, user.display_name, user.plan)
    assert user.create_time == user.update_time
    assert user.create_time.seconds > 0
    assert user.etag


async def test_create_ignores_output_only_fields_and_strips_email_and_name(
    users: UserServiceAsyncStub,
) -> None:
    """Output-only fields are ignored, even an id that breaks its rules (max 64)."""
    request = CreateUserRequest(
        user=User(
            id="chosen-by-client" * 100,
            email=" Ada.Lovelace@Example.COM\t",
            display_name="  Ada  ",
            plan=Plan.PLAN_TEAM,
            create_time=Timestamp(seconds=1),
            update_time=Timestamp(seconds=2),
            etag="client-etag",
        )
    )
    user = (await users.CreateUser(request)).user
    assert str(uuid.UUID(user.id)) == user.id
    assert user.etag != "client-etag"
    assert user.create_time.seconds > 2
    assert ("Ada.Lovelace@Example.COM", "Ada", Plan.PLAN_TEAM) == (
        user.email,
        user.display_name,
        user.plan,
    )


async def test_get_returns_the_stored_user(users: UserServiceAsyncStub) -> None:
    user = await create(users, "ada")
    assert user == (await users.GetUser(GetUserRequest(id=user.id))).user


async def test_batch_get_keeps_request_order_and_duplicates_and_lists_missing_ids(
    users: UserServiceAsyncStub,
) -> None:
    ada, bob = await create(users, "ada"), await create(users, "bob")
    ids = [bob.id, "missing-1", ada.id, bob.id, "missing-2", "missing-1"]
    response = await users.BatchGetUsers(BatchGetUsersRequest(ids=ids))
    assert [bob, ada, bob] == list(response.users)
    assert ["missing-1", "missing-2", "missing-1"] == list(response.missing_ids)


async def test_batch_get_takes_up_to_1000_ids(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    response = await users.BatchGetUsers(BatchGetUsersRequest(ids=[ada.id] * 1000))
    assert 1000 == len(response.users)


async def test_list_pages_through_all_users_oldest_first(users: UserServiceAsyncStub) -> None:
    created = [await create(users, f"user{i}") for i in range(5)]
    pages: list[list[User]] = []
    token = ""
    while True:
        page = await users.ListUsers(ListUsersRequest(page_size=2, page_token=token))
        pages.append(list(page.users))
        token = page.next_page_token
        if not token:
            break
    assert [2, 2, 1] == [len(p) for p in pages]
    assert created == [user for p in pages for user in p]


async def test_list_with_page_size_zero_uses_the_default_of_50(
    users: UserServiceAsyncStub,
) -> None:
    created = [await create(users, f"user{i}") for i in range(51)]
    first = await users.ListUsers(ListUsersRequest())
    assert created[:50] == list(first.users)
    second = await users.ListUsers(ListUsersRequest(page_token=first.next_page_token))
    assert (created[50:], "") == (list(second.users), second.next_page_token)


async def test_list_of_nothing_is_one_empty_last_page(users: UserServiceAsyncStub) -> None:
    page = await users.ListUsers(ListUsersRequest(page_size=3))
    assert ([], "") == (list(page.users), page.next_page_token)


async def test_update_changes_only_the_masked_fields(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    request = UpdateUserRequest(
        user=User(
            id=ada.id, email="ignored@example.com", display_name=" Ada L. ", plan=Plan.PLAN_TEAM
        ),
        update_mask=FieldMask(paths=["display_name"]),
    )
    updated = (await users.UpdateUser(request)).user
    assert ("ada@example.com", "Ada L.", Plan.PLAN_FREE) == (
        updated.email,
        updated.display_name,
        updated.plan,
    )
    assert ada.create_time == updated.create_time
    assert updated.update_time.ToNanoseconds() >= ada.update_time.ToNanoseconds()
    assert ada.etag != updated.etag
    assert updated == (await users.GetUser(GetUserRequest(id=ada.id))).user


@pytest.mark.parametrize("paths", [[], ["*"]])
async def test_update_with_an_empty_or_star_mask_replaces_all_fields(
    users: UserServiceAsyncStub, paths: list[str]
) -> None:
    ada = await create(users, "ada")
    request = UpdateUserRequest(
        user=User(id=ada.id, email="ADA@example.org", display_name="A", plan=Plan.PLAN_PRO),
        update_mask=FieldMask(paths=paths),
    )
    updated = (await users.UpdateUser(request)).user
    assert ("ADA@example.org", "A", Plan.PLAN_PRO) == (
        updated.email,
        updated.display_name,
        updated.plan,
    )


async def test_update_may_change_the_case_of_the_own_email(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    request = UpdateUserRequest(
        user=User(id=ada.id, email="ADA@EXAMPLE.COM"), update_mask=FieldMask(paths=["email"])
    )
    assert "ADA@EXAMPLE.COM" == (await users.UpdateUser(request)).user.email


async def test_update_strips_email_and_name(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    request = UpdateUserRequest(
        user=User(id=ada.id, email="\tada@example.org ", display_name="\nAda "),
        update_mask=FieldMask(paths=["email", "display_name"]),
    )
    updated = (await users.UpdateUser(request)).user
    assert ("ada@example.org", "Ada") == (updated.email, updated.display_name)


async def test_update_to_plan_unspecified_means_free(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    for plan, stored in [(Plan.PLAN_TEAM, Plan.PLAN_TEAM), (Plan.PLAN_UNSPECIFIED, Plan.PLAN_FREE)]:
        request = UpdateUserRequest(
            user=User(id=ada.id, plan=plan), update_mask=FieldMask(paths=["plan"])
        )
        assert stored == (await users.UpdateUser(request)).user.plan


async def test_update_with_the_current_etag_applies(users: UserServiceAsyncStub) -> None:
    ada = await create(users, "ada")
    request = UpdateUserRequest(
        user=User(id=ada.id, plan=Plan.PLAN_PRO, etag=ada.etag),
        update_mask=FieldMask(paths=["plan"]),
    )
    assert Plan.PLAN_PRO == (await users.UpdateUser(request)).user.plan


async def test_delete_removes_the_user(users: UserServiceAsyncStub) -> None:
    ada, bob = await create(users, "ada"), await create(users, "bob")
    await users.DeleteUser(DeleteUserRequest(id=ada.id))
    await users.DeleteUser(DeleteUserRequest(id=bob.id, etag=bob.etag))
    for user in (ada, bob):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await users.GetUser(GetUserRequest(id=user.id))
        assert grpc.StatusCode.NOT_FOUND == raised.value.code()


async def test_a_user_can_be_deleted_once_their_mindmaps_are_gone(
    users: UserServiceAsyncStub, mindmaps: MindmapServiceAsyncStub
) -> None:
    ada = await create(users, "ada")
    mindmap = (
        await mindmaps.CreateMindmap(
            CreateMindmapRequest(mindmap=Mindmap(owner_id=ada.id, title="Plans"))
        )
    ).mindmap
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await users.DeleteUser(DeleteUserRequest(id=ada.id))
    assert grpc.StatusCode.FAILED_PRECONDITION == raised.value.code()
    await mindmaps.DeleteMindmap(DeleteMindmapRequest(id=mindmap.id))
    await users.DeleteUser(DeleteUserRequest(id=ada.id))
