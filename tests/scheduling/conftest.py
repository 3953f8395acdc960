"""Fixtures of the scheduling tests."""

from __future__ import annotations

from uuid import UUID

import pytest

from core.db import Database
from tests.scheduling import daily_school


@pytest.fixture(scope="session")
async def school(db: Database) -> dict[str, UUID]:
    """The `lukkari` school with its published timetable (tests/scheduling/daily_school.py)."""
    return await daily_school.setup(db)
