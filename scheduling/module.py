"""Scheduling as a module of `reppu serve`: the timetable routes and a job
worker that runs solves (`timetable.solve` jobs only; the hub's worker runs
the hub's kinds). Progress goes out through the hub (`Hub.signal`), so this
module starts after the hub's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from core.api import Services
from core.jobs import JobWorker
from scheduling import actions, api, calendar, comments, daily_api, reservations


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
        app.state["scheduling_worker"] = worker
        app.state["scheduling_wake"] = worker.wake
        task = asyncio.create_task(worker.run()) if self._run_worker else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


module = SchedulingModule()
