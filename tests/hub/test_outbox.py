"""The hub's outbox for modules' notifications (hub.actions.notify_later):
queued in the module's transaction, sent by the hub's worker when due — not at
all for a transaction that rolled back, once however often it is sent."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from litestar import Litestar

from core.actions import tenant_id_for
from core.clock import FixedClock
from core.db import Database
from hub.actions import notify_later
from hub.model import ModuleEvent, PersonSel
from tests.conftest import TEST_NOW
from tests.family import FAMILY
from tests.hub.helpers import headers, key


async def subjects(client: httpx.AsyncClient, who: str) -> list[str]:
    r = await client.get("/v1/inbox?limit=500", headers=await headers(client, who))
    return [i["message"]["subject"] for i in r.json()["items"]]


async def test_outbox(
    client: httpx.AsyncClient,
    app: Litestar,
    db: Database,
    family: dict[str, UUID],
    clock: FixedClock,
) -> None:
    tenant = tenant_id_for(FAMILY)
    kept = ModuleEvent(
        idempotency_key=key("outbox"),
        source="testmodule",
        audience=PersonSel(id=family["g1"]),
        subject="Ulkoa: säilyy",
    )
    lost = ModuleEvent(
        idempotency_key=key("outbox"),
        source="testmodule",
        audience=PersonSel(id=family["g1"]),
        subject="Ulkoa: perutaan",
    )
    due = TEST_NOW + timedelta(seconds=30)
    async with db.tenant(tenant) as conn:
        await notify_later(conn, tenant, [kept], due)
    with pytest.raises(RuntimeError):
        async with db.tenant(tenant) as conn:
            await notify_later(conn, tenant, [lost], due)
            raise RuntimeError("the module's transaction fails")
    assert "Ulkoa: säilyy" not in await subjects(client, "g1")  # not due yet
    clock.advance(timedelta(minutes=1))
    try:
        while await app.state["delivery"].run_due():
            pass
        await app.state["hub"].notify(tenant, kept)  # the fast path, after the fact
    finally:
        clock.set(TEST_NOW)
    got = await subjects(client, "g1")
    assert got.count("Ulkoa: säilyy") == 1 and "Ulkoa: perutaan" not in got
