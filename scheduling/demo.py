"""The demo municipality's timetables: `reppu demo` starts with none, so the
scheduling module solves each demo school's roster timetable in the background
(the real solver, `DEMO_TIME_LIMIT_S`) and publishes it from this week's Monday
for `DEMO_VALID_DAYS`. Publishing notifies the whole school, so the demo's
first live notification is "Uusi lukujärjestys". A school that already has a
valid timetable (a restarted demo) is left alone."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from typing import Any, Final

from core.clock import Clock, today_in_helsinki
from core.db import Database
from scheduling import daily
from scheduling.publish import lesson_rows, published_event, write_timetable
from scheduling.roster import instance_from_roster
from scheduling.solver import solve

log = logging.getLogger("reppu.scheduling")

DEMO_TENANT: Final = "kuusikko"
DEMO_TIME_LIMIT_S: Final = 120
#: how long the solver keeps improving after its first complete timetable
DEMO_IMPROVE_S: Final = 10
DEMO_VALID_DAYS: Final = 150


async def publish_demo_timetables(db: Database, clock: Clock, hub: Any) -> int:
    """Solve and publish the demo tenant's missing timetables; returns how many."""
    from core.actions import find_tenant

    tenant = await find_tenant(db, DEMO_TENANT)
    if tenant is None:
        return 0
    today = today_in_helsinki(clock)
    monday = today - timedelta(days=today.weekday())
    async with db.tenant(tenant) as conn:
        schools = [
            (r["id"], r["name"])
            for r in await conn.fetch("SELECT id, name FROM schools ORDER BY name")
            if await daily.valid_timetable(conn, r["id"], today) is None
        ]
    published = 0
    for school_id, name in schools:
        async with db.tenant(tenant) as conn:
            instance = await instance_from_roster(conn, school_id, name=name)
        if not instance.activities:
            continue
        log.info("demo: solving the timetable of %s (%d lessons)", name, len(instance.activities))
        started = time.perf_counter()
        # the solve runs in a thread: when the demo shuts down (this task is
        # cancelled) it is told to stop, or the exit would wait for it
        stop = threading.Event()
        try:
            result = await asyncio.to_thread(
                solve,
                instance,
                time_limit_s=DEMO_TIME_LIMIT_S,
                seed=0,
                workers=1,
                improve_s=DEMO_IMPROVE_S,
                stop=stop,
            )
        except asyncio.CancelledError:
            stop.set()
            raise
        if result.timetable is None or result.status not in ("complete", "optimal"):
            log.warning("demo: no timetable for %s (%s)", name, result.status)
            continue
        async with db.tenant(tenant) as conn:
            view = await write_timetable(
                conn,
                tenant,
                school_id,
                f"Demo {monday:%Y}",
                monday,
                monday + timedelta(days=DEMO_VALID_DAYS),
                lesson_rows(instance, result.timetable),
                solve_id=None,
                published_by=None,
                now=clock.now(),
            )
        await hub.notify(tenant, published_event(view))
        published += 1
        log.info(
            "demo: published the timetable of %s (%d lessons) after %.0f s",
            name,
            view.lessons,
            time.perf_counter() - started,
        )
    return published
