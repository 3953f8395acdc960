"""The clock. Code that needs the time takes a `Clock`; tests pass a
`FixedClock` and move it, so nothing waits for real time to pass."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

#: Schools' wall-clock time zone: ages and school days are reckoned in it.
HELSINKI = ZoneInfo("Europe/Helsinki")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at


def today_in_helsinki(clock: Clock) -> date:
    return clock.now().astimezone(HELSINKI).date()


def age_on(birth_date: date, on: date) -> int:
    """Full years on `on`. A person born on 29 February turns a year older on
    1 March in common years (as Finnish law reckons it)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
