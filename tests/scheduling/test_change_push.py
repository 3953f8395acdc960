"""Change notices on phones: the hub's delivery ladder with the local push
service that checks VAPID and decrypts every payload. A change for tomorrow
is superseded by a second one before anyone reads it: when the push falls
due, each affected person's phone gets one push — the current notice, with
`Urgency: high` — and the superseded notice is never pushed (a push names the
message to open, never its content)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest

from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub.module import HubModule
from hub.schedule import PUSH_AFTER
from scheduling.module import SchedulingModule
from tests.channels.push_service import PushService, Subscriber
from tests.conftest import login, replace, serve
from tests.scheduling.daily_school import lesson_id

#: Monday 14.12.2026 10:00 in Helsinki: the change is for Tuesday, tomorrow
MONDAY = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
TUESDAY = date(2026, 12, 15)


@pytest.fixture
async def pushsvc() -> AsyncIterator[PushService]:
    service = PushService()
    async with service.running():
        yield service


async def test_a_superseded_notice_is_never_pushed(
    db: Database,
    settings: Settings,
    admin_dsn: str,
    school: dict[str, UUID],
    pushsvc: PushService,
) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:  # the queue is shared by the session: only this test's jobs run here
        await admin.execute("UPDATE jobs SET state = 'cancelled' WHERE state = 'pending'")
    finally:
        await admin.close()
    clock = FixedClock(MONDAY)
    app = create_app(
        Services(replace(settings, push_origins=(pushsvc.origin,)), db, clock),
        modules=[HubModule(run_worker=False), SchedulingModule(run_worker=False)],
    )
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def h(who: str) -> dict[str, str]:
            return await login(client, f"{who}@lukkari")

        phones: dict[str, Subscriber] = {}
        for who in ("l3", "g3", "l1"):
            sub = pushsvc.subscribe(201)
            s = sub.subscription(pushsvc.origin)
            r = await client.post(
                "/v1/push/subscriptions",
                json={
                    "endpoint": s.endpoint,
                    "keys": {"p256dh": s.keys.p256dh, "auth": s.keys.auth},
                },
                headers=await h(who),
            )
            assert r.status_code == 201, r.text
            phones[who] = sub
        # notices earlier tests of the session left (read ones stay) are not this test's
        seen: dict[str, set[str]] = {}
        for who in ("l3", "g3"):
            r = await client.get("/v1/inbox?limit=500", headers=await h(who))
            seen[who] = {i["message"]["id"] for i in r.json()["items"]}
        saksa = await lesson_id(db, school, "saksa", 2)
        for room in ("C1", "C2"):  # the second supersedes the first, unread
            r = await client.post(
                "/v1/timetable/changes",
                json={
                    "school_id": str(school["k1"]),
                    "changes": [
                        {
                            "date": str(TUESDAY),
                            "kind": "move",
                            "lesson_id": str(saksa),
                            "room": room,
                        }
                    ],
                },
                headers=await h("sec"),
            )
            assert r.status_code == 201, r.text
        current = {}
        for who in ("l3", "g3"):
            r = await client.get("/v1/inbox?limit=500", headers=await h(who))
            [notice] = [
                i["message"]["id"]
                for i in r.json()["items"]
                if i["message"]["subject"].startswith("Tiistai 15.12.")
                and i["message"]["id"] not in seen[who]
            ]
            current[who] = notice
        delivery = app.state["delivery"]
        clock.advance(PUSH_AFTER + timedelta(seconds=1))
        while await delivery.run_due():
            pass
    for who in ("l3", "g3"):
        [push] = phones[who].received
        assert push.urgency == "high"
        # privacy-minimised: no content in the push, only which message to open
        assert json.loads(push.payload)["url"].endswith(f"?message={current[who]}")
    assert phones["l1"].received == []  # the Swedish half of 7A: not affected
