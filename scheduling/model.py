"""The timetable model: what a school's week looks like and what must hold in it.

Pure data (msgspec Structs), no I/O. Everything else in `scheduling/` reads or
writes these: the FET reader and writer (`fet.py`), the CP-SAT solver
(`solver.py`), the independent checker (`checker.py`).

Time is a grid of `days × hours` of one period (jakso). A *slot* is
`(day, hour)` by index into `Instance.days` and `Instance.hours`; an activity of
duration `d` starting at `(day, hour)` occupies `hour … hour+d-1` of that day
and never crosses into the next day.

The conflict unit for learners is the *subgroup*: every students set (a year, a
group, a subgroup — a class, a teaching group, a part of one) names the
subgroups it contains, and two activities clash when their sets share a
subgroup. This is FET's model, and it is what a Finnish school's structure maps
to as well (a class is a group; its language groups are subgroups).

Constraints are typed structs in one tagged union. Each has a `weight` in
percent: 100 is hard (a timetable that breaks it is not a valid timetable),
anything below is soft and counts `weight/100` per violation into the soft
score, which is what FET reports as its "total soft conflicts". Where FET has a
singular and a plural form ("TeacherMaxDaysPerWeek" for one teacher,
"TeachersMaxDaysPerWeek" for all) the model has one struct whose subject is
`None` for "all".
"""

from __future__ import annotations

from datetime import date
from typing import TypeAlias

import msgspec

#: Weight of a hard constraint, in percent.
HARD = 100.0

#: (day index, hour index)
Slot: TypeAlias = tuple[int, int]


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# --- the school -------------------------------------------------------------


class Day(_Struct, frozen=True):
    name: str


class Hour(_Struct, frozen=True):
    """A lesson slot of the day; `start`/`end` as HH:MM when known."""

    name: str
    start: str | None = None
    end: str | None = None


class Period(_Struct, frozen=True):
    """A part of the school year (jakso) with its own timetable."""

    name: str
    starts: date | None = None
    ends: date | None = None


class Subject(_Struct, frozen=True):
    name: str


class Teacher(_Struct, frozen=True):
    name: str
    #: subjects the teacher is qualified to teach (used to rank substitutes)
    subjects: tuple[str, ...] = ()
    target_hours: int | None = None


class Room(_Struct, frozen=True):
    name: str
    capacity: int | None = None
    building: str | None = None
    #: e.g. "science", "gym", "music"; matched by subject preferences
    kind: str | None = None
    #: a virtual room (FET 6): its sets of real rooms. A lesson in it takes
    #: one real room of each set, all different (`Placement.real_rooms`);
    #: the virtual room itself is never double-booked, its real rooms are
    real_rooms: tuple[tuple[str, ...], ...] = ()

    @property
    def virtual(self) -> bool:
        return bool(self.real_rooms)


class StudentsSet(_Struct, frozen=True):
    """A year, group or subgroup, and the subgroups it consists of."""

    name: str
    kind: str = "subgroup"  # "year" | "group" | "subgroup"
    students: int = 0
    #: names of the subgroups this set contains (a subgroup contains itself)
    subgroups: tuple[str, ...] = ()


class Activity(_Struct, frozen=True):
    """One lesson of the week (or one part of a split lesson)."""

    id: int
    subject: str
    teachers: tuple[str, ...] = ()
    students: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    duration: int = 1
    #: parts of one split activity share the id of the first part (0: not split)
    group_id: int = 0
    total_duration: int = 0
    #: number of learners when the students sets do not say it
    students_count: int | None = None


# --- constraints --------------------------------------------------------------


class ActivityFilter(_Struct, frozen=True):
    """Selects activities by any combination of these (all must match)."""

    teacher: str | None = None
    students: str | None = None
    subject: str | None = None
    tag: str | None = None
    duration: int | None = None
    #: for sub-activity constraints: the 1-based part number within its group
    component: int | None = None


class _Constraint(_Struct, tag_field="type", frozen=True):
    weight: float = HARD


class BreakTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    """No activity may occupy these slots."""

    slots: tuple[Slot, ...]


class TeacherNotAvailableTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str
    slots: tuple[Slot, ...]


class StudentsSetNotAvailableTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    students: str
    slots: tuple[Slot, ...]


class RoomNotAvailableTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    room: str
    slots: tuple[Slot, ...]


class ActivityPreferredStartingTime(_Constraint, tag=True, kw_only=True, frozen=True):
    """Start on this day and/or hour (`None` = any). `locked`: FET's
    'permanently locked'; kept for round trips, the solver treats both alike."""

    activity: int
    day: int | None = None
    hour: int | None = None
    locked: bool = False


class ActivityPreferredStartingTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    activity: int
    slots: tuple[Slot, ...]


class ActivityPreferredTimeSlots(_Constraint, tag=True, kw_only=True, frozen=True):
    """Every slot the activity occupies must be one of these."""

    activity: int
    slots: tuple[Slot, ...]


class ActivitiesPreferredStartingTimes(_Constraint, tag=True, kw_only=True, frozen=True):
    filter: ActivityFilter
    slots: tuple[Slot, ...]


class ActivitiesPreferredTimeSlots(_Constraint, tag=True, kw_only=True, frozen=True):
    filter: ActivityFilter
    slots: tuple[Slot, ...]


class MinDaysBetweenActivities(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each pair of these activities at least `min_days` days apart; when a
    soft one is broken by placing two on one day and `consecutive_if_same_day`
    is set, those two must be back to back."""

    activities: tuple[int, ...]
    min_days: int = 1
    consecutive_if_same_day: bool = False


class MaxDaysBetweenActivities(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each pair of these activities at most `max_days` days apart."""

    activities: tuple[int, ...]
    max_days: int


class ActivitiesSameStartingTime(_Constraint, tag=True, kw_only=True, frozen=True):
    activities: tuple[int, ...]


class ActivitiesSameStartingDay(_Constraint, tag=True, kw_only=True, frozen=True):
    activities: tuple[int, ...]


class ActivitiesNotOverlapping(_Constraint, tag=True, kw_only=True, frozen=True):
    activities: tuple[int, ...]


class MinGapsBetweenActivities(_Constraint, tag=True, kw_only=True, frozen=True):
    """Two of these activities on one day have at least `min_gaps` hours
    between the end of the one and the start of the other."""

    activities: tuple[int, ...]
    min_gaps: int = 1


class ActivitiesSameStartingHour(_Constraint, tag=True, kw_only=True, frozen=True):
    """These activities start at the same hour, on any days."""

    activities: tuple[int, ...]


class ActivitiesMaxSimultaneousInSelectedTimeSlots(
    _Constraint, tag=True, kw_only=True, frozen=True
):
    """At each of these slots at most `max_simultaneous` of these activities."""

    activities: tuple[int, ...]
    slots: tuple[Slot, ...]
    max_simultaneous: int


class ActivitiesOccupyMaxDifferentRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    """These activities take at most `max_rooms` different rooms between
    them (FET: hard only)."""

    activities: tuple[int, ...]
    max_rooms: int


class ActivitiesSameRoomIfConsecutive(_Constraint, tag=True, kw_only=True, frozen=True):
    """Two of these activities back to back on a day (one starting where
    the other ends), both in a room, are in the same room (FET: hard only;
    1 per pair in different rooms)."""

    activities: tuple[int, ...]


class ActivitiesOccupyMaxTimeSlotsFromSelection(_Constraint, tag=True, kw_only=True, frozen=True):
    activities: tuple[int, ...]
    slots: tuple[Slot, ...]
    max_occupied: int


class ActivityEndsStudentsDay(_Constraint, tag=True, kw_only=True, frozen=True):
    """Nothing of this activity's learners comes after it on its day."""

    activity: int


class ActivitiesEndStudentsDay(_Constraint, tag=True, kw_only=True, frozen=True):
    filter: ActivityFilter


class TwoActivitiesConsecutive(_Constraint, tag=True, kw_only=True, frozen=True):
    """`second` starts right after `first` ends, on the same day."""

    first: int
    second: int


class TwoActivitiesGrouped(_Constraint, tag=True, kw_only=True, frozen=True):
    """The two are back to back on one day, in either order."""

    first: int
    second: int


class TwoActivitiesOrdered(_Constraint, tag=True, kw_only=True, frozen=True):
    """`second` starts after `first` ends: on a later day, or later on its day."""

    first: int
    second: int


class TwoActivitiesOrderedIfSameDay(_Constraint, tag=True, kw_only=True, frozen=True):
    """When on one day, `second` starts after `first` ends."""

    first: int
    second: int


class ThreeActivitiesGrouped(_Constraint, tag=True, kw_only=True, frozen=True):
    """The three are back to back on one day, in any order (break slots
    between them allowed, as for `TwoActivitiesGrouped`)."""

    first: int
    second: int
    third: int


class StudentsMaxGapsPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    """Per subgroup of `students` (`None`: every subgroup). Zero for
    Finnish basic education: no free lessons (hyppytunnit) between lessons."""

    students: str | None = None
    max_gaps: int = 0


class StudentsMaxGapsPerDay(_Constraint, tag=True, kw_only=True, frozen=True):
    students: str | None = None
    max_gaps: int = 0


class StudentsEarlyMaxBeginningsAtSecondHour(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup's day starts at the first hour, except on at most
    `max_beginnings` days where it starts at the second."""

    students: str | None = None
    max_beginnings: int = 0


class StudentsMinHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    students: str | None = None
    min_hours: int = 1
    allow_empty_days: bool = True


class StudentsMaxHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    students: str | None = None
    max_hours: int = 0


class StudentsMaxHoursDailyRealDays(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup at most `max_hours` on a real day (as
    `TeacherMaxHoursDailyRealDays`)."""

    students: str | None = None
    max_hours: int = 0


class StudentsMaxHoursContinuously(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup of the set (all when None) at most `max_hours` lessons
    in a row."""

    students: str | None = None
    max_hours: int = 0


class TeacherMaxGapsPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    max_gaps: int = 0


class TeacherMaxGapsPerDay(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    max_gaps: int = 0


class TeacherMaxDaysPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    max_days: int = 5


class MaxSpanPerDay(_Constraint, tag=True, kw_only=True, frozen=True):
    """A teacher's (`teacher`; every teacher when both are None) or each
    subgroup's of a set (`students`; `all_students`: every subgroup) day
    spans at most `max_span` hours from its first lesson to its last,
    inclusive (1 per day over: FET's count; hard only)."""

    teacher: str | None = None
    students: str | None = None
    all_students: bool = False
    max_span: int


class MinRestingHours(_Constraint, tag=True, kw_only=True, frozen=True):
    """At least `min_hours` free hours between a person's last lesson of a
    day and their first of the next (`circular`: the last day's to the
    first's too); the person as in `MaxSpanPerDay`. 1 per night too short
    (FET's count; hard only)."""

    teacher: str | None = None
    students: str | None = None
    all_students: bool = False
    min_hours: int
    circular: bool = True


class TeacherMinDaysPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    """The teacher (every teacher when None) teaches on at least `min_days`
    days."""

    teacher: str | None = None
    min_days: int = 1


class TeacherMaxHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    max_hours: int = 0


class TeacherMaxHoursDailyRealDays(_Constraint, tag=True, kw_only=True, frozen=True):
    """At most `max_hours` on a real day (its morning and afternoon together:
    `Instance.days_per_real_day`); FET's mornings-afternoons mode."""

    teacher: str | None = None
    max_hours: int = 0


class TeacherMinHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    min_hours: int = 1
    allow_empty_days: bool = True


class TeacherMaxHoursContinuously(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str | None = None
    max_hours: int = 0


class TeacherIntervalMaxDaysPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    """Busy in hours `start_hour … end_hour-1` on at most `max_days` days."""

    teacher: str | None = None
    start_hour: int = 0
    end_hour: int = 0
    max_days: int = 5


class StudentsIntervalMaxDaysPerWeek(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup of the set (of all students when None) busy in hours
    `start_hour … end_hour-1` on at most `max_days` days."""

    students: str | None = None
    start_hour: int = 0
    end_hour: int = 0
    max_days: int = 5


class TeacherActivityTagMaxHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    """At most `max_hours` a day of the teacher's (every teacher's when None)
    activities with this tag."""

    teacher: str | None = None
    tag: str
    max_hours: int = 0


class StudentsActivityTagMaxHoursDaily(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup of the set (all when None) at most `max_hours` a day of
    activities with this tag."""

    students: str | None = None
    tag: str
    max_hours: int = 0


class TeacherActivityTagMaxHoursContinuously(_Constraint, tag=True, kw_only=True, frozen=True):
    """At most `max_hours` in a row of the teacher's activities with this tag."""

    teacher: str | None = None
    tag: str
    max_hours: int = 0


class StudentsActivityTagMaxHoursContinuously(_Constraint, tag=True, kw_only=True, frozen=True):
    """Each subgroup at most `max_hours` in a row of activities with this tag."""

    students: str | None = None
    tag: str
    max_hours: int = 0


class TeacherMaxBuildingChanges(_Constraint, tag=True, kw_only=True, frozen=True):
    """At most `max_changes` building changes a day (`per_week`: in the
    week) for the teacher (every teacher when None). Walking the day hour by
    hour, a lesson in a room of another building than the last lesson's with
    a building is a change; lessons without a room or a building are
    skipped (FET's count)."""

    teacher: str | None = None
    max_changes: int = 0
    per_week: bool = False


class StudentsMaxBuildingChanges(_Constraint, tag=True, kw_only=True, frozen=True):
    """As `TeacherMaxBuildingChanges`, for each subgroup of the set (of all
    students when None)."""

    students: str | None = None
    max_changes: int = 0
    per_week: bool = False


class TeacherMinGapsBetweenBuildingChanges(_Constraint, tag=True, kw_only=True, frozen=True):
    """A building change of the teacher (every teacher when None) comes after
    at least `min_gaps` hours without a lesson in a building."""

    teacher: str | None = None
    min_gaps: int = 1


class StudentsMinGapsBetweenBuildingChanges(_Constraint, tag=True, kw_only=True, frozen=True):
    """As `TeacherMinGapsBetweenBuildingChanges`, for each subgroup."""

    students: str | None = None
    min_gaps: int = 1


class ActivityPreferredRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    """The activity takes one of these rooms (one room: FET's
    ActivityPreferredRoom; `locked` kept for round trips)."""

    activity: int
    rooms: tuple[str, ...]
    locked: bool = False
    #: with one virtual room: the real room taken of each of its sets (FET
    #: requires 100 % then)
    real_rooms: tuple[str, ...] = ()


class SubjectPreferredRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    subject: str
    rooms: tuple[str, ...]


class ActivityTagPreferredRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    tag: str
    rooms: tuple[str, ...]


class SubjectActivityTagPreferredRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    subject: str
    tag: str
    rooms: tuple[str, ...]


class StudentsSetHomeRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    students: str
    rooms: tuple[str, ...]


class TeacherHomeRooms(_Constraint, tag=True, kw_only=True, frozen=True):
    teacher: str
    rooms: tuple[str, ...]


Constraint: TypeAlias = (
    BreakTimes
    | TeacherNotAvailableTimes
    | StudentsSetNotAvailableTimes
    | RoomNotAvailableTimes
    | ActivityPreferredStartingTime
    | ActivityPreferredStartingTimes
    | ActivityPreferredTimeSlots
    | ActivitiesPreferredStartingTimes
    | ActivitiesPreferredTimeSlots
    | MinDaysBetweenActivities
    | MaxDaysBetweenActivities
    | ActivitiesSameStartingTime
    | ActivitiesSameStartingDay
    | ActivitiesNotOverlapping
    | MinGapsBetweenActivities
    | ActivitiesSameStartingHour
    | ActivitiesMaxSimultaneousInSelectedTimeSlots
    | ActivitiesOccupyMaxTimeSlotsFromSelection
    | ActivitiesOccupyMaxDifferentRooms
    | ActivitiesSameRoomIfConsecutive
    | ActivityEndsStudentsDay
    | ActivitiesEndStudentsDay
    | TwoActivitiesConsecutive
    | TwoActivitiesGrouped
    | TwoActivitiesOrdered
    | TwoActivitiesOrderedIfSameDay
    | ThreeActivitiesGrouped
    | StudentsMaxGapsPerWeek
    | StudentsMaxGapsPerDay
    | StudentsEarlyMaxBeginningsAtSecondHour
    | StudentsMinHoursDaily
    | StudentsMaxHoursDaily
    | StudentsMaxHoursContinuously
    | StudentsMaxHoursDailyRealDays
    | TeacherMaxGapsPerWeek
    | TeacherMaxGapsPerDay
    | TeacherMaxDaysPerWeek
    | TeacherMinDaysPerWeek
    | MaxSpanPerDay
    | MinRestingHours
    | TeacherMaxHoursDaily
    | TeacherMaxHoursDailyRealDays
    | TeacherMinHoursDaily
    | TeacherMaxHoursContinuously
    | TeacherIntervalMaxDaysPerWeek
    | StudentsIntervalMaxDaysPerWeek
    | TeacherActivityTagMaxHoursDaily
    | StudentsActivityTagMaxHoursDaily
    | TeacherActivityTagMaxHoursContinuously
    | StudentsActivityTagMaxHoursContinuously
    | TeacherMaxBuildingChanges
    | StudentsMaxBuildingChanges
    | TeacherMinGapsBetweenBuildingChanges
    | StudentsMinGapsBetweenBuildingChanges
    | ActivityPreferredRooms
    | SubjectPreferredRooms
    | ActivityTagPreferredRooms
    | SubjectActivityTagPreferredRooms
    | StudentsSetHomeRooms
    | TeacherHomeRooms
)


class Unsupported(_Struct, frozen=True):
    """A constraint type the reader met and the model cannot express."""

    type: str
    count: int


class Instance(_Struct, frozen=True):
    """One school's timetabling problem for one period."""

    name: str
    days: tuple[Day, ...]
    hours: tuple[Hour, ...]
    period: Period | None = None
    subjects: tuple[Subject, ...] = ()
    teachers: tuple[Teacher, ...] = ()
    rooms: tuple[Room, ...] = ()
    students: tuple[StudentsSet, ...] = ()
    activities: tuple[Activity, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    #: constraint types present in the source that the model does not cover;
    #: a solve of an instance with any of these is not comparable with FET
    unsupported: tuple[Unsupported, ...] = ()
    #: the days of `days` are parts of a real day, this many a day, in order
    #: (2: FET's mornings-afternoons mode, where day 2k is the morning and
    #: 2k + 1 the afternoon of real day k). Every rule works on these days
    #: but min days between activities, which count real days: two lessons
    #: on one real day are 0 days apart, and "consecutive if same day" puts
    #: them back to back in one half of it (as FET 6.8.5 does: its soft
    #: conflicts report "2 days too close" for a min days of 2 on a morning
    #: and the afternoon of the same real day)
    days_per_real_day: int = 1

    def real_day(self, day: int) -> int:
        return day // self.days_per_real_day

    def subgroups_of(self, students: str) -> tuple[str, ...]:
        for s in self.students:
            if s.name == students:
                return s.subgroups or (s.name,)
        return (students,)


# --- a solution ---------------------------------------------------------------


class Placement(_Struct, frozen=True):
    activity: int
    day: int
    hour: int
    room: str | None = None
    #: in a virtual room: the real room taken of each of its sets, in order
    real_rooms: tuple[str, ...] = ()


class Timetable(_Struct, frozen=True):
    placements: tuple[Placement, ...]

    def by_activity(self) -> dict[int, Placement]:
        return {p.activity: p for p in self.placements}
