"""Delivery policy rules (hub.policy): quiet hours, weekends, daylight saving,
critical overrides, per-kind modes, channel opt-outs and the digest time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import msgspec
import pytest

from hub.policy import (
    HELSINKI,
    Preferences,
    channel_allowed,
    mode,
    next_digest,
    problems,
    quiet_until,
    send_at,
)

DEFAULT = Preferences()
WEEKENDS = Preferences(quiet_weekends=True)
NO_NIGHTS = Preferences(quiet_start=time(0), quiet_end=time(0))
NO_NIGHTS_WEEKENDS = Preferences(quiet_start=time(9), quiet_end=time(9), quiet_weekends=True)


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A Helsinki wall-clock time (the first one, if it occurs twice)."""
    return datetime(y, m, d, hh, mm, tzinfo=HELSINKI)


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# 2026-11-24 is a Tuesday; 2026-11-27 a Friday, 28 Saturday, 29 Sunday, 30 Monday.


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 24, 10), None),
        (local(2026, 11, 24, 20, 59), None),
        (local(2026, 11, 24, 21), local(2026, 11, 25, 7)),
        (local(2026, 11, 24, 23, 30), local(2026, 11, 25, 7)),
        (local(2026, 11, 25, 0), local(2026, 11, 25, 7)),
        (local(2026, 11, 25, 6, 59), local(2026, 11, 25, 7)),
        (local(2026, 11, 25, 7), None),
        # without quiet_weekends a weekend afternoon is not quiet
        (local(2026, 11, 28, 12), None),
    ],
)
def test_default_quiet_hours_span_midnight(now: datetime, expected: datetime | None) -> None:
    """21:00–07:00 Helsinki time: start inclusive, end exclusive, across midnight."""
    assert quiet_until(now, DEFAULT) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 24, 11, 59), None),
        (local(2026, 11, 24, 12), local(2026, 11, 24, 13)),
        (local(2026, 11, 24, 12, 30), local(2026, 11, 24, 13)),
        (local(2026, 11, 24, 13), None),
        (local(2026, 11, 24, 23), None),
    ],
)
def test_quiet_hours_within_one_day(now: datetime, expected: datetime | None) -> None:
    """A window that does not span midnight (12:00–13:00) is quiet only inside it."""
    prefs = Preferences(quiet_start=time(12), quiet_end=time(13))
    assert quiet_until(now, prefs) == expected


@pytest.mark.parametrize("at", [time(0), time(7), time(21), time(23, 59)])
def test_equal_start_and_end_means_no_quiet_hours(at: time) -> None:
    """quiet_start == quiet_end: never quiet, at any hour of a week."""
    prefs = Preferences(quiet_start=at, quiet_end=at)
    start = local(2026, 11, 23, 0)
    for minutes in range(0, 7 * 24 * 60, 15):
        assert quiet_until(start + timedelta(minutes=minutes), prefs) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday evening: the night runs into the weekend, which runs into
        # Sunday night: one quiet period until Monday 07:00.
        (local(2026, 11, 27, 20), None),
        (local(2026, 11, 27, 22), local(2026, 11, 30, 7)),
        (local(2026, 11, 28, 0), local(2026, 11, 30, 7)),
        (local(2026, 11, 28, 12), local(2026, 11, 30, 7)),
        (local(2026, 11, 29, 12), local(2026, 11, 30, 7)),
        (local(2026, 11, 29, 23), local(2026, 11, 30, 7)),
        (local(2026, 11, 30, 6), local(2026, 11, 30, 7)),
        (local(2026, 11, 30, 8), None),
        (local(2026, 11, 25, 12), None),
    ],
)
def test_quiet_weekends_join_the_nights_around_them(
    now: datetime, expected: datetime | None
) -> None:
    """With quiet_weekends, Friday 21:00 to Monday 07:00 is one quiet period."""
    assert quiet_until(now, WEEKENDS) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 27, 23, 59), None),
        (local(2026, 11, 28, 0), local(2026, 11, 30, 0)),
        (local(2026, 11, 29, 23, 59), local(2026, 11, 30, 0)),
        (local(2026, 11, 30, 0), None),
        # Friday 23:30 UTC is already Saturday 01:30 in Helsinki
        (utc(2026, 11, 27, 23, 30), local(2026, 11, 30, 0)),
        # Sunday 22:30 UTC is already Monday in Helsinki
        (utc(2026, 11, 29, 22, 30), None),
    ],
)
def test_weekend_is_saturday_and_sunday_in_helsinki(
    now: datetime, expected: datetime | None
) -> None:
    """The weekend is Saturday 00:00 to Monday 00:00 local, whatever zone `now` is in."""
    assert quiet_until(now, NO_NIGHTS_WEEKENDS) == expected


def test_spring_forward_night_is_an_hour_shorter() -> None:
    """Last Sunday of March (clocks 03:00 → 04:00): Saturday 21:00 EET to Sunday 07:00 EEST."""
    now = local(2026, 3, 28, 23)
    assert now.utcoffset() == timedelta(hours=2)
    until = quiet_until(now, DEFAULT)
    assert until == utc(2026, 3, 29, 4)
    assert until is not None and until.astimezone(HELSINKI).hour == 7
    assert until - utc(2026, 3, 28, 19) == timedelta(hours=9)


def test_fall_back_night_is_an_hour_longer() -> None:
    """Last Sunday of October (clocks 04:00 → 03:00): Saturday 21:00 EEST to Sunday 07:00 EET."""
    now = local(2026, 10, 24, 23)
    assert now.utcoffset() == timedelta(hours=3)
    until = quiet_until(now, DEFAULT)
    assert until == utc(2026, 10, 25, 5)
    assert until - utc(2026, 10, 24, 18) == timedelta(hours=11)


def test_quiet_end_inside_the_spring_gap_ends_when_the_clock_jumps() -> None:
    """An end of 03:30, which does not exist that night, is reached at 04:00 EEST."""
    prefs = Preferences(quiet_start=time(22), quiet_end=time(3, 30))
    assert quiet_until(utc(2026, 3, 29, 0, 30), prefs) == utc(2026, 3, 29, 1)
    assert quiet_until(utc(2026, 3, 29, 0, 59), prefs) == utc(2026, 3, 29, 1)
    assert quiet_until(utc(2026, 3, 29, 1), prefs) is None


def test_quiet_start_inside_the_spring_gap_starts_when_the_clock_jumps() -> None:
    """A start of 03:30 that night begins at 04:00 EEST and ends at 06:00 EEST."""
    prefs = Preferences(quiet_start=time(3, 30), quiet_end=time(6))
    assert quiet_until(utc(2026, 3, 29, 0, 59), prefs) is None
    assert quiet_until(utc(2026, 3, 29, 1), prefs) == utc(2026, 3, 29, 3)


def test_repeated_hour_is_not_quiet_twice() -> None:
    """An end of 03:30 on the night the clock falls back is its first occurrence
    (EEST); the repeated 03:00–04:00 (EET) is not quiet again."""
    prefs = Preferences(quiet_start=time(22), quiet_end=time(3, 30))
    first_0315 = utc(2026, 10, 25, 0, 15)
    second_0315 = utc(2026, 10, 25, 1, 15)
    assert first_0315.astimezone(HELSINKI).strftime("%H:%M") == "03:15"
    assert second_0315.astimezone(HELSINKI).strftime("%H:%M") == "03:15"
    assert quiet_until(first_0315, prefs) == utc(2026, 10, 25, 0, 30)
    assert quiet_until(second_0315, prefs) is None


def test_result_is_the_same_instant_whatever_zone_now_is_in() -> None:
    """`now` in UTC, Helsinki or another offset gives the same instant."""
    at = utc(2026, 11, 24, 22)
    tokyo = timezone(timedelta(hours=9))
    results = {quiet_until(at.astimezone(z), DEFAULT) for z in (UTC, HELSINKI, tokyo)}
    assert results == {local(2026, 11, 25, 7)}


def test_naive_now_is_refused() -> None:
    """A datetime without a zone is a programming error, not a guess."""
    with pytest.raises(ValueError, match="aware"):
        quiet_until(datetime(2026, 11, 24, 22), DEFAULT)
    with pytest.raises(ValueError, match="aware"):
        next_digest(datetime(2026, 11, 24, 22), DEFAULT)


@pytest.mark.parametrize(
    ("urgency", "now", "expected"),
    [
        ("normal", local(2026, 11, 24, 23), local(2026, 11, 25, 7)),
        ("high", local(2026, 11, 24, 23), local(2026, 11, 25, 7)),
        ("critical", local(2026, 11, 24, 23), local(2026, 11, 24, 23)),
        ("normal", local(2026, 11, 24, 10), local(2026, 11, 24, 10)),
        ("critical", local(2026, 11, 24, 10), local(2026, 11, 24, 10)),
    ],
)
def test_send_at(urgency: str, now: datetime, expected: datetime) -> None:
    """Quiet hours defer all but critical messages; outside them, now."""
    assert send_at(now, DEFAULT, urgency) == expected


def test_modes_per_kind_and_critical_override() -> None:
    """Each kind has its mode; an unset or unknown kind is instant; critical is always instant."""
    prefs = Preferences(kinds={"message": "digest", "announcement": "off"})
    assert mode(prefs, "message", "normal") == "digest"
    assert mode(prefs, "announcement", "high") == "off"
    assert mode(prefs, "notification", "normal") == "instant"
    assert mode(prefs, "reminder", "normal") == "instant"
    for kind in ("message", "announcement", "notification"):
        assert mode(prefs, kind, "critical") == "instant"
        assert mode(DEFAULT, kind, "normal") == "instant"


@pytest.mark.parametrize(
    ("push", "email", "urgency", "allowed"),
    [
        (True, True, "normal", {"push", "email"}),
        (False, True, "normal", {"email"}),
        (True, False, "high", {"push"}),
        (False, False, "high", set()),
        (False, False, "critical", {"push", "email"}),
    ],
)
def test_channel_opt_outs(push: bool, email: bool, urgency: str, allowed: set[str]) -> None:
    """Opting out of a channel holds for all but critical messages."""
    prefs = Preferences(push=push, email=email)
    assert {c for c in ("push", "email") if channel_allowed(prefs, c, urgency)} == allowed


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 11, 24, 10), local(2026, 11, 24, 17)),
        (local(2026, 11, 24, 16, 59), local(2026, 11, 24, 17)),
        (local(2026, 11, 24, 17), local(2026, 11, 25, 17)),
        (local(2026, 11, 24, 23), local(2026, 11, 25, 17)),
        (utc(2026, 11, 24, 22, 30), local(2026, 11, 25, 17)),
        # across the spring change: 17:00 EEST on Sunday is 14:00 UTC
        (local(2026, 3, 28, 18), utc(2026, 3, 29, 14)),
        # and across the autumn one: 17:00 EET is 15:00 UTC
        (local(2026, 10, 24, 18), utc(2026, 10, 25, 15)),
    ],
)
def test_next_digest_is_strictly_after_now(now: datetime, expected: datetime) -> None:
    """The next local digest_time strictly after now."""
    assert next_digest(now, DEFAULT) == expected


def test_next_digest_at_a_time_skipped_or_repeated_by_dst() -> None:
    """A digest at 03:30 goes at 04:00 EEST when 03:30 is skipped, and once
    (at the first 03:30) when it occurs twice."""
    prefs = Preferences(digest_time=time(3, 30))
    assert next_digest(local(2026, 3, 28, 12), prefs) == utc(2026, 3, 29, 1)
    assert next_digest(local(2026, 10, 24, 12), prefs) == utc(2026, 10, 25, 0, 30)
    between = utc(2026, 10, 25, 0, 45)
    assert next_digest(between, prefs) == local(2026, 10, 26, 3, 30)


def test_defaults() -> None:
    """A person who changed nothing: both channels, everything instant, 21–07, digest 17:00."""
    assert DEFAULT.push and DEFAULT.email and not DEFAULT.quiet_weekends
    assert DEFAULT.kinds == {
        "message": "instant",
        "announcement": "instant",
        "notification": "instant",
    }
    assert (DEFAULT.quiet_start, DEFAULT.quiet_end, DEFAULT.digest_time) == (
        time(21),
        time(7),
        time(17),
    )
    assert DEFAULT.language is None and problems(DEFAULT) == []


@pytest.mark.parametrize(
    "body",
    [
        {"colour": "red"},
        {"kinds": {"homework": "instant"}},
        {"kinds": {"message": "sometimes"}},
        {"language": "de"},
        {"quiet_start": "21"},
        {"push": "maybe"},
    ],
)
def test_decoding_refuses_what_it_does_not_know(body: dict[str, object]) -> None:
    """Unknown fields, kinds, modes and languages, and malformed times, do not decode."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(msgspec.json.encode(body), type=Preferences)


def test_times_with_an_offset_are_a_problem() -> None:
    """Quiet hours and the digest time are Helsinki wall-clock times, without an offset."""
    prefs = msgspec.json.decode(
        b'{"quiet_start": "21:00:00+02:00", "digest_time": "17:00:00Z"}', type=Preferences
    )
    assert [p.partition(":")[0] for p in problems(prefs)] == ["quiet_start", "digest_time"]
