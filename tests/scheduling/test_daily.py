"""The day's lessons with changes applied (scheduling.daily)."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from core.db import Database
from scheduling import daily
from tests.conftest import TEST_NOW

TUESDAY = date(2026, 11, 24)


async def test_published_day(db: Database, school: dict[str, UUID]) -> None:
    async with db.tenant(school["tenant"]) as conn:
        day = await daily.day_lessons(conn, school["k1"], TUESDAY)
    assert [(x.subject, x.status) for x in day][:2] == [
        ("matematiikka", "normal"),
        ("ruotsi", "normal"),
    ]
    assert len(day) == 5


async def test_a_range_is_the_days_and_a_programme_replaces_split_groups(
    db: Database, school: dict[str, UUID]
) -> None:
    """school_lessons over a range gives what day_lessons gives per date; a theme
    day for class 7A replaces the lessons of 7A and of its language groups (whose
    learners are all in 7A), not 8A's."""
    theme_day = date(2026, 9, 1)
    async with db.tenant(school["tenant"]) as conn:
        await conn.execute(
            "INSERT INTO timetable_changes (id, tenant_id, school_id, on_date, kind, group_id, "
            "title, created_by, created_at) VALUES ($1, $2, $3, $4, 'programme', $5, "
            "'Teemapäivä', $6, $7)",
            uuid4(),
            school["tenant"],
            school["k1"],
            theme_day,
            school["7a"],
            school["sec"],
            TEST_NOW,
        )
        start, end = date(2026, 8, 31), date(2026, 9, 13)
        ranged = await daily.school_lessons(conn, school["k1"], start, end)
        for on, lessons in ranged.items():
            assert lessons == await daily.day_lessons(conn, school["k1"], on)
    day = {(x.subject, x.lesson_id is None): x.status for x in ranged[theme_day]}
    assert day == {
        ("matematiikka", False): "programme",
        ("ruotsi", False): "programme",
        ("saksa", False): "programme",
        ("historia", False): "normal",
        ("englanti", False): "normal",
        ("", True): "programme",
    }
    assert ranged[date(2026, 9, 8)][0].status == "normal"
    assert ranged[date(2026, 9, 5)] == []  # a Saturday
