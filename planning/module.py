"""Planning as a module of `reppu serve`: the event and meeting routes, and a
job worker for planning's own kind only (`meeting.reminder`; the hub's and
scheduling's workers run theirs; notifications' backstop is the hub's outbox).
Notifications go out through the hub (`Hub.notify`), so this module starts
after the hub's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar

from core.api import Services
from core.jobs import JobWorker
from planning import api
from planning.actions import REMINDER_JOB, Planning


class PlanningModule:
    name = "planning"
    route_handlers: ClassVar[list[Any]] = [*api.ROUTES]

    def __init__(self, *, run_worker: bool = True) -> None:
        """`run_worker=False`: tests drive `app.state["planning_worker"].run_due()`."""
        self._run_worker = run_worker

    @asynccontextmanager
    async def lifespan(self, app: Litestar, svc: Services) -> AsyncIterator[None]:
        planning = Planning(svc.db, svc.clock, app.state["hub"].notify)
        worker = JobWorker(
            svc.db,
            svc.clock,
            {REMINDER_JOB: planning.run_reminder},
        )
        app.state["planning"] = planning
        app.state["planning_worker"] = worker
        task = asyncio.create_task(worker.run()) if self._run_worker else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


module = PlanningModule()
