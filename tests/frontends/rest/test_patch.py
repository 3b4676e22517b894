"""PATCH as a partial update through a real hub: the body names what changes, everything
else stays; a field that cannot change (a mindmap's owner) is refused, not ignored."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.testing import running_hub

ROUTES = [
    {"path": "/api/v1/users", "service": "user-service", "methods": ["GET", "POST", "PATCH"]},
    {"path": "/api/v1/mindmaps", "service": "mindmap-service", "methods": ["POST", "PATCH"]},
]


async def test_a_patch_changes_only_the_fields_its_body_names(tmp_path: Path) -> None:
    async with (
        running_hub(tmp_path, api_gateway={"routes": ROUTES}) as hub,
        httpx.AsyncClient(base_url=hub.http_url) as http,
    ):
        created = await http.post(
            "/api/v1/users", json={"email": "ada@example.com", "displayName": "Ada"}
        )
        user_id = created.json()["id"]
        patched = await http.patch(f"/api/v1/users/{user_id}", json={"displayName": "Ada L."})
        mindmap = await http.post("/api/v1/mindmaps", json={"ownerId": user_id, "title": "Plans"})
        moved = await http.patch(
            f"/api/v1/mindmaps/{mindmap.json()['id']}", json={"ownerId": "someone-else"}
        )

    assert 200 == patched.status_code, patched.text
    assert ("Ada L.", "ada@example.com", "PLAN_FREE") == (
        patched.json()["displayName"],
        patched.json()["email"],
        patched.json()["plan"],
    )
    assert 400 == moved.status_code
    # (the backend names the field by its proto path)
    assert ["update_mask"] == [v["field"] for v in moved.json()["fieldViolations"]]
