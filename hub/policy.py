"""Delivery policy as pure functions: whether, how and when a message that
reached a person's inbox also goes out by Web Push or e-mail
(docs/delivery.md). No I/O and no clock: every function takes `now`.

Quiet hours are wall-clock times in Europe/Helsinki, where schools live.
Each night's quiet period is an interval of instants — from the first instant
the wall clock reads `quiet_start` to the first instant it next reads
`quiet_end` — so a daylight-saving change inside it only makes the night an
hour shorter or longer:

* a wall time that does not exist (the spring gap, 03:00–04:00 on the last
  Sunday of March) is reached when the clock jumps over it, at 04:00;
* a wall time that exists twice (04:00–03:00 again on the last Sunday of
  October) is reached at its first occurrence, and the hour that repeats is
  not quiet again.

Critical messages (a school closure, a lockdown) ignore quiet hours, per-kind
modes and channel opt-outs: `urgency == "critical"` always means now, on every
channel the person has.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal, cast

import msgspec

from core.clock import HELSINKI

Mode = Literal["instant", "digest", "off"]
Channel = Literal["push", "email"]
Kind = Literal["message", "announcement", "notification"]
Language = Literal["fi", "sv", "en"]

KINDS: Final[tuple[Kind, ...]] = ("message", "announcement", "notification")
QUIET_START_DEFAULT: Final = time(21)
QUIET_END_DEFAULT: Final = time(7)
DIGEST_TIME_DEFAULT: Final = time(17)
#: the urgency that overrides every preference
CRITICAL: Final = "critical"

__all__ = [
    "CRITICAL",
    "DIGEST_TIME_DEFAULT",
    "HELSINKI",
    "KINDS",
    "QUIET_END_DEFAULT",
    "QUIET_START_DEFAULT",
    "Channel",
    "Kind",
    "Language",
    "Mode",
    "Preferences",
    "channel_allowed",
    "default_kinds",
    "mode",
    "next_digest",
    "problems",
    "quiet_until",
    "send_at",
]


def default_kinds() -> dict[Kind, Mode]:
    return dict.fromkeys(KINDS, "instant")


class Preferences(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A person's delivery preferences; every field has the default a person
    who never changed anything gets."""

    #: Web Push on any of the person's devices
    push: bool = True
    #: notification mail to the person's roster address
    email: bool = True
    #: per message kind: at once, in the daily digest, or not by push/e-mail
    #: (the inbox and the live socket get everything regardless). A kind left
    #: out is "instant".
    kinds: dict[Kind, Mode] = msgspec.field(default_factory=default_kinds)
    #: None: the person's roster language
    language: Language | None = None
    #: Helsinki wall-clock times; quiet_start == quiet_end: no quiet hours
    quiet_start: time = QUIET_START_DEFAULT
    quiet_end: time = QUIET_END_DEFAULT
    #: all of Saturday and Sunday (local) are quiet as well
    quiet_weekends: bool = False
    #: when the daily digest goes out (Helsinki wall clock)
    digest_time: time = DIGEST_TIME_DEFAULT


def problems(prefs: Preferences) -> list[str]:
    """What makes `prefs` unusable (empty: fine). The types are checked by
    msgspec when decoding; this checks what types cannot say."""
    found: list[str] = []
    for name in ("quiet_start", "quiet_end", "digest_time"):
        if getattr(prefs, name).tzinfo is not None:
            found.append(f"{name}: a wall-clock time without an offset (Europe/Helsinki)")
    return found


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("policy needs an aware datetime")
    return now


def _wall(at: datetime) -> datetime:
    return at.astimezone(HELSINKI).replace(tzinfo=None)


def _instant(day: date, at: time) -> datetime:
    """The first instant (UTC) at which Helsinki's wall clock reads `at` on `day`."""
    naive = datetime.combine(day, at.replace(tzinfo=None))
    # fold=0 is the earlier of two occurrences of an ambiguous wall time
    first = naive.replace(tzinfo=HELSINKI).astimezone(UTC)
    if _wall(first) == naive:
        return first
    # In the spring gap: fold=0 reads the wall time with the offset before the
    # change (an instant after it), fold=1 with the offset after (an instant
    # before it). The clock reaches `at` when it jumps: the first instant
    # between the two whose wall time is not earlier than `at`.
    lo = int(naive.replace(tzinfo=HELSINKI, fold=1).timestamp())
    hi = math.ceil(first.timestamp())
    # wall(lo) < naive <= wall(hi); offsets change on whole seconds
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC)) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _quiet_windows(day: date, prefs: Preferences) -> list[tuple[datetime, datetime]]:
    """The quiet intervals [start, end) near `day`: nightly windows of the days
    around it and, with quiet_weekends, Saturday 00:00 to Monday 00:00."""
    windows: list[tuple[datetime, datetime]] = []
    nightly = prefs.quiet_start != prefs.quiet_end
    spans_midnight = prefs.quiet_end < prefs.quiet_start
    # A chain of windows spans at most Friday evening to Monday morning.
    for offset in range(-3, 5):
        d = day + timedelta(days=offset)
        if nightly:
            end_day = d + timedelta(days=1) if spans_midnight else d
            windows.append((_instant(d, prefs.quiet_start), _instant(end_day, prefs.quiet_end)))
        if prefs.quiet_weekends and d.weekday() == 5:
            windows.append((_instant(d, time(0)), _instant(d + timedelta(days=2), time(0))))
    return windows


def quiet_until(now: datetime, prefs: Preferences) -> datetime | None:
    """If `now` is in the person's quiet hours, the first instant (UTC) they
    end — overlapping windows (a weekend and the nights around it) count as
    one — else None."""
    now = _aware(now)
    windows = _quiet_windows(now.astimezone(HELSINKI).date(), prefs)
    ends = [end for start, end in windows if start <= now < end]
    if not ends:
        return None
    until = max(ends)
    extended = True
    while extended:
        extended = False
        for start, end in windows:
            if start <= until < end:
                until, extended = end, True
    return until


def send_at(now: datetime, prefs: Preferences, urgency: str) -> datetime:
    """When a push or mail may go out: now, unless quiet hours defer it
    (never for a critical message)."""
    now = _aware(now)
    if urgency == CRITICAL:
        return now
    return quiet_until(now, prefs) or now


def mode(prefs: Preferences, kind: str, urgency: str) -> Mode:
    """How a message of `kind` goes out by push/e-mail. A kind the person has
    no setting for (one added later) is "instant"."""
    if urgency == CRITICAL:
        return "instant"
    return cast(dict[str, Mode], prefs.kinds).get(kind, "instant")


def channel_allowed(prefs: Preferences, channel: Channel, urgency: str) -> bool:
    """Whether the person lets `channel` be used at all (critical: always)."""
    if urgency == CRITICAL:
        return True
    return prefs.push if channel == "push" else prefs.email


def next_digest(now: datetime, prefs: Preferences) -> datetime:
    """The first instant (UTC) strictly after `now` at which the wall clock
    reads `digest_time`: once a day, also on days of a DST change."""
    now = _aware(now)
    day = now.astimezone(HELSINKI).date()
    for offset in range(-1, 3):
        at = _instant(day + timedelta(days=offset), prefs.digest_time)
        if at > now:
            return at
    raise AssertionError("a wall-clock time recurs within two days")  # pragma: no cover
