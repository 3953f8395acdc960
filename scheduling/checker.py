"""The independent checker: every hard and soft violation of a timetable.

`check(instance, timetable)` counts what a timetable breaks, the way FET
counts it, so that a timetable of ours and one of FET's can be compared on
one scale: `CheckReport.soft` is FET's "total soft conflicts" (the sum over
broken soft constraints of `weight/100 × amount`), and a timetable FET
produced checks as `hard == 0` with FET's own soft total.

The amount of each violation follows FET's fitness code (engine
`timeconstraint.cpp` / `spaceconstraint.cpp`), constraint by constraint:

* double booking of a teacher, a subgroup or a room: per slot, the number of
  activities there minus one;
* not-available times (teacher, each subgroup of the set, room): per listed
  slot, the number of activities there; break times: per activity, the number
  of break slots it covers;
* preferred starting time(s): 1 per activity starting elsewhere; preferred
  time slots: per activity, its hours outside the slots;
* pairwise lists (min days, same starting time/day, not overlapping): per
  pair of placed activities, the days too close (`min_days - distance`), 1, 1,
  or the overlapping hours; when a soft min-days constraint puts two on one
  day with `consecutive_if_same_day`, they must be back to back, and are a
  hard violation otherwise (FET's generator never allows it);
* two activities consecutive / grouped: 1 unless back to back on one day
  (break slots between them allowed); occupy max slots: 1 when over;
  activity/activities ends students' day: 1 per activity with anything of
  its subgroups after it that day;
* gaps (teachers; students per subgroup): an empty slot after the first busy
  slot of a day and before a later busy slot, hard break slots and the
  teacher's/subgroup's hard not-available slots not counting; per week or per
  day, the gaps over the limit;
* early max beginnings at second hour, per subgroup: 1 per day whose first
  lesson comes after two or more free slots (breaks and not-available slots
  skipped), plus the days starting at the second hour or later over the limit;
* max days per week: the hours of the least busy days over the limit;
  interval max days: the days over the limit; max hours daily, teachers' min
  hours daily: 1 per offending day; max hours continuously: 1 per too long
  run; students' min hours daily: the missing hours per day (empty days count
  unless allowed);
* preferred rooms (activity, subject, activity tag, both): 1 per activity in
  another room or in none; home rooms (students set, teacher) apply to the
  activities of exactly that one students set (that one teacher), and a room
  of one of the activity's preferred-room constraints satisfies them too.

Basic rules (always hard): every activity placed once, inside the grid and
not across the end of the day (an activity that is not is otherwise ignored);
no double booking; an activity with a hard (100 %) room constraint of any of
the six room kinds has a room (its preferred rooms are then not counted
again, as in FET); the room exists and is big enough (the learners of the
activity's students sets, or `students_count`). An activity without a hard
room constraint may go without a room, as in FET.

Only hard (100 %) break and not-available constraints shape the gaps and the
early beginnings, as in FET, where both must be hard. Constraint types listed
in `Instance.unsupported` are not checked.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TypeAlias

import msgspec

from scheduling.model import (
    HARD,
    ActivitiesEndStudentsDay,
    ActivitiesMaxSimultaneousInSelectedTimeSlots,
    ActivitiesNotOverlapping,
    ActivitiesOccupyMaxDifferentRooms,
    ActivitiesOccupyMaxTimeSlotsFromSelection,
    ActivitiesPreferredStartingTimes,
    ActivitiesPreferredTimeSlots,
    ActivitiesSameRoomIfConsecutive,
    ActivitiesSameStartingDay,
    ActivitiesSameStartingHour,
    ActivitiesSameStartingTime,
    Activity,
    ActivityEndsStudentsDay,
    ActivityFilter,
    ActivityPreferredRooms,
    ActivityPreferredStartingTime,
    ActivityPreferredStartingTimes,
    ActivityPreferredTimeSlots,
    ActivityTagPreferredRooms,
    BreakTimes,
    Constraint,
    Instance,
    MaxDaysBetweenActivities,
    MaxSpanPerDay,
    MinDaysBetweenActivities,
    MinGapsBetweenActivities,
    MinRestingHours,
    Placement,
    RoomNotAvailableTimes,
    Slot,
    StudentsActivityTagMaxHoursContinuously,
    StudentsActivityTagMaxHoursDaily,
    StudentsEarlyMaxBeginningsAtSecondHour,
    StudentsIntervalMaxDaysPerWeek,
    StudentsMaxBuildingChanges,
    StudentsMaxGapsPerDay,
    StudentsMaxGapsPerWeek,
    StudentsMaxHoursContinuously,
    StudentsMaxHoursDaily,
    StudentsMaxHoursDailyRealDays,
    StudentsMinGapsBetweenBuildingChanges,
    StudentsMinHoursDaily,
    StudentsSetHomeRooms,
    StudentsSetNotAvailableTimes,
    SubjectActivityTagPreferredRooms,
    SubjectPreferredRooms,
    TeacherActivityTagMaxHoursContinuously,
    TeacherActivityTagMaxHoursDaily,
    TeacherHomeRooms,
    TeacherIntervalMaxDaysPerWeek,
    TeacherMaxBuildingChanges,
    TeacherMaxDaysPerWeek,
    TeacherMaxGapsPerDay,
    TeacherMaxGapsPerWeek,
    TeacherMaxHoursContinuously,
    TeacherMaxHoursDaily,
    TeacherMaxHoursDailyRealDays,
    TeacherMinDaysPerWeek,
    TeacherMinGapsBetweenBuildingChanges,
    TeacherMinHoursDaily,
    TeacherNotAvailableTimes,
    ThreeActivitiesGrouped,
    Timetable,
    TwoActivitiesConsecutive,
    TwoActivitiesGrouped,
    TwoActivitiesOrdered,
    TwoActivitiesOrderedIfSameDay,
)

__all__ = ["BASIC_TYPES", "CheckReport", "Violation", "check"]

#: violation types of the basic rules (not constraints of the instance)
BASIC_TYPES = (
    "Unplaced",
    "OutsideGrid",
    "UnknownActivity",
    "DuplicatePlacement",
    "TeacherConflict",
    "SubgroupConflict",
    "RoomConflict",
    "RoomMissing",
    "UnknownRoom",
    "RoomCapacity",
)


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One broken rule: `amount` counts like FET, `weight` in percent."""

    #: the constraint's type name (its tag in the model), or a basic rule
    type: str
    weight: float
    amount: int
    detail: str
    #: index of the constraint in `Instance.constraints`; None for basic rules
    constraint: int | None = None

    @property
    def hard(self) -> bool:
        return self.weight >= HARD

    @property
    def conflicts(self) -> float:
        """What this adds to FET's conflicts total."""
        return self.weight / 100.0 * self.amount


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    #: sum of the amounts of the hard violations
    hard: int
    #: FET's "total soft conflicts": sum of weight/100 × amount, soft ones
    soft: float
    violations: tuple[Violation, ...]
    #: every activity placed, within the grid
    complete: bool

    def soft_by_type(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for v in self.violations:
            if not v.hard:
                out[v.type] = out.get(v.type, 0.0) + v.conflicts
        return out

    def hard_by_type(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.violations:
            if v.hard:
                out[v.type] = out.get(v.type, 0) + v.amount
        return out


#: (amount, detail) of one violation of a constraint
_Found: TypeAlias = tuple[int, str]
_Matrix: TypeAlias = list[list[int]]

_PreferredRoomConstraint: TypeAlias = (
    ActivityPreferredRooms
    | SubjectPreferredRooms
    | ActivityTagPreferredRooms
    | SubjectActivityTagPreferredRooms
)
_RoomConstraint: TypeAlias = _PreferredRoomConstraint | StudentsSetHomeRooms | TeacherHomeRooms
_ROOM_TYPES = (
    ActivityPreferredRooms,
    SubjectPreferredRooms,
    ActivityTagPreferredRooms,
    SubjectActivityTagPreferredRooms,
    StudentsSetHomeRooms,
    TeacherHomeRooms,
)
_PREFERRED_TYPES = _ROOM_TYPES[:4]


def check(instance: Instance, timetable: Timetable) -> CheckReport:
    """Every violation of `timetable` against `instance`, counted like FET."""
    ctx = _Context(instance, timetable)
    found = list(ctx.basic)
    for index, constraint in enumerate(instance.constraints):
        name = type(constraint).__name__
        for amount, detail in _evaluate(ctx, constraint):
            if amount > 0:
                found.append(
                    Violation(
                        type=name,
                        weight=constraint.weight,
                        amount=amount,
                        detail=detail,
                        constraint=index,
                    )
                )
        if (
            isinstance(constraint, MinDaysBetweenActivities)
            and constraint.consecutive_if_same_day
            and constraint.weight < HARD  # a hard one allows no pair on one day at all
        ):
            for detail in _min_days_not_consecutive(ctx, constraint):
                found.append(
                    Violation(type=name, weight=HARD, amount=1, detail=detail, constraint=index)
                )
    hard = sum(v.amount for v in found if v.hard)
    soft = 0.0
    for v in found:
        if not v.hard:
            soft += v.conflicts
    return CheckReport(hard=hard, soft=soft, violations=tuple(found), complete=ctx.complete)


# --- the timetable as matrices ---------------------------------------------------


class _Context:
    def __init__(self, instance: Instance, timetable: Timetable) -> None:
        self.instance = instance
        self.nd = len(instance.days)
        self.nh = len(instance.hours)
        self.acts: dict[int, Activity] = {a.id: a for a in instance.activities}
        self.basic: list[Violation] = []
        #: activity id -> (day, start hour) for activities placed inside the grid
        self.at: dict[int, tuple[int, int]] = {}
        #: activity id -> room name (None: no room) for placed activities
        self.room: dict[int, str | None] = {}
        #: placed activities whose room is unknown (counted once, as such)
        self.bad_room: set[int] = set()
        #: virtual room name -> its sets of real rooms
        self.virtual = {r.name: r.real_rooms for r in instance.rooms if r.virtual}
        self.real_names = {r.name for r in instance.rooms if not r.virtual}
        #: activity id -> the real rooms it takes in its virtual room
        self.real: dict[int, tuple[str, ...]] = {}

        self._sets = {s.name: s for s in instance.students}
        self._subgroups_cache: dict[str, tuple[str, ...]] = {}
        self._place(timetable)
        self.complete = len(self.at) == len(self.acts)

        self.teachers = _unique(
            [t.name for t in instance.teachers]
            + [t for a in instance.activities for t in a.teachers]
        )
        self.subgroups = _unique(
            [g for s in instance.students for g in self.subgroups_of(s.name)]
            + [g for a in instance.activities for g in self.act_subgroups(a)]
        )
        self.t_mat: dict[str, _Matrix] = {}
        self.s_mat: dict[str, _Matrix] = {}
        self.r_mat: dict[str, _Matrix] = {}
        #: virtual rooms' use: never a conflict (FET puts two lessons in one
        #: virtual room at once when their real rooms differ)
        self.v_mat: dict[str, _Matrix] = {}
        for aid, (d, h) in self.at.items():
            a = self.acts[aid]
            for t in _unique(a.teachers):
                self._mark(self.t_mat, t, d, h, a.duration)
            for g in self.act_subgroups(a):
                self._mark(self.s_mat, g, d, h, a.duration)
            room = self.room.get(aid)
            if room is not None and room in self.virtual:
                self._mark(self.v_mat, room, d, h, a.duration)
                for real in self.real.get(aid, ()):
                    self._mark(self.r_mat, real, d, h, a.duration)
            elif room is not None:
                self._mark(self.r_mat, room, d, h, a.duration)
        self._zero: _Matrix = [[0] * self.nh for _ in range(self.nd)]
        self._tag_rows: dict[tuple[str, str, str], _Matrix] = {}
        self.building = {r.name: r.building for r in instance.rooms}
        self._building_rows: dict[tuple[str, str], list[list[str | None]]] = {}

        hard = [c for c in instance.constraints if c.weight >= HARD]
        self.breaks: set[Slot] = {s for c in hard if isinstance(c, BreakTimes) for s in c.slots}
        self.t_na: dict[str, set[Slot]] = {}
        self.s_na: dict[str, set[Slot]] = {}
        for c in hard:
            if isinstance(c, TeacherNotAvailableTimes):
                self.t_na.setdefault(c.teacher, set()).update(c.slots)
            elif isinstance(c, StudentsSetNotAvailableTimes):
                for g in self.subgroups_of(c.students):
                    self.s_na.setdefault(g, set()).update(c.slots)

        self._room_targets: dict[_RoomConstraint, list[int]] = {}
        self.needs_room: set[int] = set()
        self.preferred_rooms: dict[int, set[str]] = {}
        for c in instance.constraints:
            if isinstance(c, _ROOM_TYPES):
                targets = self.room_targets(c)
                if c.weight >= HARD:
                    self.needs_room.update(targets)
                if isinstance(c, _PREFERRED_TYPES):
                    for aid in targets:
                        self.preferred_rooms.setdefault(aid, set()).update(c.rooms)
        self._basic_rules()

    # placements

    def _place(self, timetable: Timetable) -> None:
        rooms = {r.name for r in self.instance.rooms}
        seen: set[int] = set()
        for p in timetable.placements:
            a = self.acts.get(p.activity)
            if a is None:
                self._basic(
                    "UnknownActivity", f"placement of activity {p.activity}, not in the instance"
                )
                continue
            if p.activity in seen:
                self._basic("DuplicatePlacement", f"activity {p.activity} placed more than once")
                continue
            seen.add(p.activity)
            if not (0 <= p.day < self.nd and 0 <= p.hour and p.hour + a.duration <= self.nh):
                self._basic(
                    "OutsideGrid",
                    f"activity {a.id} ({_describe(a)}) at day {p.day}, hour {p.hour}, "
                    f"duration {a.duration}: outside the {self.nd}×{self.nh} grid or across the "
                    "end of the day",
                )
                continue
            self.at[a.id] = (p.day, p.hour)
            if p.room is not None and p.room not in rooms:
                self.bad_room.add(a.id)
                self._basic(
                    "UnknownRoom", f"activity {a.id} ({_describe(a)}) in unknown room {p.room}"
                )
                self.room[a.id] = None
            else:
                self.room[a.id] = p.room
                self._place_real(a, p)
        for a in self.instance.activities:
            if a.id not in seen:
                self._basic("Unplaced", f"activity {a.id} ({_describe(a)}) is not placed")

    def _place_real(self, a: Activity, p: Placement) -> None:
        """A lesson in a virtual room takes one real room of each of its
        sets, all different; a lesson in a real room takes no others."""
        sets = self.virtual.get(p.room or "", ())
        if not sets and not p.real_rooms:
            return
        real = p.real_rooms
        if (
            len(real) != len(sets)
            or len(set(real)) < len(real)
            or any(x not in s for x, s in zip(real, sets, strict=False))
        ):
            self._basic(
                "RealRooms",
                f"activity {a.id} ({_describe(a)}) in room {p.room} with real rooms "
                f"{list(real)}: "
                + (
                    f"needs one of each of its {len(sets)} sets, all different"
                    if sets
                    else "not a virtual room"
                ),
            )
        # the real rooms that exist are marked busy all the same
        self.real[a.id] = tuple(x for x in _unique(list(real)) if x in self.real_names)

    def _basic(self, kind: str, detail: str, amount: int = 1) -> None:
        self.basic.append(Violation(type=kind, weight=HARD, amount=amount, detail=detail))

    def _mark(self, mats: dict[str, _Matrix], key: str, d: int, h: int, duration: int) -> None:
        m = mats.get(key)
        if m is None:
            m = mats[key] = [[0] * self.nh for _ in range(self.nd)]
        row = m[d]
        for hh in range(h, h + duration):
            row[hh] += 1

    def _basic_rules(self) -> None:
        for kind, mats, what in (
            ("TeacherConflict", self.t_mat, "teacher"),
            ("SubgroupConflict", self.s_mat, "subgroup"),
            ("RoomConflict", self.r_mat, "room"),
        ):
            for name, m in mats.items():
                for d in range(self.nd):
                    for h in range(self.nh):
                        if m[d][h] > 1:
                            self._basic(
                                kind,
                                f"{what} {name} has {m[d][h]} activities at {self.slot(d, h)}",
                                m[d][h] - 1,
                            )
        capacity = {r.name: r.capacity for r in self.instance.rooms}
        for aid in self.at:
            a = self.acts[aid]
            room = self.room[aid]
            if room is None:
                if aid in self.needs_room and aid not in self.bad_room:
                    self._basic("RoomMissing", f"activity {aid} ({_describe(a)}) needs a room")
                continue
            cap = capacity.get(room)
            learners = self.learners(a)
            if cap is not None and learners > cap:
                self._basic(
                    "RoomCapacity",
                    f"activity {aid} ({_describe(a)}) has {learners} learners in room {room} "
                    f"of capacity {cap}",
                )

    # lookups

    def slot(self, d: int, h: int) -> str:
        return f"{self.instance.days[d].name} {self.instance.hours[h].name}"

    def day(self, d: int) -> str:
        return self.instance.days[d].name

    def valid(self, slot: Slot) -> bool:
        return 0 <= slot[0] < self.nd and 0 <= slot[1] < self.nh

    def subgroups_of(self, students: str) -> tuple[str, ...]:
        got = self._subgroups_cache.get(students)
        if got is None:
            s = self._sets.get(students)
            got = _unique(s.subgroups or (s.name,)) if s is not None else (students,)
            self._subgroups_cache[students] = got
        return got

    def act_subgroups(self, a: Activity) -> tuple[str, ...]:
        return _unique([g for s in a.students for g in self.subgroups_of(s)])

    def share(self, a: str, b: str) -> bool:
        return not set(self.subgroups_of(a)).isdisjoint(self.subgroups_of(b))

    def learners(self, a: Activity) -> int:
        if a.students_count is not None:
            return a.students_count
        return sum(self._sets[s].students for s in a.students if s in self._sets)

    def teacher_row(self, t: str, d: int) -> list[int]:
        return self.t_mat.get(t, self._zero)[d]

    def subgroup_row(self, g: str, d: int) -> list[int]:
        return self.s_mat.get(g, self._zero)[d]

    def tag_rows(self, who: str, name: str, tag: str) -> _Matrix:
        """The days × hours of a teacher's (`who` "t") or a subgroup's ("s")
        activities that have this tag."""
        key = (who, name, tag)
        got = self._tag_rows.get(key)
        if got is None:
            got = [[0] * self.nh for _ in range(self.nd)]
            for aid, (d, h) in self.at.items():
                a = self.acts[aid]
                mine = name in a.teachers if who == "t" else name in self.act_subgroups(a)
                if tag in a.tags and mine:
                    for hh in range(h, h + a.duration):
                        got[d][hh] += 1
            self._tag_rows[key] = got
        return got

    def building_rows(self, who: str, name: str) -> list[list[str | None]]:
        """Per day and hour, the building of the room of the teacher's (`who`
        "t") or the subgroup's ("s") lesson there; None: no lesson, or one
        without a room or whose room has no building (FET skips those)."""
        key = (who, name)
        got = self._building_rows.get(key)
        if got is None:
            got = [[None] * self.nh for _ in range(self.nd)]
            for aid, (d, h) in self.at.items():
                a = self.acts[aid]
                mine = name in a.teachers if who == "t" else name in self.act_subgroups(a)
                room = self.room.get(aid)
                building = self.building.get(room) if room is not None else None
                if mine and building:
                    for hh in range(h, h + a.duration):
                        got[d][hh] = building
            self._building_rows[key] = got
        return got

    def occupied(self, aid: int) -> Iterator[Slot]:
        d, h = self.at[aid]
        for hh in range(h, h + self.acts[aid].duration):
            yield (d, hh)

    def matching(self, f: ActivityFilter) -> list[Activity]:
        return [a for a in self.instance.activities if self.matches(a, f)]

    def matches(self, a: Activity, f: ActivityFilter) -> bool:
        if f.teacher is not None and f.teacher not in a.teachers:
            return False
        if f.students is not None and not any(self.share(s, f.students) for s in a.students):
            return False
        if f.subject is not None and a.subject != f.subject:
            return False
        if f.tag is not None and f.tag not in a.tags:
            return False
        if f.duration is not None and a.duration != f.duration:
            return False
        if f.component is not None:
            component = a.id - a.group_id + 1 if a.group_id else 1
            if component != f.component:
                return False
        return True

    def room_targets(self, c: _RoomConstraint) -> list[int]:
        got = self._room_targets.get(c)
        if got is None:
            got = self._room_targets[c] = self._room_applies(c)
        return got

    def _room_applies(self, c: _RoomConstraint) -> list[int]:
        acts = self.instance.activities
        if isinstance(c, ActivityPreferredRooms):
            return [c.activity] if c.activity in self.acts else []
        if isinstance(c, SubjectPreferredRooms):
            return [a.id for a in acts if a.subject == c.subject]
        if isinstance(c, ActivityTagPreferredRooms):
            return [a.id for a in acts if c.tag in a.tags]
        if isinstance(c, SubjectActivityTagPreferredRooms):
            return [a.id for a in acts if a.subject == c.subject and c.tag in a.tags]
        if isinstance(c, StudentsSetHomeRooms):
            return [a.id for a in acts if a.students == (c.students,)]
        return [a.id for a in acts if a.teachers == (c.teacher,)]

    def ids(self, ids: Iterable[int]) -> list[int]:
        """The listed activities that exist (FET skips the others)."""
        return [i for i in ids if i in self.acts]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _describe(a: Activity) -> str:
    parts = [a.subject]
    if a.teachers:
        parts.append(",".join(a.teachers))
    if a.students:
        parts.append(",".join(a.students))
    return " / ".join(parts)


# --- day profiles -------------------------------------------------------------------


def _gaps(row: list[int], d: int, excluded: set[Slot], breaks: set[Slot]) -> int:
    """Empty slots between the first and the last busy slot of a day (FET)."""
    k = 0
    n = len(row)
    while k < n and row[k] == 0:
        k += 1
    gaps = count = 0
    for h in range(k, n):
        if (d, h) in breaks or (d, h) in excluded:
            continue
        if row[h] > 0:
            gaps += count
            count = 0
        else:
            count += 1
    return gaps


def _busy(row: list[int]) -> int:
    return sum(1 for x in row if x > 0)


def _runs(row: list[int]) -> Iterator[int]:
    """Lengths of the runs of consecutive busy slots."""
    run = 0
    for x in row:
        if x > 0:
            run += 1
        else:
            if run:
                yield run
            run = 0
    if run:
        yield run


# --- time constraints ---------------------------------------------------------------


def _break_times(ctx: _Context, c: BreakTimes) -> Iterator[_Found]:
    slots = Counter(c.slots)
    for aid in ctx.at:
        n = sum(slots[s] for s in ctx.occupied(aid))
        if n:
            d, h = ctx.at[aid]
            yield n, f"activity {aid} at {ctx.slot(d, h)} covers {n} break slot(s)"


def _teacher_not_available(ctx: _Context, c: TeacherNotAvailableTimes) -> Iterator[_Found]:
    m = ctx.t_mat.get(c.teacher)
    if m is None:
        return
    for d, h in c.slots:
        if ctx.valid((d, h)) and m[d][h]:
            yield m[d][h], f"teacher {c.teacher} busy at {ctx.slot(d, h)} (not available)"


def _students_not_available(ctx: _Context, c: StudentsSetNotAvailableTimes) -> Iterator[_Found]:
    for g in ctx.subgroups_of(c.students):
        m = ctx.s_mat.get(g)
        if m is None:
            continue
        for d, h in c.slots:
            if ctx.valid((d, h)) and m[d][h]:
                yield m[d][h], f"subgroup {g} busy at {ctx.slot(d, h)} (not available)"


def _room_not_available(ctx: _Context, c: RoomNotAvailableTimes) -> Iterator[_Found]:
    m = ctx.v_mat.get(c.room) if c.room in ctx.virtual else ctx.r_mat.get(c.room)
    if m is None:
        return
    for d, h in c.slots:
        if ctx.valid((d, h)) and m[d][h]:
            yield m[d][h], f"room {c.room} used at {ctx.slot(d, h)} (not available)"


def _starts_in(start: tuple[int, int], slots: Iterable[Slot]) -> bool:
    d, h = start
    return any((sd < 0 or sd == d) and (sh < 0 or sh == h) for sd, sh in slots)


def _preferred_starting_time(ctx: _Context, c: ActivityPreferredStartingTime) -> Iterator[_Found]:
    at = ctx.at.get(c.activity)
    if at is None:
        return
    d, h = at
    if (c.day is not None and c.day != d) or (c.hour is not None and c.hour != h):
        yield 1, f"activity {c.activity} starts at {ctx.slot(d, h)}"


def _preferred_starting_times(ctx: _Context, c: ActivityPreferredStartingTimes) -> Iterator[_Found]:
    at = ctx.at.get(c.activity)
    if at is not None and not _starts_in(at, c.slots):
        yield 1, f"activity {c.activity} starts at {ctx.slot(*at)}"


def _outside_slots(ctx: _Context, aid: int, allowed: set[Slot]) -> Iterator[_Found]:
    if aid not in ctx.at:
        return
    n = sum(1 for s in ctx.occupied(aid) if s not in allowed)
    if n:
        yield n, f"activity {aid} at {ctx.slot(*ctx.at[aid])} has {n} hour(s) outside its slots"


def _preferred_time_slots(ctx: _Context, c: ActivityPreferredTimeSlots) -> Iterator[_Found]:
    yield from _outside_slots(ctx, c.activity, set(c.slots))


def _activities_starting_times(
    ctx: _Context, c: ActivitiesPreferredStartingTimes
) -> Iterator[_Found]:
    for a in ctx.matching(c.filter):
        at = ctx.at.get(a.id)
        if at is not None and not _starts_in(at, c.slots):
            yield 1, f"activity {a.id} ({_describe(a)}) starts at {ctx.slot(*at)}"


def _activities_time_slots(ctx: _Context, c: ActivitiesPreferredTimeSlots) -> Iterator[_Found]:
    allowed = set(c.slots)
    for a in ctx.matching(c.filter):
        yield from _outside_slots(ctx, a.id, allowed)


def _placed_pairs(ctx: _Context, ids: Iterable[int]) -> Iterator[tuple[int, int]]:
    placed = [i for i in ctx.ids(ids) if i in ctx.at]
    for x in range(1, len(placed)):
        for y in range(x):
            yield placed[x], placed[y]


def _min_days(ctx: _Context, c: MinDaysBetweenActivities) -> Iterator[_Found]:
    real = ctx.instance.real_day
    for i, j in _placed_pairs(ctx, c.activities):
        di, dj = ctx.at[i][0], ctx.at[j][0]
        dist = abs(real(di) - real(dj))
        if dist < c.min_days:
            yield (
                c.min_days - dist,
                f"activities {i} and {j} on {ctx.day(di)} and {ctx.day(dj)}, "
                f"{c.min_days - dist} day(s) too close",
            )


def _max_days(ctx: _Context, c: MaxDaysBetweenActivities) -> Iterator[_Found]:
    """Per pair, the days too far apart."""
    for i, j in _placed_pairs(ctx, c.activities):
        dist = abs(ctx.at[i][0] - ctx.at[j][0])
        if dist > c.max_days:
            yield dist - c.max_days, f"activities {i} and {j} {dist} days apart, max {c.max_days}"


def _min_days_not_consecutive(ctx: _Context, c: MinDaysBetweenActivities) -> Iterator[str]:
    real = ctx.instance.real_day
    for i, j in _placed_pairs(ctx, c.activities):
        (di, hi), (dj, hj) = ctx.at[i], ctx.at[j]
        if real(di) == real(dj) and c.min_days > 0:
            if di != dj or (hi + ctx.acts[i].duration != hj and hj + ctx.acts[j].duration != hi):
                yield (
                    f"activities {i} and {j} on the same day ({ctx.day(di)}, {ctx.day(dj)}) "
                    "but not back to back (consecutive if same day)"
                )


def _same_starting_time(ctx: _Context, c: ActivitiesSameStartingTime) -> Iterator[_Found]:
    for i, j in _placed_pairs(ctx, c.activities):
        if ctx.at[i] != ctx.at[j]:
            yield 1, f"activities {i} ({ctx.slot(*ctx.at[i])}) and {j} ({ctx.slot(*ctx.at[j])})"


def _same_starting_day(ctx: _Context, c: ActivitiesSameStartingDay) -> Iterator[_Found]:
    for i, j in _placed_pairs(ctx, c.activities):
        if ctx.at[i][0] != ctx.at[j][0]:
            yield 1, f"activities {i} ({ctx.day(ctx.at[i][0])}) and {j} ({ctx.day(ctx.at[j][0])})"


def _same_starting_hour(ctx: _Context, c: ActivitiesSameStartingHour) -> Iterator[_Found]:
    for i, j in _placed_pairs(ctx, c.activities):
        if ctx.at[i][1] != ctx.at[j][1]:
            yield 1, f"activities {i} ({ctx.slot(*ctx.at[i])}) and {j} ({ctx.slot(*ctx.at[j])})"


def _max_simultaneous(
    ctx: _Context, c: ActivitiesMaxSimultaneousInSelectedTimeSlots
) -> Iterator[_Found]:
    count: Counter[Slot] = Counter()
    for aid in ctx.ids(c.activities):
        if aid in ctx.at:
            count.update(ctx.occupied(aid))
    for slot in _unique_slots(c.slots):
        if count[slot] > c.max_simultaneous:
            yield (
                1,
                f"{count[slot]} of the activities at {ctx.slot(*slot)}, max {c.max_simultaneous}",
            )


def _unique_slots(slots: Iterable[Slot]) -> list[Slot]:
    return list(dict.fromkeys(slots))


def _not_overlapping(ctx: _Context, c: ActivitiesNotOverlapping) -> Iterator[_Found]:
    for i, j in _placed_pairs(ctx, c.activities):
        (di, hi), (dj, hj) = ctx.at[i], ctx.at[j]
        if di == dj:
            n = min(hi + ctx.acts[i].duration, hj + ctx.acts[j].duration) - max(hi, hj)
            if n > 0:
                yield n, f"activities {i} and {j} overlap {n} hour(s) on {ctx.day(di)}"


def _min_gaps(ctx: _Context, c: MinGapsBetweenActivities) -> Iterator[_Found]:
    """Per pair on one day, the hours missing between the earlier one's end
    and the later one's start (FET: "2 more needed hours between them")."""
    for i, j in _placed_pairs(ctx, c.activities):
        (di, hi), (dj, hj) = ctx.at[i], ctx.at[j]
        if di == dj:
            gap = hj - (hi + ctx.acts[i].duration) if hj >= hi else hi - (hj + ctx.acts[j].duration)
            if gap < c.min_gaps:
                yield (
                    c.min_gaps - gap,
                    f"activities {i} and {j} on {ctx.day(di)} {max(gap, 0)} hour(s) apart",
                )


def _max_rooms(ctx: _Context, c: ActivitiesOccupyMaxDifferentRooms) -> Iterator[_Found]:
    """1 when the activities' rooms (those placed in one) are more than the max."""
    used = {r for a in ctx.ids(c.activities) if a in ctx.at and (r := ctx.room[a]) is not None}
    if len(used) > c.max_rooms:
        yield 1, f"the activities take {len(used)} rooms, max {c.max_rooms}: {sorted(used)}"


def _same_room_if_consecutive(
    ctx: _Context, c: ActivitiesSameRoomIfConsecutive
) -> Iterator[_Found]:
    """1 per pair back to back on a day (by hours: one starts where the
    other ends) in two different rooms (FET's count; a lesson without a room
    breaks nothing)."""
    for i, j in _placed_pairs(ctx, c.activities):
        (di, hi), (dj, hj) = ctx.at[i], ctx.at[j]
        ri, rj = ctx.room.get(i), ctx.room.get(j)
        touching = hi + ctx.acts[i].duration == hj or hj + ctx.acts[j].duration == hi
        if di == dj and touching and ri is not None and rj is not None and ri != rj:
            yield 1, f"activities {i} and {j} back to back on {ctx.day(di)} in rooms {ri}, {rj}"


def _occupy_max(ctx: _Context, c: ActivitiesOccupyMaxTimeSlotsFromSelection) -> Iterator[_Found]:
    used = {s for aid in ctx.ids(c.activities) if aid in ctx.at for s in ctx.occupied(aid)}
    n = sum(1 for s in c.slots if s in used)
    if n > c.max_occupied:
        yield 1, f"{n} of the selected slots occupied, max {c.max_occupied}"


def _ends_day(ctx: _Context, a: Activity) -> bool:
    d, h = ctx.at[a.id]
    end = h + a.duration
    return any(any(ctx.subgroup_row(g, d)[end:]) for g in ctx.act_subgroups(a))


def _activity_ends_day(ctx: _Context, c: ActivityEndsStudentsDay) -> Iterator[_Found]:
    a = ctx.acts.get(c.activity)
    if a is not None and a.id in ctx.at and _ends_day(ctx, a):
        yield 1, f"activity {a.id} at {ctx.slot(*ctx.at[a.id])} is not the last of its students"


def _activities_end_day(ctx: _Context, c: ActivitiesEndStudentsDay) -> Iterator[_Found]:
    for a in ctx.matching(c.filter):
        if a.id in ctx.at and _ends_day(ctx, a):
            yield 1, f"activity {a.id} at {ctx.slot(*ctx.at[a.id])} is not the last of its students"


def _next_after_breaks(ctx: _Context, d: int, h: int) -> int:
    while h < ctx.nh and (d, h) in ctx.breaks:
        h += 1
    return h


def _follows(ctx: _Context, first: int, second: int) -> bool:
    (fd, fh), (sd, sh) = ctx.at[first], ctx.at[second]
    end = fh + ctx.acts[first].duration
    return fd == sd and end <= sh and _next_after_breaks(ctx, fd, end) == sh


def _two_consecutive(ctx: _Context, c: TwoActivitiesConsecutive) -> Iterator[_Found]:
    if c.first in ctx.at and c.second in ctx.at and not _follows(ctx, c.first, c.second):
        yield (
            1,
            (
                f"activity {c.second} ({ctx.slot(*ctx.at[c.second])}) does not follow "
                f"{c.first} ({ctx.slot(*ctx.at[c.first])})"
            ),
        )


def _two_grouped(ctx: _Context, c: TwoActivitiesGrouped) -> Iterator[_Found]:
    if c.first in ctx.at and c.second in ctx.at:
        if not (_follows(ctx, c.first, c.second) or _follows(ctx, c.second, c.first)):
            yield (
                1,
                (
                    f"activities {c.first} ({ctx.slot(*ctx.at[c.first])}) and "
                    f"{c.second} ({ctx.slot(*ctx.at[c.second])}) are not back to back"
                ),
            )


def _ordered(ctx: _Context, first: int, second: int) -> bool:
    """`second` starts after `first` ends (on its day or a later one)."""
    (fd, fh), (sd, sh) = ctx.at[first], ctx.at[second]
    return fd < sd or (fd == sd and fh + ctx.acts[first].duration <= sh)


def _two_ordered(ctx: _Context, c: TwoActivitiesOrdered) -> Iterator[_Found]:
    if c.first in ctx.at and c.second in ctx.at and not _ordered(ctx, c.first, c.second):
        yield (
            1,
            (
                f"activity {c.second} ({ctx.slot(*ctx.at[c.second])}) does not come after "
                f"{c.first} ({ctx.slot(*ctx.at[c.first])})"
            ),
        )


def _two_ordered_same_day(ctx: _Context, c: TwoActivitiesOrderedIfSameDay) -> Iterator[_Found]:
    if c.first in ctx.at and c.second in ctx.at:
        if ctx.at[c.first][0] == ctx.at[c.second][0] and not _ordered(ctx, c.first, c.second):
            yield (
                1,
                (
                    f"activity {c.second} ({ctx.slot(*ctx.at[c.second])}) comes before "
                    f"{c.first} ({ctx.slot(*ctx.at[c.first])}) ends on that day"
                ),
            )


def _three_grouped(ctx: _Context, c: ThreeActivitiesGrouped) -> Iterator[_Found]:
    three = (c.first, c.second, c.third)
    if all(a in ctx.at for a in three):
        if not any(
            _follows(ctx, p, q) and _follows(ctx, q, r) for p, q, r in itertools.permutations(three)
        ):
            yield (
                1,
                "activities "
                + ", ".join(f"{a} ({ctx.slot(*ctx.at[a])})" for a in three)
                + " are not back to back",
            )


# students


def _subgroups(ctx: _Context, students: str | None) -> tuple[str, ...]:
    return ctx.subgroups if students is None else ctx.subgroups_of(students)


def _students_gaps_week(ctx: _Context, c: StudentsMaxGapsPerWeek) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        na = ctx.s_na.get(g, set())
        gaps = sum(_gaps(ctx.subgroup_row(g, d), d, na, ctx.breaks) for d in range(ctx.nd))
        if gaps > c.max_gaps:
            yield gaps - c.max_gaps, f"subgroup {g} has {gaps} gaps in the week, max {c.max_gaps}"


def _students_gaps_day(ctx: _Context, c: StudentsMaxGapsPerDay) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        na = ctx.s_na.get(g, set())
        for d in range(ctx.nd):
            gaps = _gaps(ctx.subgroup_row(g, d), d, na, ctx.breaks)
            if gaps > c.max_gaps:
                yield (
                    gaps - c.max_gaps,
                    (f"subgroup {g} has {gaps} gaps on {ctx.day(d)}, max {c.max_gaps}"),
                )


def _students_early(ctx: _Context, c: StudentsEarlyMaxBeginningsAtSecondHour) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        na = ctx.s_na.get(g, set())
        late_days = 0
        for d in range(ctx.nd):
            row = ctx.subgroup_row(g, d)
            free = [h for h in range(ctx.nh) if (d, h) not in ctx.breaks and (d, h) not in na]
            if not free:
                continue
            first_occupied = row[free[0]] > 0
            occupied = first_occupied
            illegal = False
            for h in free[1:]:
                if occupied:
                    break
                if row[h] > 0:
                    occupied = True
                else:
                    illegal = True
            if occupied and illegal:
                yield 1, f"subgroup {g} starts after the second hour on {ctx.day(d)}"
            if occupied and not first_occupied:
                late_days += 1
        if late_days > c.max_beginnings:
            yield (
                late_days - c.max_beginnings,
                (
                    f"subgroup {g} starts at the second hour on {late_days} days, "
                    f"max {c.max_beginnings}"
                ),
            )


def _students_min_hours(ctx: _Context, c: StudentsMinHoursDaily) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        for d in range(ctx.nd):
            n = _busy(ctx.subgroup_row(g, d))
            if (n > 0 or not c.allow_empty_days) and n < c.min_hours:
                yield (
                    c.min_hours - n,
                    (f"subgroup {g} has {n} hour(s) on {ctx.day(d)}, min {c.min_hours}"),
                )


def _students_max_hours(ctx: _Context, c: StudentsMaxHoursDaily) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        for d in range(ctx.nd):
            n = _busy(ctx.subgroup_row(g, d))
            if n > c.max_hours:
                yield 1, f"subgroup {g} has {n} hours on {ctx.day(d)}, max {c.max_hours}"


def _real_day_hours(
    ctx: _Context,
    c: StudentsMaxHoursDailyRealDays | TeacherMaxHoursDailyRealDays,
    who: str,
    rows: list[list[int]],
) -> Iterator[_Found]:
    """Real days (`Instance.days_per_real_day`) on which `rows` (one a day)
    hold more than c's max hours, one violation each."""
    n = ctx.instance.days_per_real_day
    for r in range(ctx.nd // n):
        hours = sum(_busy(row) for row in rows[r * n : r * n + n])
        if hours > c.max_hours:
            yield 1, f"{who} has {hours} hours on real day {r + 1}, max {c.max_hours}"


def _students_max_hours_real(ctx: _Context, c: StudentsMaxHoursDailyRealDays) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        rows = [ctx.subgroup_row(g, d) for d in range(ctx.nd)]
        yield from _real_day_hours(ctx, c, f"subgroup {g}", rows)


# teachers


def _teachers(ctx: _Context, teacher: str | None) -> tuple[str, ...]:
    return ctx.teachers if teacher is None else (teacher,)


def _teacher_gaps_week(ctx: _Context, c: TeacherMaxGapsPerWeek) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        na = ctx.t_na.get(t, set())
        gaps = sum(_gaps(ctx.teacher_row(t, d), d, na, ctx.breaks) for d in range(ctx.nd))
        if gaps > c.max_gaps:
            yield gaps - c.max_gaps, f"teacher {t} has {gaps} gaps in the week, max {c.max_gaps}"


def _teacher_gaps_day(ctx: _Context, c: TeacherMaxGapsPerDay) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        na = ctx.t_na.get(t, set())
        for d in range(ctx.nd):
            gaps = _gaps(ctx.teacher_row(t, d), d, na, ctx.breaks)
            if gaps > c.max_gaps:
                yield (
                    gaps - c.max_gaps,
                    (f"teacher {t} has {gaps} gaps on {ctx.day(d)}, max {c.max_gaps}"),
                )


def _teacher_max_days(ctx: _Context, c: TeacherMaxDaysPerWeek) -> Iterator[_Found]:
    drop = ctx.nd - c.max_days
    if drop <= 0:
        return
    for t in _teachers(ctx, c.teacher):
        loads = sorted(_busy(ctx.teacher_row(t, d)) for d in range(ctx.nd))
        n = sum(loads[:drop])
        if n:
            days = sum(1 for x in loads if x)
            yield n, f"teacher {t} works on {days} days, max {c.max_days}"


def _teacher_min_days(ctx: _Context, c: TeacherMinDaysPerWeek) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        days = sum(1 for d in range(ctx.nd) if _busy(ctx.teacher_row(t, d)))
        if days < c.min_days:
            yield c.min_days - days, f"teacher {t} works on {days} days, min {c.min_days}"


def _teacher_max_hours(ctx: _Context, c: TeacherMaxHoursDaily) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        for d in range(ctx.nd):
            n = _busy(ctx.teacher_row(t, d))
            if n > c.max_hours:
                yield 1, f"teacher {t} has {n} hours on {ctx.day(d)}, max {c.max_hours}"


def _teacher_max_hours_real(ctx: _Context, c: TeacherMaxHoursDailyRealDays) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        rows = [ctx.teacher_row(t, d) for d in range(ctx.nd)]
        yield from _real_day_hours(ctx, c, f"teacher {t}", rows)


def _teacher_min_hours(ctx: _Context, c: TeacherMinHoursDaily) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        for d in range(ctx.nd):
            n = _busy(ctx.teacher_row(t, d))
            if (n > 0 or not c.allow_empty_days) and n < c.min_hours:
                yield 1, f"teacher {t} has {n} hour(s) on {ctx.day(d)}, min {c.min_hours}"


def _students_continuously(ctx: _Context, c: StudentsMaxHoursContinuously) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        for d in range(ctx.nd):
            for run in _runs(ctx.subgroup_row(g, d)):
                if run > c.max_hours:
                    yield (
                        1,
                        f"subgroup {g} has {run} hours in a row on {ctx.day(d)}, max {c.max_hours}",
                    )


def _teacher_continuously(ctx: _Context, c: TeacherMaxHoursContinuously) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        for d in range(ctx.nd):
            for run in _runs(ctx.teacher_row(t, d)):
                if run > c.max_hours:
                    yield (
                        1,
                        (
                            f"teacher {t} teaches {run} hours in a row on {ctx.day(d)}, "
                            f"max {c.max_hours}"
                        ),
                    )


def _tag_daily(
    ctx: _Context,
    c: TeacherActivityTagMaxHoursDaily | StudentsActivityTagMaxHoursDaily,
    who: str,
    names: Iterable[str],
) -> Iterator[_Found]:
    for name in names:
        rows = ctx.tag_rows(who, name, c.tag)
        for d in range(ctx.nd):
            n = _busy(rows[d])
            if n > c.max_hours:
                yield (
                    1,
                    f"{_WHO[who]} {name} has {n} hour(s) of tag {c.tag} on {ctx.day(d)}, "
                    f"max {c.max_hours}",
                )


def _tag_continuously(
    ctx: _Context,
    c: TeacherActivityTagMaxHoursContinuously | StudentsActivityTagMaxHoursContinuously,
    who: str,
    names: Iterable[str],
) -> Iterator[_Found]:
    for name in names:
        rows = ctx.tag_rows(who, name, c.tag)
        for d in range(ctx.nd):
            for run in _runs(rows[d]):
                if run > c.max_hours:
                    yield (
                        1,
                        f"{_WHO[who]} {name} has {run} hours of tag {c.tag} in a row on "
                        f"{ctx.day(d)}, max {c.max_hours}",
                    )


_WHO = {"t": "teacher", "s": "subgroup"}


def _people(ctx: _Context, c: MaxSpanPerDay | MinRestingHours) -> Iterator[tuple[str, _Matrix]]:
    """(name, days × hours) of each person a span or resting-hours
    constraint is about."""
    if c.students is not None or c.all_students:
        for g in _subgroups(ctx, c.students):
            yield f"subgroup {g}", [ctx.subgroup_row(g, d) for d in range(ctx.nd)]
    else:
        for t in _teachers(ctx, c.teacher):
            yield f"teacher {t}", [ctx.teacher_row(t, d) for d in range(ctx.nd)]


def _max_span(ctx: _Context, c: MaxSpanPerDay) -> Iterator[_Found]:
    """1 per day whose first to last lesson spans more hours than the max."""
    for who, rows in _people(ctx, c):
        for d, row in enumerate(rows):
            busy = [h for h, x in enumerate(row) if x > 0]
            if busy and busy[-1] - busy[0] + 1 > c.max_span:
                yield (
                    1,
                    f"{who} spans {busy[-1] - busy[0] + 1} hours on {ctx.day(d)}, max {c.max_span}",
                )


def _min_resting(ctx: _Context, c: MinRestingHours) -> Iterator[_Found]:
    """1 per night (a day's end to the next day's start; the week's last to
    its first when circular) with fewer free hours than the min."""
    nights = ctx.nd if c.circular else ctx.nd - 1
    for who, rows in _people(ctx, c):
        for d in range(nights):
            row, nxt = rows[d], rows[(d + 1) % ctx.nd]
            free = next((i for i, x in enumerate(reversed(row)) if x > 0), ctx.nh)
            free += next((i for i, x in enumerate(nxt) if x > 0), ctx.nh)
            if free < c.min_hours:
                yield (
                    1,
                    f"{who} rests {free} hours after {ctx.day(d)}, min {c.min_hours}",
                )


def _building_changes(row: list[str | None]) -> int:
    """FET's walk of a day: a lesson in another building than the last one
    with a building is a change (free hours do not matter)."""
    changes, last = 0, None
    for b in row:
        if b is not None and b != last:
            changes += last is not None
            last = b
    return changes


def _max_building_changes(
    ctx: _Context,
    c: TeacherMaxBuildingChanges | StudentsMaxBuildingChanges,
    who: str,
    names: Iterable[str],
) -> Iterator[_Found]:
    """The changes over the max, per person and day (`per_week`: and week)."""
    for name in names:
        per_day = [_building_changes(row) for row in ctx.building_rows(who, name)]
        spans = (
            [(sum(per_day), "the week")]
            if c.per_week
            else [(n, ctx.day(d)) for d, n in enumerate(per_day)]
        )
        for n, when in spans:
            if n > c.max_changes:
                yield (
                    n - c.max_changes,
                    f"{_WHO[who]} {name} changes building {n} times in {when}, max {c.max_changes}",
                )


def _building_gaps(
    ctx: _Context,
    c: TeacherMinGapsBetweenBuildingChanges | StudentsMinGapsBetweenBuildingChanges,
    who: str,
    names: Iterable[str],
) -> Iterator[_Found]:
    """1 per change after fewer than `min_gaps` hours without a lesson in a
    building."""
    for name in names:
        for d, row in enumerate(ctx.building_rows(who, name)):
            last, gaps = None, 0
            for b in row:
                if b is None:
                    gaps += 1
                    continue
                if last is not None and b != last and gaps < c.min_gaps:
                    yield (
                        1,
                        f"{_WHO[who]} {name} changes building from {last} to {b} on "
                        f"{ctx.day(d)} after {gaps} free hour(s), min {c.min_gaps}",
                    )
                last, gaps = b, 0


def _interval_days(
    c: TeacherIntervalMaxDaysPerWeek | StudentsIntervalMaxDaysPerWeek,
    who: str,
    rows: Iterable[list[int]],
) -> Iterator[_Found]:
    """Days whose row (one per day) is busy in c's interval, beyond c's max."""
    days = sum(1 for row in rows if any(row[c.start_hour : c.end_hour]))
    if days > c.max_days:
        yield days - c.max_days, f"{who} busy in the interval on {days} days, max {c.max_days}"


def _teacher_interval_days(ctx: _Context, c: TeacherIntervalMaxDaysPerWeek) -> Iterator[_Found]:
    for t in _teachers(ctx, c.teacher):
        rows = (ctx.teacher_row(t, d) for d in range(ctx.nd))
        yield from _interval_days(c, f"teacher {t}", rows)


def _students_interval_days(ctx: _Context, c: StudentsIntervalMaxDaysPerWeek) -> Iterator[_Found]:
    for g in _subgroups(ctx, c.students):
        rows = (ctx.subgroup_row(g, d) for d in range(ctx.nd))
        yield from _interval_days(c, f"subgroup {g}", rows)


# rooms


def _room_checked(ctx: _Context, aid: int) -> bool:
    """Placed and not already counted as a basic room violation."""
    if aid not in ctx.at or aid in ctx.bad_room:
        return False
    return not (ctx.room[aid] is None and aid in ctx.needs_room)


def _preferred_rooms(ctx: _Context, c: _PreferredRoomConstraint) -> Iterator[_Found]:
    rooms = set(c.rooms)
    real = c.real_rooms if isinstance(c, ActivityPreferredRooms) else ()
    for aid in ctx.room_targets(c):
        if _room_checked(ctx, aid) and ctx.room[aid] not in rooms:
            yield 1, f"activity {aid} in room {ctx.room[aid] or '(none)'}, not in {sorted(rooms)}"
        elif real and _room_checked(ctx, aid) and set(ctx.real.get(aid, ())) != set(real):
            yield 1, f"activity {aid} in real rooms {list(ctx.real.get(aid, ()))}, not {list(real)}"


def _home_rooms(ctx: _Context, c: StudentsSetHomeRooms | TeacherHomeRooms) -> Iterator[_Found]:
    rooms = set(c.rooms)
    for aid in ctx.room_targets(c):
        if not _room_checked(ctx, aid):
            continue
        room = ctx.room[aid]
        if room is None or (room not in rooms and room not in ctx.preferred_rooms.get(aid, ())):
            yield 1, f"activity {aid} in room {room or '(none)'}, not in {sorted(rooms)}"


def _evaluate(ctx: _Context, c: Constraint) -> Iterator[_Found]:
    match c:
        case BreakTimes():
            return _break_times(ctx, c)
        case TeacherNotAvailableTimes():
            return _teacher_not_available(ctx, c)
        case StudentsSetNotAvailableTimes():
            return _students_not_available(ctx, c)
        case RoomNotAvailableTimes():
            return _room_not_available(ctx, c)
        case ActivityPreferredStartingTime():
            return _preferred_starting_time(ctx, c)
        case ActivityPreferredStartingTimes():
            return _preferred_starting_times(ctx, c)
        case ActivityPreferredTimeSlots():
            return _preferred_time_slots(ctx, c)
        case ActivitiesPreferredStartingTimes():
            return _activities_starting_times(ctx, c)
        case ActivitiesPreferredTimeSlots():
            return _activities_time_slots(ctx, c)
        case MinDaysBetweenActivities():
            return _min_days(ctx, c)
        case ActivitiesSameStartingTime():
            return _same_starting_time(ctx, c)
        case ActivitiesSameStartingDay():
            return _same_starting_day(ctx, c)
        case ActivitiesNotOverlapping():
            return _not_overlapping(ctx, c)
        case MaxDaysBetweenActivities():
            return _max_days(ctx, c)
        case MinGapsBetweenActivities():
            return _min_gaps(ctx, c)
        case ActivitiesOccupyMaxTimeSlotsFromSelection():
            return _occupy_max(ctx, c)
        case ActivitiesOccupyMaxDifferentRooms():
            return _max_rooms(ctx, c)
        case ActivitiesSameRoomIfConsecutive():
            return _same_room_if_consecutive(ctx, c)
        case ActivityEndsStudentsDay():
            return _activity_ends_day(ctx, c)
        case ActivitiesEndStudentsDay():
            return _activities_end_day(ctx, c)
        case TwoActivitiesConsecutive():
            return _two_consecutive(ctx, c)
        case ActivitiesSameStartingHour():
            return _same_starting_hour(ctx, c)
        case ActivitiesMaxSimultaneousInSelectedTimeSlots():
            return _max_simultaneous(ctx, c)
        case TwoActivitiesOrdered():
            return _two_ordered(ctx, c)
        case TwoActivitiesOrderedIfSameDay():
            return _two_ordered_same_day(ctx, c)
        case ThreeActivitiesGrouped():
            return _three_grouped(ctx, c)
        case TeacherMinDaysPerWeek():
            return _teacher_min_days(ctx, c)
        case TeacherActivityTagMaxHoursDaily():
            return _tag_daily(ctx, c, "t", _teachers(ctx, c.teacher))
        case StudentsActivityTagMaxHoursDaily():
            return _tag_daily(ctx, c, "s", _subgroups(ctx, c.students))
        case TeacherActivityTagMaxHoursContinuously():
            return _tag_continuously(ctx, c, "t", _teachers(ctx, c.teacher))
        case StudentsActivityTagMaxHoursContinuously():
            return _tag_continuously(ctx, c, "s", _subgroups(ctx, c.students))
        case TeacherMaxBuildingChanges():
            return _max_building_changes(ctx, c, "t", _teachers(ctx, c.teacher))
        case StudentsMaxBuildingChanges():
            return _max_building_changes(ctx, c, "s", _subgroups(ctx, c.students))
        case TeacherMinGapsBetweenBuildingChanges():
            return _building_gaps(ctx, c, "t", _teachers(ctx, c.teacher))
        case StudentsMinGapsBetweenBuildingChanges():
            return _building_gaps(ctx, c, "s", _subgroups(ctx, c.students))
        case MaxSpanPerDay():
            return _max_span(ctx, c)
        case MinRestingHours():
            return _min_resting(ctx, c)
        case TwoActivitiesGrouped():
            return _two_grouped(ctx, c)
        case StudentsMaxGapsPerWeek():
            return _students_gaps_week(ctx, c)
        case StudentsMaxGapsPerDay():
            return _students_gaps_day(ctx, c)
        case StudentsEarlyMaxBeginningsAtSecondHour():
            return _students_early(ctx, c)
        case StudentsMinHoursDaily():
            return _students_min_hours(ctx, c)
        case StudentsMaxHoursDaily():
            return _students_max_hours(ctx, c)
        case TeacherMaxGapsPerWeek():
            return _teacher_gaps_week(ctx, c)
        case TeacherMaxGapsPerDay():
            return _teacher_gaps_day(ctx, c)
        case TeacherMaxDaysPerWeek():
            return _teacher_max_days(ctx, c)
        case TeacherMaxHoursDaily():
            return _teacher_max_hours(ctx, c)
        case TeacherMinHoursDaily():
            return _teacher_min_hours(ctx, c)
        case TeacherMaxHoursContinuously():
            return _teacher_continuously(ctx, c)
        case StudentsMaxHoursContinuously():
            return _students_continuously(ctx, c)
        case TeacherIntervalMaxDaysPerWeek():
            return _teacher_interval_days(ctx, c)
        case TeacherMaxHoursDailyRealDays():
            return _teacher_max_hours_real(ctx, c)
        case StudentsMaxHoursDailyRealDays():
            return _students_max_hours_real(ctx, c)
        case StudentsIntervalMaxDaysPerWeek():
            return _students_interval_days(ctx, c)
        case (
            ActivityPreferredRooms()
            | SubjectPreferredRooms()
            | ActivityTagPreferredRooms()
            | SubjectActivityTagPreferredRooms()
        ):
            return _preferred_rooms(ctx, c)
        case StudentsSetHomeRooms() | TeacherHomeRooms():
            return _home_rooms(ctx, c)
