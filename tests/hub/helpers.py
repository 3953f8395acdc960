"""Helpers of the hub tests: send as someone of the `perhe` tenant, and see who got what."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import httpx

from core import actions
from core.db import Database
from tests.conftest import login
from tests.family import FAMILY

_keys = itertools.count()


def key(prefix: str = "k") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}-{id(_keys)}"


async def headers(client: httpx.AsyncClient, who: str) -> dict[str, str]:
    return await login(client, f"{who}@{FAMILY}")


async def send(
    client: httpx.AsyncClient, who: str, audience: dict[str, Any], **fields: Any
) -> httpx.Response:
    body = {
        "idempotency_key": key(),
        "subject": "Tiedote",
        "body": "Hei!",
        "audience": audience,
        **fields,
    }
    return await client.post("/v1/messages", json=body, headers=await headers(client, who))


async def recipients(db: Database, message_id: str | UUID) -> dict[str, list[str]]:
    """external id of each recipient -> external ids of the learners it is for."""
    async with db.tenant(actions.tenant_id_for(FAMILY)) as conn:
        rows = await conn.fetch(
            "SELECT p.external_id, array(SELECT l.external_id FROM persons l "
            "WHERE l.id = ANY(i.for_learners) ORDER BY 1) AS fl "
            "FROM inbox i JOIN persons p ON p.id = i.person_id WHERE i.message_id = $1",
            UUID(str(message_id)),
        )
    return {r["external_id"]: list(r["fl"]) for r in rows}
