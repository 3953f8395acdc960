"""The day's lessons with changes applied (scheduling.daily)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from core.db import Database
from scheduling import daily

TUESDAY = date(2026, 11, 24)


async def test_published_day(db: Database, school: dict[str, UUID]) -> None:
    async with db.tenant(school["tenant"]) as conn:
        day = await daily.day_lessons(conn, school["k1"], TUESDAY)
    assert [(x.subject, x.status) for x in day][:2] == [
        ("matematiikka", "normal"),
        ("ruotsi", "normal"),
    ]
    assert len(day) == 5
