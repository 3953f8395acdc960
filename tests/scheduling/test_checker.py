"""The independent checker: exact counts on hand-made instances, and agreement
with FET's own soft conflicts on FET's timetables for fet-data files."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from scheduling.checker import CheckReport, check
from scheduling.fet import read_activities_xml, read_fet
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
    Day,
    Hour,
    Instance,
    MaxDaysBetweenActivities,
    MaxSpanPerDay,
    MinDaysBetweenActivities,
    MinGapsBetweenActivities,
    MinRestingHours,
    Placement,
    Room,
    RoomNotAvailableTimes,
    StudentsActivityTagMaxHoursContinuously,
    StudentsActivityTagMaxHoursDaily,
    StudentsEarlyMaxBeginningsAtSecondHour,
    StudentsIntervalMaxDaysPerWeek,
    StudentsMaxBuildingChanges,
    StudentsMaxGapsPerDay,
    StudentsMaxGapsPerWeek,
    StudentsMaxHoursContinuously,
    StudentsMaxHoursDaily,
    StudentsMinHoursDaily,
    StudentsSet,
    StudentsSetHomeRooms,
    StudentsSetNotAvailableTimes,
    SubjectActivityTagPreferredRooms,
    SubjectPreferredRooms,
    Teacher,
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
from tests.scheduling.fetdata import PUBLIC_SET, example, fet_cl

# --- a small school -------------------------------------------------------------

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
HOURS = ("1", "2", "3", "4", "5", "6")


def school(activities: list[Activity], *constraints: Constraint) -> Instance:
    """5 days × 6 hours; teachers A, B; year Y = subgroups Y1 + Y2 (15 + 15
    learners), year Z (its own subgroup, 25); rooms R1 (20 seats), R2 (40)."""
    return Instance(
        name="test",
        days=tuple(Day(name=d) for d in DAYS),
        hours=tuple(Hour(name=h) for h in HOURS),
        teachers=(Teacher(name="A"), Teacher(name="B")),
        rooms=(Room(name="R1", capacity=20), Room(name="R2", capacity=40)),
        students=(
            StudentsSet(name="Y", kind="year", students=30, subgroups=("Y1", "Y2")),
            StudentsSet(name="Y1", students=15, subgroups=("Y1",)),
            StudentsSet(name="Y2", students=15, subgroups=("Y2",)),
            StudentsSet(name="Z", kind="year", students=25, subgroups=("Z",)),
        ),
        activities=tuple(activities),
        constraints=constraints,
    )


def act(
    aid: int,
    *,
    teachers: tuple[str, ...] = ("A",),
    students: tuple[str, ...] = ("Y1",),
    subject: str = "Ma",
    duration: int = 1,
    tags: tuple[str, ...] = (),
) -> Activity:
    return Activity(
        id=aid,
        subject=subject,
        teachers=teachers,
        students=students,
        duration=duration,
        tags=tags,
    )


def tt(*placements: tuple[int, int, int] | tuple[int, int, int, str]) -> Timetable:
    out = []
    for p in placements:
        room = p[3] if len(p) == 4 else None
        out.append(Placement(activity=p[0], day=p[1], hour=p[2], room=room))
    return Timetable(placements=tuple(out))


def amounts(report: CheckReport, kind: str) -> list[int]:
    return [v.amount for v in report.violations if v.type == kind]


def only(report: CheckReport, kind: str) -> list[int]:
    """The amounts of `kind`, asserting nothing else was found."""
    kinds = {v.type for v in report.violations}
    assert kinds <= {kind}, report.violations
    return amounts(report, kind)


# --- basic rules ----------------------------------------------------------------


def test_clean_timetable_has_nothing() -> None:
    inst = school([act(1), act(2, teachers=("B",), students=("Y2",))])
    r = check(inst, tt((1, 0, 0), (2, 0, 0)))
    assert r == CheckReport(hard=0, soft=0.0, violations=(), complete=True)


def test_unplaced_outside_grid_and_across_the_day_end() -> None:
    inst = school([act(1), act(2), act(3, duration=2), act(4, students=("Y2",))])
    r = check(inst, tt((2, 5, 0), (3, 0, 5), (4, 0, 0), (9, 0, 1), (4, 1, 1)))
    assert amounts(r, "Unplaced") == [1]
    assert amounts(r, "OutsideGrid") == [1, 1]  # day 5 of 5; 5 + 2 > 6 hours
    assert amounts(r, "UnknownActivity") == [1]
    assert amounts(r, "DuplicatePlacement") == [1]
    assert r.hard == 5
    assert not r.complete


def test_double_booking_counts_per_slot_like_fet() -> None:
    # three activities of teacher A at Mon 1: FET counts 3 - 1 = 2
    inst = school(
        [
            act(1, students=("Y1",)),
            act(2, students=("Y2",), duration=2),
            act(3, teachers=("B",), students=("Y",)),  # the year clashes with Y1 and Y2
            act(4, students=("Z",)),
        ]
    )
    r = check(inst, tt((1, 0, 0), (2, 0, 0), (3, 0, 1), (4, 0, 0)))
    assert amounts(r, "TeacherConflict") == [2]  # Mon 1: activities 1, 2, 4
    assert sorted(amounts(r, "SubgroupConflict")) == [1]  # Y2 at Mon 2: 2 and 3
    assert r.hard == 3
    assert r.complete


def test_rooms_double_booked_too_small_unknown_and_missing() -> None:
    inst = school(
        [
            act(1, students=("Y",)),
            act(2, teachers=("B",), students=("Z",)),
            act(3, students=("Y2",)),
            act(4, teachers=("B",), students=("Z",)),
        ],
        ActivityPreferredRooms(activity=4, rooms=("R2",)),
    )
    r = check(inst, tt((1, 0, 0, "R1"), (2, 0, 0, "R1"), (3, 1, 0, "R9"), (4, 2, 0)))
    assert amounts(r, "RoomConflict") == [1]
    assert amounts(r, "RoomCapacity") == [1, 1]  # 30 and 25 learners in 20 seats
    assert amounts(r, "UnknownRoom") == [1]
    assert amounts(r, "RoomMissing") == [1]  # a hard room constraint: it needs one
    assert r.hard == 5  # the preferred room is not counted again


def test_students_count_overrides_the_sets() -> None:
    a = Activity(id=1, subject="Ma", teachers=("A",), students=("Y",), students_count=12)
    r = check(school([a]), tt((1, 0, 0, "R1")))
    assert r.hard == 0


# --- time constraints ---------------------------------------------------------------


def test_break_times_per_covered_slot() -> None:
    inst = school(
        [act(1, duration=3), act(2, students=("Y2",))], BreakTimes(slots=((0, 2), (0, 3)))
    )
    assert only(check(inst, tt((1, 0, 1), (2, 1, 2))), "BreakTimes") == [2]
    assert check(inst, tt((1, 1, 1), (2, 0, 4))).hard == 0


def test_teacher_not_available_counts_activities_per_slot() -> None:
    inst = school(
        [act(1), act(2, students=("Y2",))],
        TeacherNotAvailableTimes(teacher="A", slots=((0, 0), (0, 1))),
    )
    r = check(inst, tt((1, 0, 0), (2, 0, 0)))
    assert amounts(r, "TeacherNotAvailableTimes") == [2]
    assert r.hard == 3  # plus the teacher's double booking
    assert check(inst, tt((1, 0, 2), (2, 1, 0))).hard == 0


def test_students_not_available_per_subgroup() -> None:
    inst = school(
        [act(1, students=("Y",)), act(2, students=("Z",))],
        StudentsSetNotAvailableTimes(students="Y", slots=((0, 0),), weight=HARD),
    )
    assert only(check(inst, tt((1, 0, 0), (2, 1, 0))), "StudentsSetNotAvailableTimes") == [1, 1]
    assert check(inst, tt((1, 0, 1), (2, 0, 0))).hard == 0


def test_room_not_available_soft() -> None:
    inst = school([act(1)], RoomNotAvailableTimes(room="R1", slots=((0, 0),), weight=80))
    r = check(inst, tt((1, 0, 0, "R1")))
    assert only(r, "RoomNotAvailableTimes") == [1]
    assert r.hard == 0
    assert r.soft == pytest.approx(0.8)


def test_preferred_starting_time_day_only() -> None:
    inst = school([act(1)], ActivityPreferredStartingTime(activity=1, day=2, weight=50))
    assert check(inst, tt((1, 2, 5))).soft == 0
    assert check(inst, tt((1, 1, 0))).soft == pytest.approx(0.5)


def test_preferred_starting_times_and_time_slots() -> None:
    inst = school(
        [act(1, duration=2), act(2, students=("Y2",), duration=3)],
        ActivityPreferredStartingTimes(activity=1, slots=((0, 0), (1, 2)), weight=90),
        ActivityPreferredTimeSlots(activity=2, slots=((0, 0), (0, 1), (0, 2)), weight=10),
    )
    r = check(inst, tt((1, 1, 2), (2, 0, 1)))  # 2 occupies Mon 2-4: one hour outside
    assert amounts(r, "ActivityPreferredStartingTimes") == []
    assert amounts(r, "ActivityPreferredTimeSlots") == [1]
    r = check(inst, tt((1, 1, 3), (2, 1, 0)))
    assert amounts(r, "ActivityPreferredStartingTimes") == [1]
    assert amounts(r, "ActivityPreferredTimeSlots") == [3]
    assert r.soft == pytest.approx(0.9 + 0.3)


def test_activities_preferred_times_use_the_filter() -> None:
    inst = school(
        [
            act(1, students=("Y",)),  # shares subgroups with Y1
            act(2, students=("Y2",), teachers=("B",)),  # does not
            act(3, students=("Y1",), subject="En", duration=2),
        ],
        ActivitiesPreferredStartingTimes(
            filter=ActivityFilter(students="Y1"), slots=((-1, 0),), weight=100
        ),
        ActivitiesPreferredTimeSlots(
            filter=ActivityFilter(subject="En"), slots=((2, 0), (2, 1)), weight=100
        ),
    )
    r = check(inst, tt((1, 0, 1), (2, 3, 3), (3, 2, 1)))
    assert amounts(r, "ActivitiesPreferredStartingTimes") == [1, 1]  # activities 1 and 3
    assert amounts(r, "ActivitiesPreferredTimeSlots") == [1]
    assert r.hard == 3
    assert check(inst, tt((1, 0, 0), (2, 3, 3), (3, 2, 0))).hard == 0


def test_subactivity_component_filter() -> None:
    parts = [
        Activity(id=i, subject="Ma", teachers=("A",), students=("Y1",), group_id=5)
        for i in (5, 6, 7)
    ]
    inst = school(
        parts,
        ActivitiesPreferredStartingTimes(
            filter=ActivityFilter(component=2), slots=((4, 0),), weight=100
        ),
    )
    assert check(inst, tt((5, 0, 0), (6, 4, 0), (7, 1, 0))).hard == 0
    r = check(inst, tt((5, 4, 0), (6, 0, 0), (7, 1, 0)))
    assert [v.detail.split()[1] for v in r.violations] == ["6"]


def test_min_days_per_pair_and_consecutive_if_same_day() -> None:
    inst = school(
        [act(1), act(2), act(3)],
        MinDaysBetweenActivities(
            activities=(1, 2, 3, 99), min_days=2, consecutive_if_same_day=True, weight=95
        ),
    )
    # days 0, 1, 1: pairs (2,1) 1 too close, (3,1) 1, (3,2) 2 -> 4 × 0.95
    r = check(inst, tt((1, 0, 0), (2, 1, 0), (3, 1, 1)))
    assert amounts(r, "MinDaysBetweenActivities") == [1, 1, 2]
    assert r.soft == pytest.approx(3.8)
    assert r.hard == 0  # 2 and 3 are back to back
    r = check(inst, tt((1, 0, 0), (2, 1, 0), (3, 1, 2)))
    assert r.hard == 1  # same day, not consecutive: never allowed
    assert r.soft == pytest.approx(3.8)
    assert check(inst, tt((1, 0, 0), (2, 2, 0), (3, 4, 0))).violations == ()


def test_same_starting_time_day_and_not_overlapping() -> None:
    inst = school(
        [act(1), act(2, teachers=("B",), students=("Z",), duration=3), act(3, students=("Y2",))],
        ActivitiesSameStartingTime(activities=(1, 2), weight=70),
        ActivitiesSameStartingDay(activities=(1, 2, 3), weight=60),
        ActivitiesNotOverlapping(activities=(2, 3), weight=50),
    )
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2)))
    assert amounts(r, "ActivitiesSameStartingTime") == [1]
    assert amounts(r, "ActivitiesSameStartingDay") == []
    assert amounts(r, "ActivitiesNotOverlapping") == [1]
    r = check(inst, tt((1, 0, 0), (2, 0, 0), (3, 1, 1)))
    assert amounts(r, "ActivitiesSameStartingDay") == [1, 1]  # 3 differs from 1 and from 2
    assert amounts(r, "ActivitiesNotOverlapping") == []
    assert r.soft == pytest.approx(1.2)


def test_occupy_max_time_slots_from_selection() -> None:
    inst = school(
        [act(1, duration=2), act(2, students=("Y2",), teachers=("B",))],
        ActivitiesOccupyMaxTimeSlotsFromSelection(
            activities=(1, 2), slots=((0, 0), (0, 1), (0, 2)), max_occupied=2
        ),
    )
    assert check(inst, tt((1, 0, 0), (2, 0, 1))).hard == 0  # slots 0 and 1 used
    assert only(
        check(inst, tt((1, 0, 0), (2, 0, 2))), "ActivitiesOccupyMaxTimeSlotsFromSelection"
    ) == [1]


def test_activity_and_activities_end_students_day() -> None:
    inst = school(
        [act(1, students=("Y",)), act(2, students=("Y2",)), act(3, students=("Z",), tags=("x",))],
        ActivityEndsStudentsDay(activity=1),
        ActivitiesEndStudentsDay(filter=ActivityFilter(tag="x"), weight=40),
    )
    assert check(inst, tt((1, 0, 3), (2, 0, 1), (3, 0, 5))).violations == ()
    r = check(inst, tt((1, 0, 3), (2, 0, 4), (3, 1, 1)))
    assert amounts(r, "ActivityEndsStudentsDay") == [1]
    assert r.soft == 0


def test_two_activities_consecutive_across_a_break() -> None:
    inst = school(
        [act(1, duration=2), act(2)],
        BreakTimes(slots=((0, 2),)),
        TwoActivitiesConsecutive(first=1, second=2),
    )
    assert check(inst, tt((1, 0, 0), (2, 0, 3))).hard == 0  # the break is skipped
    assert only(check(inst, tt((1, 0, 0), (2, 0, 4))), "TwoActivitiesConsecutive") == [1]
    assert only(check(inst, tt((1, 1, 2), (2, 1, 0))), "TwoActivitiesConsecutive") == [1]


def test_two_activities_grouped_either_order() -> None:
    inst = school([act(1), act(2)], TwoActivitiesGrouped(first=1, second=2, weight=90))
    assert check(inst, tt((1, 0, 1), (2, 0, 0))).soft == 0
    assert check(inst, tt((1, 0, 1), (2, 0, 2))).soft == 0
    assert check(inst, tt((1, 0, 1), (2, 0, 3))).soft == pytest.approx(0.9)
    assert check(inst, tt((1, 0, 1), (2, 1, 2))).soft == pytest.approx(0.9)


# students


def test_students_gaps_skip_breaks_and_not_available() -> None:
    acts = [act(i, students=("Y",)) for i in range(1, 6)]
    inst = school(
        acts,
        BreakTimes(slots=((0, 2),)),
        StudentsSetNotAvailableTimes(students="Y2", slots=((0, 3),)),
        StudentsMaxGapsPerWeek(max_gaps=0, weight=50),
        StudentsMaxGapsPerDay(students="Y1", max_gaps=1, weight=20),
    )
    # Mon: busy 1 2 _ _ 5 -> slot 3 is a break (no gap), slot 4 is a gap for Y1
    # only (Y2 is not available then); Tue: busy 1 _ _ 4 -> 2 gaps for both.
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 4), (4, 1, 0), (5, 1, 3)))
    assert amounts(r, "StudentsMaxGapsPerWeek") == [3, 2]  # Y1 3 gaps, Y2 2
    assert amounts(r, "StudentsMaxGapsPerDay") == [1]  # Y1 on Tue: 2 > 1
    assert r.soft == pytest.approx(2.5 + 0.2)


def test_students_early_max_beginnings_at_second_hour() -> None:
    acts = [act(i, students=("Z",), teachers=("B",)) for i in range(1, 4)]
    inst = school(acts, StudentsEarlyMaxBeginningsAtSecondHour(students="Z", max_beginnings=1))
    assert check(inst, tt((1, 0, 0), (2, 1, 1), (3, 2, 0))).hard == 0
    # two days starting at the second hour: 1 over the limit
    assert only(check(inst, tt((1, 0, 1), (2, 1, 1), (3, 2, 0))), inst_type(inst)) == [1]
    # starting at the third hour: an illegal gap (1) and a late beginning
    r = check(inst, tt((1, 0, 2), (2, 1, 1), (3, 2, 0)))
    assert sorted(amounts(r, inst_type(inst))) == [1, 1]


def inst_type(inst: Instance) -> str:
    return type(inst.constraints[0]).__name__


def test_students_early_first_hour_is_the_first_available() -> None:
    acts = [act(1, students=("Z",), teachers=("B",))]
    inst = school(
        acts,
        BreakTimes(slots=((0, 0),)),
        StudentsEarlyMaxBeginningsAtSecondHour(max_beginnings=0),
    )
    assert check(inst, tt((1, 0, 1))).hard == 0


def test_students_min_and_max_hours_daily() -> None:
    acts = [act(i, students=("Y1",)) for i in range(1, 5)]
    inst = school(
        acts,
        StudentsMinHoursDaily(students="Y1", min_hours=3, allow_empty_days=True, weight=50),
        StudentsMaxHoursDaily(students="Y", max_hours=2, weight=30),
    )
    # Mon 3 hours (Y1 over the max), Tue 1 hour (2 missing)
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 1, 0)))
    assert amounts(r, "StudentsMinHoursDaily") == [2]
    assert amounts(r, "StudentsMaxHoursDaily") == [1]
    assert r.soft == pytest.approx(1.0 + 0.3)
    strict = school(acts, StudentsMinHoursDaily(min_hours=1, allow_empty_days=False))
    # every subgroup, every empty day: Y1 3 empty days, Y2 and Z 5 each
    assert check(strict, tt((1, 0, 0), (2, 1, 0), (3, 1, 1), (4, 1, 2))).hard == 13


# teachers


def test_teacher_gaps_week_and_day() -> None:
    acts = [act(i, students=(s,)) for i, s in enumerate(("Y1", "Y2", "Z", "Y1"), start=1)]
    inst = school(
        acts,
        TeacherNotAvailableTimes(teacher="A", slots=((0, 1),)),
        TeacherMaxGapsPerWeek(max_gaps=1, weight=50),
        TeacherMaxGapsPerDay(teacher="A", max_gaps=0, weight=25),
    )
    # Mon: 1 _ _ 4 (slot 2 not available: 1 gap); Tue: 1 _ 3 (1 gap)
    r = check(inst, tt((1, 0, 0), (2, 0, 3), (3, 1, 0), (4, 1, 2)))
    assert amounts(r, "TeacherMaxGapsPerWeek") == [1]
    assert amounts(r, "TeacherMaxGapsPerDay") == [1, 1]
    assert r.soft == pytest.approx(0.5 + 0.5)


def test_teacher_max_days_counts_hours_of_the_least_busy_days() -> None:
    acts = [act(i, students=("Y1",) if i % 2 else ("Y2",)) for i in range(1, 7)]
    inst = school(acts, TeacherMaxDaysPerWeek(teacher="A", max_days=2, weight=90))
    # 3 hours Mon, 2 Tue, 1 Wed: one day too many, its 1 hour counts
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 1, 0), (5, 1, 1), (6, 2, 0)))
    assert amounts(r, "TeacherMaxDaysPerWeek") == [1]
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 3, 2), (4, 1, 0), (5, 1, 1), (6, 2, 0)))
    assert amounts(r, "TeacherMaxDaysPerWeek") == [2]  # Wed 1 + Thu 1
    assert (
        check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 1, 0), (5, 1, 1), (6, 1, 2))).soft == 0
    )


def test_teacher_hours_daily_and_continuously() -> None:
    acts = [act(i, students=("Y1",) if i % 2 else ("Y2",)) for i in range(1, 7)]
    inst = school(
        acts,
        TeacherMaxHoursDaily(max_hours=3, weight=10),
        TeacherMinHoursDaily(teacher="A", min_hours=2, weight=20),
        TeacherMaxHoursContinuously(teacher="A", max_hours=2, weight=30),
    )
    # Mon: 1 2 3 _ 5 (4 hours, a run of 3), Tue: 1 (below the min), Wed: empty
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 0, 4), (5, 1, 0), (6, 3, 0)))
    assert amounts(r, "TeacherMaxHoursDaily") == [1]
    assert amounts(r, "TeacherMinHoursDaily") == [1, 1]  # Tue and Thu
    assert amounts(r, "TeacherMaxHoursContinuously") == [1]
    assert r.soft == pytest.approx(0.1 + 0.4 + 0.3)


def test_teacher_interval_max_days() -> None:
    acts = [act(i, students=("Y1",)) for i in range(1, 4)]
    inst = school(
        acts, TeacherIntervalMaxDaysPerWeek(teacher="A", start_hour=4, end_hour=6, max_days=1)
    )
    assert check(inst, tt((1, 0, 4), (2, 1, 3), (3, 2, 0))).hard == 0
    assert only(
        check(inst, tt((1, 0, 4), (2, 1, 5), (3, 2, 5))), "TeacherIntervalMaxDaysPerWeek"
    ) == [2]


def test_max_span_and_min_resting_hours() -> None:
    """A: Mon hours 1 and 5 (a span of 5), Tue hour 1 (rest after Mon: the
    last hour free, then none: 1), Fri hour 6 (rest to Mon, circular: 0 +
    1 = 1). Y1 with the same lessons as a subgroup."""
    acts = [act(i, students=("Y1",)) for i in range(1, 5)]
    inst = school(
        acts,
        MaxSpanPerDay(max_span=4),
        MaxSpanPerDay(students="Y", max_span=5),
        MinRestingHours(teacher="A", min_hours=2, circular=True),
        MinRestingHours(all_students=True, min_hours=2, circular=False),
    )
    r = check(inst, tt((1, 0, 0), (2, 0, 4), (3, 1, 0), (4, 4, 5)))
    assert [v.amount for v in r.violations if v.type == "MaxSpanPerDay"] == [1]  # A, not Y1
    # A: Mon→Tue and Fri→Mon; Y1 and Y2 (not circular): Mon→Tue for Y1
    assert [v.amount for v in r.violations if v.type == "MinRestingHours"] == [1, 1, 1]
    calm = check(inst, tt((1, 0, 0), (2, 0, 3), (3, 2, 1), (4, 3, 0)))
    assert calm.violations == ()


def test_max_days_between_activities_counts_the_days_too_far() -> None:
    inst = school(
        [act(1), act(2, teachers=("B",)), act(3, students=("Z",))],
        MaxDaysBetweenActivities(activities=(1, 2, 3), max_days=1, weight=50),
    )
    assert check(inst, tt((1, 0, 0), (2, 1, 0), (3, 1, 1))).violations == ()
    # 3 on Thu: 3 days from 1 (2 too far), 2 from 2 (1 too far)
    r = check(inst, tt((1, 0, 0), (2, 1, 0), (3, 3, 1)))
    assert only(r, "MaxDaysBetweenActivities") == [2, 1]
    assert r.soft == pytest.approx(1.5)


def test_min_gaps_between_activities_on_one_day() -> None:
    inst = school(
        [act(1), act(2, teachers=("B",)), act(3, students=("Z",), duration=2)],
        MinGapsBetweenActivities(activities=(1, 2, 3), min_gaps=2),
    )
    # 1 at hour 0, 2 at hour 3: two hours between (1 and 2) - kept; 3 on
    # another day
    assert check(inst, tt((1, 0, 0), (2, 0, 3), (3, 1, 0))).violations == ()
    # 2 at hour 2: one hour after 1 (one missing); 3 (hours 3-4) right
    # after 2 (two missing), two hours after 1
    r = check(inst, tt((1, 0, 0), (2, 0, 2), (3, 0, 3)))
    assert only(r, "MinGapsBetweenActivities") == [1, 2]


def test_students_max_hours_continuously_per_subgroup() -> None:
    acts = [act(i, teachers=("A" if i % 2 else "B",)) for i in range(1, 5)]
    acts.append(act(5, students=("Y2",), teachers=("B",)))
    inst = school(acts, StudentsMaxHoursContinuously(students="Y", max_hours=3))
    # Y1 four in a row on day 0; Y2 one lesson
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 0, 3), (5, 0, 4)))
    assert only(r, "StudentsMaxHoursContinuously") == [1]
    assert check(inst, tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 0, 4), (5, 0, 5))).hard == 0


def test_students_interval_max_days_per_subgroup() -> None:
    """Year Y's subgroups Y1 and Y2 each counted: Y1 busy in hours 5-6 on
    two days (one too many), Y2 on one, Z not in the set."""
    acts = [
        act(1, students=("Y1",)),
        act(2, students=("Y1",), teachers=("B",)),
        act(3, students=("Y2",)),
        act(4, students=("Z",), teachers=("B",)),
    ]
    inst = school(
        acts, StudentsIntervalMaxDaysPerWeek(students="Y", start_hour=4, end_hour=6, max_days=1)
    )
    r = check(inst, tt((1, 0, 4), (2, 1, 5), (3, 0, 5), (4, 2, 5)))
    assert only(r, "StudentsIntervalMaxDaysPerWeek") == [1]
    assert check(inst, tt((1, 0, 4), (2, 1, 3), (3, 0, 5), (4, 2, 5))).hard == 0
    everyone = school(acts, StudentsIntervalMaxDaysPerWeek(start_hour=4, end_hour=6, max_days=0))
    r = check(everyone, tt((1, 0, 4), (2, 1, 3), (3, 0, 5), (4, 2, 5)))
    assert only(r, "StudentsIntervalMaxDaysPerWeek") == [1, 1, 1]


def test_teacher_min_days_per_week_counts_the_days_missing() -> None:
    acts = [act(i, students=("Y1",) if i % 2 else ("Y2",)) for i in range(1, 5)]
    inst = school(acts, TeacherMinDaysPerWeek(teacher="A", min_days=4, weight=50))
    # A on Mon and Tue: two days missing
    r = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 1, 0), (4, 1, 1)))
    assert only(r, "TeacherMinDaysPerWeek") == [2]
    assert r.soft == pytest.approx(1.0)
    assert check(inst, tt((1, 0, 0), (2, 1, 1), (3, 2, 0), (4, 4, 1))).violations == ()
    # every teacher: B teaches nothing, and misses both days
    everyone = school(acts, TeacherMinDaysPerWeek(min_days=2))
    r = check(everyone, tt((1, 0, 0), (2, 1, 1), (3, 2, 0), (4, 4, 1)))
    assert only(r, "TeacherMinDaysPerWeek") == [2]


def test_activity_tag_max_hours_daily_counts_days_per_person() -> None:
    """Only the tagged lessons count, 1 per teacher (subgroup) and day over."""
    acts = [
        act(1, tags=("lab",)),
        act(2, tags=("lab", "x"), duration=2),
        act(3),  # untagged
        act(4, tags=("lab",), students=("Y2",), teachers=("B",)),
    ]
    tagged = (
        TeacherActivityTagMaxHoursDaily(teacher="A", tag="lab", max_hours=2),
        StudentsActivityTagMaxHoursDaily(students="Y", tag="lab", max_hours=2),
    )
    # Mon: A (and Y1) 3 lab hours (1; 2 for two hours) and an untagged one
    r = check(school(acts, *tagged), tt((1, 0, 0), (2, 0, 1), (3, 0, 3), (4, 0, 0)))
    assert amounts(r, "TeacherActivityTagMaxHoursDaily") == [1]
    assert amounts(r, "StudentsActivityTagMaxHoursDaily") == [1]  # Y1; Y2 has one
    assert r.hard == 2
    # 1 on Tue: 2 lab hours a day at most
    ok = check(school(acts, *tagged), tt((1, 1, 0), (2, 0, 1), (3, 0, 3), (4, 0, 0)))
    assert ok.violations == ()
    # every teacher, at most 0: each day with a lab hour counts, B's too
    r = check(
        school(acts, TeacherActivityTagMaxHoursDaily(tag="lab", max_hours=0, weight=10)),
        tt((1, 1, 0), (2, 0, 1), (3, 0, 3), (4, 0, 0)),
    )
    assert amounts(r, "TeacherActivityTagMaxHoursDaily") == [1, 1, 1]  # A Mon, A Tue, B Mon
    assert r.soft == pytest.approx(0.3)


def test_activity_tag_max_hours_continuously_runs_of_the_tag() -> None:
    """A run is broken by a free hour or an untagged lesson."""
    acts = [act(i, tags=("t",)) for i in range(1, 4)] + [act(4), act(5, tags=("t",))]
    limits = (
        TeacherActivityTagMaxHoursContinuously(teacher="A", tag="t", max_hours=2, weight=40),
        StudentsActivityTagMaxHoursContinuously(students="Y1", tag="t", max_hours=2),
    )
    # Mon 1 2 3 (a run of 3), 4 untagged, 5: one run over for A and for Y1
    r = check(school(acts, *limits), tt((1, 0, 0), (2, 0, 1), (3, 0, 2), (4, 0, 3), (5, 0, 4)))
    assert amounts(r, "TeacherActivityTagMaxHoursContinuously") == [1]
    assert amounts(r, "StudentsActivityTagMaxHoursContinuously") == [1]
    assert r.soft == pytest.approx(0.4)
    # 1 2, untagged 4, 3 5: runs of two
    r = check(school(acts, *limits), tt((1, 0, 0), (2, 0, 1), (4, 0, 2), (3, 0, 3), (5, 0, 4)))
    assert r.violations == ()


def test_same_starting_hour_on_any_days() -> None:
    inst = school(
        [act(1), act(2, teachers=("B",)), act(3, students=("Z",))],
        ActivitiesSameStartingHour(activities=(1, 2, 3), weight=50),
    )
    assert check(inst, tt((1, 0, 2), (2, 1, 2), (3, 4, 2))).violations == ()
    r = check(inst, tt((1, 0, 2), (2, 1, 2), (3, 0, 3)))
    assert only(r, "ActivitiesSameStartingHour") == [1, 1]  # 3 with 1, 3 with 2
    assert r.soft == pytest.approx(1.0)


def test_max_simultaneous_in_selected_slots() -> None:
    inst = school(
        [act(1), act(2, teachers=("B",), students=("Y2",)), act(3, students=("Z",), duration=2)],
        ActivitiesMaxSimultaneousInSelectedTimeSlots(
            activities=(1, 2, 3), slots=((0, 0), (0, 1)), max_simultaneous=1
        ),
    )
    # hour 0: 1 and 2; hour 1: 3 alone; hour 2 not selected
    r = check(inst, tt((1, 0, 0), (2, 0, 0), (3, 0, 1)))
    assert only(r, "ActivitiesMaxSimultaneousInSelectedTimeSlots") == [1]
    assert check(inst, tt((1, 0, 0), (2, 0, 2), (3, 0, 1))).hard == 0


def test_two_activities_ordered_and_ordered_if_same_day() -> None:
    acts = [act(1, duration=2), act(2, teachers=("B",), students=("Z",))]
    ordered = school(acts, TwoActivitiesOrdered(first=1, second=2))
    same_day = school(acts, TwoActivitiesOrderedIfSameDay(first=1, second=2))
    # 2 on a later day; 2 right after 1 ends: both kept
    for placed in (tt((1, 0, 4), (2, 1, 0)), tt((1, 0, 0), (2, 0, 2))):
        assert check(ordered, placed).violations == ()
        assert check(same_day, placed).violations == ()
    # 2 in 1's second hour
    assert only(check(ordered, tt((1, 0, 0), (2, 0, 1))), "TwoActivitiesOrdered") == [1]
    assert only(check(same_day, tt((1, 0, 0), (2, 0, 1))), "TwoActivitiesOrderedIfSameDay") == [1]
    # 2 on an earlier day: only the ordered one is broken
    assert only(check(ordered, tt((1, 1, 0), (2, 0, 5))), "TwoActivitiesOrdered") == [1]
    assert check(same_day, tt((1, 1, 0), (2, 0, 5))).violations == ()


def test_three_activities_grouped_in_any_order() -> None:
    acts = [act(1), act(2, duration=2), act(3)]
    inst = school(acts, ThreeActivitiesGrouped(first=1, second=2, third=3))
    assert check(inst, tt((2, 0, 0), (3, 0, 2), (1, 0, 3))).violations == ()
    # a free hour between 3 and 1
    assert only(check(inst, tt((2, 0, 0), (3, 0, 2), (1, 0, 4))), "ThreeActivitiesGrouped") == [1]
    # one on another day
    assert only(check(inst, tt((2, 0, 0), (3, 0, 2), (1, 1, 3))), "ThreeActivitiesGrouped") == [1]
    # a break between them is allowed
    breaks = school(
        acts, ThreeActivitiesGrouped(first=1, second=2, third=3), BreakTimes(slots=((0, 3),))
    )
    assert check(breaks, tt((2, 0, 0), (3, 0, 2), (1, 0, 4))).violations == ()


# --- rooms ------------------------------------------------------------------------------


def test_building_changes_walk_the_day_as_fet() -> None:
    """Rooms N1, N2 in building N, S1 in S, X without one. A's Monday: N1,
    free, S1, X, N2 — two changes (the free hour and the room without a
    building do not count), each after fewer free hours than two."""
    rooms = (
        Room(name="N1", building="N"),
        Room(name="N2", building="N"),
        Room(name="S1", building="S"),
        Room(name="X"),
    )
    acts = [act(i, students=("Y1",) if i % 2 else ("Y2",)) for i in range(1, 6)]
    cs: tuple[Constraint, ...] = (
        TeacherMaxBuildingChanges(teacher="A", max_changes=1),
        TeacherMaxBuildingChanges(max_changes=1, per_week=True),
        TeacherMinGapsBetweenBuildingChanges(teacher="A", min_gaps=2),
        StudentsMaxBuildingChanges(students="Y", max_changes=0),
    )
    inst = msgspec.structs.replace(school(acts, *cs), rooms=rooms)
    placed = tt((1, 0, 0, "N1"), (2, 0, 2, "S1"), (3, 0, 3, "X"), (4, 0, 4, "N2"))
    r = check(
        inst,
        Timetable(placements=(*placed.placements, Placement(activity=5, day=1, hour=0, room="S1"))),
    )
    assert amounts(r, "TeacherMaxBuildingChanges") == [1, 1]  # Monday: 2 of 1; the week: 2 of 1
    assert amounts(r, "TeacherMinGapsBetweenBuildingChanges") == [1, 1]  # 1 and 0 free hours
    # Y1 (1, 3, 5): N1 then X (no building), S1 on Tuesday: none; Y2 (2, 4): S1 then N2
    assert amounts(r, "StudentsMaxBuildingChanges") == [1]
    # the same Monday with lessons two free hours apart and one building a day
    calm = tt((1, 0, 0, "N1"), (2, 0, 3, "S1"), (4, 1, 0, "N2"), (3, 1, 1, "X"), (5, 2, 0, "S1"))
    r = check(inst, calm)
    assert amounts(r, "TeacherMinGapsBetweenBuildingChanges") == []
    assert amounts(r, "TeacherMaxBuildingChanges") == []  # Monday 1, the week 1
    assert amounts(r, "StudentsMaxBuildingChanges") == []


def test_max_different_rooms() -> None:
    acts = [act(1), act(2, teachers=("B",)), act(3, students=("Z",))]
    inst = school(acts, ActivitiesOccupyMaxDifferentRooms(activities=(1, 2, 3), max_rooms=1))
    assert check(inst, tt((1, 0, 0, "R2"), (2, 1, 0, "R2"), (3, 2, 0))).violations == ()
    r = check(inst, tt((1, 0, 0, "R2"), (2, 1, 0, "R1"), (3, 2, 0, "R2")))
    assert only(r, "ActivitiesOccupyMaxDifferentRooms") == [1]


def test_same_room_if_consecutive() -> None:
    """1 per pair of the list back to back on a day in two different rooms;
    apart, on another day, or one without a room: nothing (FET's count)."""
    acts = [act(1), act(2, teachers=("B",)), act(3, students=("Y2",), teachers=("B",))]
    inst = school(acts, ActivitiesSameRoomIfConsecutive(activities=(1, 2, 3)))
    assert check(inst, tt((1, 0, 0, "R1"), (2, 0, 1, "R1"), (3, 0, 2, "R1"))).violations == ()
    assert only(
        check(inst, tt((1, 0, 0, "R1"), (2, 0, 1, "R2"), (3, 0, 2, "R2"))),
        "ActivitiesSameRoomIfConsecutive",
    ) == [1]
    assert only(
        check(inst, tt((1, 0, 1, "R1"), (2, 0, 0, "R2"), (3, 0, 2, "R2"))),
        "ActivitiesSameRoomIfConsecutive",
    ) == [1, 1]
    assert check(inst, tt((1, 0, 0, "R1"), (2, 0, 2, "R2"), (3, 1, 3, "R1"))).violations == ()
    assert check(inst, tt((1, 0, 0, "R1"), (2, 0, 1), (3, 0, 2, "R2"))).violations == ()


def test_virtual_rooms() -> None:
    """A lesson in virtual room V (sets R1|R2 and R2|R3) takes one real room
    of each set, all different; its real rooms are booked, V itself is not
    (two lessons in V at once are fine when their real rooms differ); V's
    closed hours are its own; real rooms given with V hold as a set."""
    base = school(
        [
            act(1),
            act(2, teachers=("B",), students=("Z",)),
            act(3, teachers=("C",), students=("Y2",)),
        ]
    )
    rooms = (*base.rooms, Room(name="R3"), Room(name="V", real_rooms=(("R1", "R2"), ("R2", "R3"))))
    inst = msgspec.structs.replace(base, rooms=rooms)

    def at(*ps: Placement) -> CheckReport:
        return check(inst, Timetable(placements=ps))

    def p(aid: int, hour: int, room: str | None, real: tuple[str, ...] = ()) -> Placement:
        return Placement(activity=aid, day=0, hour=hour, room=room, real_rooms=real)

    ok = at(p(1, 0, "V", ("R1", "R2")), p(2, 1, "V", ("R2", "R3")), p(3, 0, "R3"))
    assert ok.violations == ()
    assert only(
        at(p(1, 0, "V", ("R1", "R2")), p(2, 0, "V", ("R1", "R3")), p(3, 1, None)), "RoomConflict"
    ) == [1]
    assert only(at(p(1, 0, "V", ("R1", "R2")), p(2, 1, None), p(3, 0, "R2")), "RoomConflict") == [1]
    for wrong in (("R3", "R2"), ("R2", "R2"), ("R1",), ()):
        assert only(at(p(1, 0, "V", wrong), p(2, 1, None), p(3, 2, None)), "RealRooms") == [1]
    assert only(at(p(1, 0, "R1", ("R2",)), p(2, 1, None), p(3, 2, None)), "RealRooms") == [1]
    closed = msgspec.structs.replace(
        inst, constraints=(RoomNotAvailableTimes(room="V", slots=((0, 0),)),)
    )
    assert only(
        check(
            closed, Timetable(placements=(p(1, 0, "V", ("R1", "R2")), p(2, 1, None), p(3, 2, None)))
        ),
        "RoomNotAvailableTimes",
    ) == [1]
    given = msgspec.structs.replace(
        inst,
        constraints=(ActivityPreferredRooms(activity=1, rooms=("V",), real_rooms=("R3", "R2")),),
    )
    placed = (p(2, 1, None), p(3, 2, None))
    assert (
        check(given, Timetable(placements=(p(1, 0, "V", ("R2", "R3")), *placed))).violations == ()
    )
    wrong_set = Timetable(placements=(p(1, 0, "V", ("R1", "R3")), *placed))
    assert only(check(given, wrong_set), "ActivityPreferredRooms") == [1]


def test_preferred_rooms_by_subject_tag_and_both() -> None:
    inst = school(
        [
            act(1, subject="Ph", students=("Y1",)),
            act(2, subject="Ph", students=("Y2",), tags=("lab",), teachers=("B",)),
            act(3, subject="Ch", students=("Z",), tags=("lab",)),
        ],
        SubjectPreferredRooms(subject="Ph", rooms=("R2",), weight=80),
        ActivityTagPreferredRooms(tag="lab", rooms=("R1",), weight=60),
        SubjectActivityTagPreferredRooms(subject="Ph", tag="lab", rooms=("R2",), weight=40),
    )
    r = check(inst, tt((1, 0, 0, "R2"), (2, 0, 0, "R1"), (3, 1, 0, "R1")))
    assert amounts(r, "SubjectPreferredRooms") == [1]  # 2
    assert amounts(r, "ActivityTagPreferredRooms") == []
    assert amounts(r, "SubjectActivityTagPreferredRooms") == [1]  # 2
    assert r.soft == pytest.approx(0.8 + 0.4)
    assert r.hard == 1  # Z (25) in R1 (20 seats)
    # no room at all breaks each soft preference, and is no hard violation
    r = check(inst, tt((1, 0, 0), (2, 0, 0), (3, 1, 0)))
    assert r.hard == 0
    assert r.soft == pytest.approx(2 * 0.8 + 2 * 0.6 + 0.4)


def test_home_rooms_apply_to_the_sets_own_activities() -> None:
    inst = school(
        [
            act(1, students=("Y1",)),
            act(2, students=("Y1", "Z"), teachers=("B",)),  # not only Y1's
            act(3, students=("Y1",), subject="Ph"),
            act(4, students=("Y2",), teachers=("B",)),
        ],
        StudentsSetHomeRooms(students="Y1", rooms=("R1",), weight=70),
        SubjectPreferredRooms(subject="Ph", rooms=("R2",), weight=50),
        TeacherHomeRooms(teacher="B", rooms=("R2",), weight=30),
    )
    # 3 in R2 (its subject's room) satisfies the home room too
    r = check(inst, tt((1, 0, 0, "R1"), (2, 1, 0, "R1"), (3, 2, 0, "R2"), (4, 3, 0, "R1")))
    assert amounts(r, "StudentsSetHomeRooms") == []
    assert amounts(r, "TeacherHomeRooms") == [1, 1]  # B's 2 and 4 in R1
    r = check(inst, tt((1, 0, 0, "R2"), (2, 1, 0, "R2"), (3, 2, 0), (4, 3, 0, "R2")))
    assert amounts(r, "StudentsSetHomeRooms") == [1, 1]  # 1 in R2, 3 in no room
    assert amounts(r, "SubjectPreferredRooms") == [1]
    assert amounts(r, "TeacherHomeRooms") == []


# --- against FET ------------------------------------------------------------------------

#: fet-data files fet-cl solves in a few seconds, with soft constraints of
#: several kinds in FET's result (see the module docstring of checker.py)
FAST = (
    "FET-5-official/Romania/Pedagogic-High-School-Tg-Mures/2007-2008_sem1-a.fet",
    "FET-5-official/Italy/2007/simple/simpler-Italian.fet",
    "FET-5-official/Bulgaria/Lom_high_school_2007-2008.fet",
    "FET-5-official/Germany/DGS-Pro/older/DGS_Pro_Germany.fet",
    "FET-5-official/Denmark/small-school.fet",
    "FET-5-official/India/St-Marys-College/St-Marys-College-Puthanagadi.fet",
    "FET-5-official/Spain/1-school/school.fet",
    # mornings-afternoons mode: FET's timetable has lessons of one min days on
    # the morning and the afternoon of one real day (0 days apart)
    "FET-5-mornings-afternoons/Algeria-old-format/5/AMIROUCHE.fet",
    # an old fork file: its teachers' max hours daily are per real day (FET
    # reports "teachers max 5 hours daily per real day broken")
    "FET-5-mornings-afternoons/Algeria/1/sample_algeria_2.fet",
)

#: bigger files of the issue's public set that fet-cl solves in 10-20 s
SLOWER = (
    "FET-5-official/Greece/Vartholomio/2008-2009.fet",
    "FET-5-official/Hungary/Varosmajori_Gimnazium_Budapest/vmg-20180901b-2.fet",
)
#: their fet-cl runs use seeds 7-12: with 1-6 FET took 33.5 s on Greece and
#: 20.6 s on Hungary, with 7-12 1.3 s and 10.9 s (2026-11-30; any of FET's
#: timetables serves the comparison)
SLOWER_FIRST_SEED = 7

#: files whose hard constraints are made soft (50 %) where FET allows it, so
#: that FET's timetable breaks many kinds of constraints and reports each
SOFTENED = (
    "FET-5-official/Greece/Vartholomio/2008-2009.fet",
    "FET-5-official/Spain/1-school/school.fet",
    "FET-5-official/Italy/2007/simple/simpler-Italian.fet",
    "FET-5-official/Germany/DGS-Pro/older/DGS_Pro_Germany.fet",
    "FET-5-official/Germany/secondary-school-2/GYR.fet",
    "FET-5-official/Belize/Sacred-Heart-College/shc-2008/shc-prelim-08.fet",
    "FET-5-official/Algeria/Mechanical-Batna_Univ/ET2012-2013-S1.fet",
    "FET-5-official/Greece/Didymoteicho/6th-Primary-School.fet",
    # activity-tag limits (teachers', students', a day and in a row), min
    # gaps between activities (FET counts the hours missing), three grouped,
    # same starting hour
    "FET-5-official/India/New-Delhi/Eng_College.fet",
    "FET-5-official/Algeria/Algerian-college/Find-the-gaps.fet",
    "FET-5-official/Namibia/by-Bobby/set-7-2016/GoreangabJSSY2016T2b.fet",
    "FET-5-official/Iran/Sharif-University/Sharif.fet",
    # max days between activities (the days too far, per pair)
    "FET-5-official/Russia/Russian-Medical-College/timetable-ru.fet",
)

#: constraint types FET only accepts with weight 100 %
FET_HARD_ONLY = frozenset(
    {
        "ConstraintBasicCompulsoryTime",
        "ConstraintBasicCompulsorySpace",
        "ConstraintBreakTimes",
        "ConstraintTeacherNotAvailableTimes",
        "ConstraintStudentsSetNotAvailableTimes",
        "ConstraintActivityEndsStudentsDay",
        "ConstraintActivitiesEndStudentsDay",
        "ConstraintActivitiesOccupyMaxTimeSlotsFromSelection",
        "ConstraintActivitiesMaxSimultaneousInSelectedTimeSlots",
        "ConstraintTeacherMinDaysPerWeek",
        "ConstraintTeachersMinDaysPerWeek",
        *(
            f"Constraint{who}{what}"
            for who in ("Students", "StudentsSet", "Teacher", "Teachers")
            for what in (
                "MaxBuildingChangesPerDay",
                "MaxBuildingChangesPerWeek",
                "MinGapsBetweenBuildingChanges",
            )
        ),
        *(
            f"Constraint{who}{what}"
            for who in ("Students", "StudentsSet", "Teacher", "Teachers")
            for what in (
                "MaxGapsPerWeek",
                "MaxGapsPerDay",
                "EarlyMaxBeginningsAtSecondHour",
                "MinHoursDaily",
                "MaxDaysPerWeek",
                "IntervalMaxDaysPerWeek",
            )
        ),
    }
)

#: a file with hard teacher not-available times, for the perturbation test
PERTURBED = FAST[0]

_AMOUNT = re.compile(r"(?:increase=|total by |increase )\s*(-?\d+(?:\.\d+)?)")
_TOTAL = re.compile(r"Total soft conflicts:\s*(\S+)")

#: FET's soft-conflict lines → the model's constraint types
_FET_LINES = (
    (r"Time constraint min days between activities", "MinDaysBetweenActivities"),
    (r"Time constraint activities same starting time", "ActivitiesSameStartingTime"),
    (r"Time constraint activities same starting day", "ActivitiesSameStartingDay"),
    (r"Time constraint activities not overlapping", "ActivitiesNotOverlapping"),
    (r"Time constraint activity preferred starting time ", "ActivityPreferredStartingTime"),
    (r"Time constraint activity preferred starting times", "ActivityPreferredStartingTimes"),
    (r"Time constraint activity preferred time slots", "ActivityPreferredTimeSlots"),
    (
        r"Time constraint (?:sub)?activities preferred starting times",
        "ActivitiesPreferredStartingTimes",
    ),
    (r"Time constraint (?:sub)?activities preferred time slots", "ActivitiesPreferredTimeSlots"),
    (r"Time constraint two activities consecutive", "TwoActivitiesConsecutive"),
    (r"Time constraint two activities grouped", "TwoActivitiesGrouped"),
    (r"Time constraint three activities grouped", "ThreeActivitiesGrouped"),
    (r"Time constraint two activities ordered if same day", "TwoActivitiesOrderedIfSameDay"),
    (r"Time constraint two activities ordered", "TwoActivitiesOrdered"),
    (r"Time constraint activities same starting hour", "ActivitiesSameStartingHour"),
    (r"Time constraint min gaps between activities", "MinGapsBetweenActivities"),
    (r"Time constraint max days between activities", "MaxDaysBetweenActivities"),
    (
        r"Time constraint teachers? activity tag .* max \d+ hours continuously",
        "TeacherActivityTagMaxHoursContinuously",
    ),
    (
        r"Time constraint teachers? activity tag .* max \d+ hours daily",
        "TeacherActivityTagMaxHoursDaily",
    ),
    (
        r"Time constraint students(?: set)?,? activity tag .* max \d+ hours continuously",
        "StudentsActivityTagMaxHoursContinuously",
    ),
    (
        r"Time constraint students(?: set)?,? activity tag .* max \d+ hours daily",
        "StudentsActivityTagMaxHoursDaily",
    ),
    (r"Time constraint activity ends students' day", "ActivityEndsStudentsDay"),
    (r"Time constraint activities end students' day", "ActivitiesEndStudentsDay"),
    (r"Time constraint teachers? max \d+ hours daily per real day", "TeacherMaxHoursDailyRealDays"),
    (
        r"Time constraint students (?:set )?max (?:\d+ )?hours daily per real day",
        "StudentsMaxHoursDailyRealDays",
    ),
    (r"Time constraint teachers? max \d+ hours daily", "TeacherMaxHoursDaily"),
    (r"Time constraint teachers? min \d+ hours daily", "TeacherMinHoursDaily"),
    (r"Time constraint teachers? max \d+ hours continuously", "TeacherMaxHoursContinuously"),
    (r"Time constraint teachers? max days per week", "TeacherMaxDaysPerWeek"),
    (r"Time constraint teachers? interval max days", "TeacherIntervalMaxDaysPerWeek"),
    (r"Time constraint students (?:set )?interval max days", "StudentsIntervalMaxDaysPerWeek"),
    (r"Time constraint teachers? max gaps per week", "TeacherMaxGapsPerWeek"),
    (r"Time constraint teachers? max gaps per day", "TeacherMaxGapsPerDay"),
    (r"Time constraint students (?:set )?max hours daily", "StudentsMaxHoursDaily"),
    (r"Time constraint students (?:set )?min hours daily", "StudentsMinHoursDaily"),
    (r"Time constraint students (?:set )?max gaps per week", "StudentsMaxGapsPerWeek"),
    (r"Time constraint students (?:set )?max gaps per day", "StudentsMaxGapsPerDay"),
    (r"Constraint students (?:set )?early", "StudentsEarlyMaxBeginningsAtSecondHour"),
    (r"Time constraint break", "BreakTimes"),
    (r"Time constraint teacher not available", "TeacherNotAvailableTimes"),
    (r"Time constraint students set not available", "StudentsSetNotAvailableTimes"),
    (r"Space constraint room not available", "RoomNotAvailableTimes"),
    (r"Space constraint activity preferred rooms?\b", "ActivityPreferredRooms"),
    (r"Space constraint subject preferred rooms?\b", "SubjectPreferredRooms"),
    (r"Space constraint activity tag preferred rooms?\b", "ActivityTagPreferredRooms"),
    (r"Space constraint subject activity tag preferred", "SubjectActivityTagPreferredRooms"),
    (r"Space constraint students set home rooms?\b", "StudentsSetHomeRooms"),
    (r"Space constraint teacher home rooms?\b", "TeacherHomeRooms"),
)


def fet_soft_conflicts(path: Path) -> tuple[float, dict[str, float]]:
    """FET's total soft conflicts and its per-type sums, from the report (an
    entry may span lines: names can hold line breaks)."""
    text = path.read_text(encoding="utf-8-sig")
    m = _TOTAL.search(text)
    assert m is not None, text[:500]
    entries: list[str] = []
    _, _, body = text.partition("Soft conflicts list (in decreasing order):")
    for line in body.splitlines():
        if line.startswith(("Time constraint", "Space constraint", "Constraint ")):
            entries.append(line)
        elif line.strip() and not line.startswith("End of file") and entries:
            entries[-1] += " " + line
    by_type: Counter[str] = Counter()
    for entry in entries:
        kinds = [kind for pattern, kind in _FET_LINES if re.match(pattern, entry)]
        assert kinds, f"unknown FET conflict line: {entry}"
        amounts = _AMOUNT.findall(entry)
        assert amounts, entry
        by_type[kinds[0]] += float(amounts[-1])
    return float(m.group(1)), dict(by_type)


def run_fet(
    path: Path, out: Path, seconds: int = 60, first_seed: int = 1
) -> tuple[Instance, Timetable, Path]:
    """fet-cl on `path` with its six random seeds `first_seed` … `first_seed`
    + 5 (a fixed search: the same timetable every time)."""
    keys = ("10", "11", "12", "20", "21", "22")
    cmd = [
        fet_cl(),
        f"--inputfile={path}",
        f"--outputdir={out}",
        f"--timelimitseconds={seconds}",
        *(f"--randomseeds{k}={first_seed + i}" for i, k in enumerate(keys)),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=seconds + 30)
    name = path.stem
    folder = out / "timetables" / name
    activities = folder / f"{name}_activities.xml"
    if not activities.exists():
        pytest.skip(f"fet-cl found no timetable for {path.name} in {seconds} s")
    instance = read_fet(path).instance
    timetable = read_activities_xml(activities, instance)
    return instance, timetable, folder / f"{name}_soft_conflicts.txt"


FetRun = tuple[Instance, Timetable, Path]


@pytest.fixture(scope="module")
def fet_runs() -> dict[str, FetRun]:
    """fet-cl's results, one run per file for the whole module."""
    return {}


def fet_result(
    rel: str, runs: dict[str, FetRun], tmp_path_factory: pytest.TempPathFactory
) -> FetRun:
    if rel not in runs:
        runs[rel] = run_fet(example(rel), tmp_path_factory.mktemp("fet"))
    instance = runs[rel][0]
    if instance.unsupported:
        pytest.skip(f"{rel}: unsupported constraint types {instance.unsupported}")
    return runs[rel]


@pytest.mark.parametrize("rel", FAST)
def test_fet_timetable_checks_as_fet_reports_it(
    rel: str, fet_runs: dict[str, FetRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    instance, timetable, soft = fet_result(rel, fet_runs, tmp_path_factory)
    assert_same_as_fet(instance, timetable, soft)


@pytest.mark.slow
@pytest.mark.parametrize("rel", SLOWER)
def test_fet_timetable_of_public_set_file(rel: str, tmp_path: Path) -> None:
    assert rel in PUBLIC_SET
    instance, timetable, soft = run_fet(example(rel), tmp_path, first_seed=SLOWER_FIRST_SEED)
    if instance.unsupported:
        pytest.skip(f"{rel}: unsupported constraint types {instance.unsupported}")
    assert_same_as_fet(instance, timetable, soft)


def assert_same_as_fet(instance: Instance, timetable: Timetable, soft: Path) -> None:
    report = check(instance, timetable)
    total, by_type = fet_soft_conflicts(soft)
    assert report.complete
    assert report.hard == 0, [v for v in report.violations if v.hard][:10]
    assert report.soft == pytest.approx(total, abs=1e-6)
    ours = {k: v for k, v in report.soft_by_type().items() if v}
    assert ours.keys() == {k for k, v in by_type.items() if v}
    for kind, value in by_type.items():
        assert ours.get(kind, 0.0) == pytest.approx(value, abs=1e-6), kind


def soften(source: Path, target: Path) -> None:
    """A copy (outside the repository) with every constraint FET accepts soft at 50 %."""

    def weight(m: re.Match[str]) -> str:
        tag, body = m.group(1), m.group(2)
        if tag not in FET_HARD_ONLY:
            body = re.sub(
                r"<Weight_Percentage>[^<]*</Weight_Percentage>",
                "<Weight_Percentage>50</Weight_Percentage>",
                body,
            )
        return f"<{tag}>{body}</{tag}>"

    text = source.read_text(encoding="utf-8-sig")
    target.write_text(re.sub(r"<(Constraint\w+)>(.*?)</\1>", weight, text, flags=re.S), "utf-8")


@pytest.mark.parametrize("rel", SOFTENED)
def test_fet_timetable_of_softened_file(rel: str, tmp_path: Path) -> None:
    source = example(rel)
    fet_cl()
    softened = tmp_path / f"soft-{source.name}"
    soften(source, softened)
    instance, timetable, soft = run_fet(softened, tmp_path / "out")
    if instance.unsupported:
        pytest.skip(f"{rel}: unsupported constraint types {instance.unsupported}")
    assert sum(c.weight < HARD for c in instance.constraints) > 0
    assert_same_as_fet(instance, timetable, soft)


def test_perturbed_fet_timetable(
    fet_runs: dict[str, FetRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    instance, timetable, _ = fet_result(PERTURBED, fet_runs, tmp_path_factory)
    base = check(instance, timetable)
    assert base.hard == 0
    acts = {a.id: a for a in instance.activities}
    placed = timetable.by_activity()

    def occupancy(places: dict[int, Placement]) -> tuple[Counter[tuple[str, int, int]], ...]:
        teachers: Counter[tuple[str, int, int]] = Counter()
        subgroups: Counter[tuple[str, int, int]] = Counter()
        for p in places.values():
            a = acts[p.activity]
            for h in range(p.hour, p.hour + a.duration):
                for t in a.teachers:
                    teachers[(t, p.day, h)] += 1
                for g in {g for s in a.students for g in instance.subgroups_of(s)}:
                    subgroups[(g, p.day, h)] += 1
        return teachers, subgroups

    def clashes(c: Counter[tuple[str, int, int]]) -> int:
        return sum(n - 1 for n in c.values() if n > 1)

    # swap two one-hour activities of different teachers, the first's teacher
    # being busy when the second takes place
    ones = [a for a in instance.activities if a.duration == 1 and a.teachers]
    busy, _ = occupancy(placed)
    first, second = next(
        (a, b)
        for a in ones
        for b in ones
        if not set(a.teachers) & set(b.teachers)
        and any(busy[(t, placed[b.id].day, placed[b.id].hour)] for t in a.teachers)
    )
    p1, p2 = placed[first.id], placed[second.id]
    swapped = dict(placed)
    swapped[first.id] = Placement(activity=first.id, day=p2.day, hour=p2.hour, room=p1.room)
    swapped[second.id] = Placement(activity=second.id, day=p1.day, hour=p1.hour, room=p2.room)
    teachers, subgroups = occupancy(swapped)
    report = check(instance, Timetable(placements=tuple(swapped.values())))
    assert report.hard_by_type().get("TeacherConflict", 0) == clashes(teachers) > 0
    assert report.hard_by_type().get("SubgroupConflict", 0) == clashes(subgroups)
    assert report.hard >= clashes(teachers) + clashes(subgroups)

    # move an activity onto a slot where its teacher is not available
    na = {
        c.teacher: c.slots
        for c in instance.constraints
        if isinstance(c, TeacherNotAvailableTimes) and c.weight >= HARD and c.slots
    }
    mover = next(a for a in ones if len(a.teachers) == 1 and a.teachers[0] in na)
    day, hour = na[mover.teachers[0]][0]
    moved = dict(placed)
    moved[mover.id] = Placement(activity=mover.id, day=day, hour=hour, room=placed[mover.id].room)
    teachers, subgroups = occupancy(moved)
    report = check(instance, Timetable(placements=tuple(moved.values())))
    by_type = report.hard_by_type()
    assert by_type["TeacherNotAvailableTimes"] == 1
    assert by_type.get("TeacherConflict", 0) == clashes(teachers) == 0
    assert by_type.get("SubgroupConflict", 0) == clashes(subgroups)
    assert report.hard >= 1 + clashes(subgroups)

    # and leaving one out
    fewer = Timetable(placements=tuple(p for p in placed.values() if p.activity != mover.id))
    report = check(instance, fewer)
    assert not report.complete
    assert report.hard_by_type()["Unplaced"] == 1
