"""Scheduling as a module of `reppu serve`: the timetable routes and a job
worker that runs solves (`timetable.solve` jobs only; the hub's worker runs
the hub's kinds). Progress goes out through the hub (`Hub.signal`), so this
module starts after the hub's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from core.api import Services
from core.jobs import JobWorker
from scheduling import actions, api, calendar, comments, daily_api, reservations
from scheduling.changes import Changes
from scheduling.demo import publish_demo_timetables
from scheduling.notices import NOTICES_JOB, NoticesRunner

#: notice refreshes one node runs at once (the job is a backstop; requests
#: refresh at once themselves)
NOTICES_WORKERS = 2

log = logging.getLogger("reppu.scheduling")


class SchedulingModule:
    name = "scheduling"
    route_handlers: ClassVar[list[Any]] = [
        *api.ROUTES,
        *daily_api.ROUTES,
        *calendar.ROUTES,
        *reservations.ROUTES,
        *comments.ROUTES,
    ]

    def __init__(self, *, run_worker: bool = True) -> None:
        """`run_worker=False`: tests drive `app.state["scheduling_worker"].run_due()`."""
        self._run_worker = run_worker

    @asynccontextmanager
    async def lifespan(self, app: Litestar, svc: Services) -> AsyncIterator[None]:
        hub = app.state["hub"]
        worker = JobWorker(
            svc.db,
            svc.clock,
            {actions.SOLVE_JOB: actions.SolveRunner(svc.db, svc.clock, hub.signal)},
            batch=actions.SOLVE_WORKERS,
            concurrency=actions.SOLVE_WORKERS,
            lease_s=actions.SOLVE_LEASE_S,
        )
        changes = Changes(svc.db, svc.clock, hub)
        notices = JobWorker(
            svc.db,
            svc.clock,
            {NOTICES_JOB: NoticesRunner(svc.db, svc.clock, hub)},
            batch=NOTICES_WORKERS,
            concurrency=NOTICES_WORKERS,
        )
        app.state["scheduling_worker"] = worker
        app.state["scheduling_wake"] = worker.wake
        app.state["timetable_changes"] = changes
        app.state["notices_worker"] = notices
        tasks = (
            [asyncio.create_task(worker.run()), asyncio.create_task(notices.run())]
            if self._run_worker
            else []
        )
        if app.state.get("demo"):
            tasks.append(asyncio.create_task(self._demo(svc, hub)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @staticmethod
    async def _demo(svc: Services, hub: Any) -> None:
        try:
            await publish_demo_timetables(svc.db, svc.clock, hub)
        except Exception:  # the demo runs on without timetables
            log.exception("demo: publishing the demo timetables failed")


module = SchedulingModule()
