"""The CP-SAT solver: hard constraints enforced, soft ones costed (verified by
the independent checker), stop, progress, determinism, minimal change, and
one real fet-data school."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import msgspec
import pytest

import scheduling.solver as solver_mod
import scheduling.solver_compile as solver_compile
from scheduling import model as m
from scheduling.checker import check
from scheduling.solver import Progress, UnsupportedConstraintError, solve
from scheduling.solver_compile import Compiled, compile_instance, fet_reading_excess
from tests.scheduling.fetdata import example

DAYS = tuple(m.Day(name=f"D{i}") for i in range(3))
HOURS = tuple(m.Hour(name=f"H{i}") for i in range(4))


def school(
    activities: list[m.Activity],
    constraints: list[m.Constraint],
    *,
    rooms: tuple[m.Room, ...] = (),
    students: tuple[m.StudentsSet, ...] = (),
    days: int = 3,
    hours: int = 4,
) -> m.Instance:
    sets = students or (
        m.StudentsSet(name="A", kind="group", students=20, subgroups=("A1", "A2")),
        m.StudentsSet(name="A1", students=10, subgroups=("A1",)),
        m.StudentsSet(name="A2", students=10, subgroups=("A2",)),
        m.StudentsSet(name="B", kind="group", students=25, subgroups=("B",)),
    )
    teachers = sorted({t for a in activities for t in a.teachers})
    return m.Instance(
        name="t",
        days=DAYS[:days] if days <= 3 else tuple(m.Day(name=f"D{i}") for i in range(days)),
        hours=HOURS[:hours] if hours <= 4 else tuple(m.Hour(name=f"H{i}") for i in range(hours)),
        teachers=tuple(m.Teacher(name=t) for t in teachers),
        students=sets,
        rooms=rooms,
        activities=tuple(activities),
        constraints=tuple(constraints),
    )


def act(i: int, teacher: str, students: str, *, dur: int = 1, subject: str = "S") -> m.Activity:
    return m.Activity(
        id=i, subject=subject, teachers=(teacher,), students=(students,), duration=dur
    )


def solved(inst: m.Instance, **kw: object) -> dict[int, m.Placement]:
    r = solve(inst, time_limit_s=20, **kw)  # type: ignore[arg-type]
    assert r.timetable is not None, r
    rep = check(inst, r.timetable)
    assert rep.complete
    assert rep.hard == 0, rep.violations
    assert r.soft == pytest.approx(rep.soft)
    return r.timetable.by_activity()


def first_soft_scores(inst: m.Instance) -> list[float]:
    """Solve; the soft scores reported as timetables were found, the first
    one first (the end result checked for hard violations)."""
    firsts: list[float] = []
    r = solve(
        inst,
        time_limit_s=20,
        on_progress=lambda p: firsts.append(p.soft) if p.soft is not None else None,
    )
    assert r.timetable is not None and check(inst, r.timetable).hard == 0
    return firsts


# --- hard constraints ---------------------------------------------------------------


def test_no_overlap_for_teachers_subgroups_and_rooms() -> None:
    acts = [act(1, "T", "A"), act(2, "T", "B"), act(3, "U", "A1"), act(4, "V", "A2")]
    acts += [act(5, "W", "B"), act(6, "X", "B")]
    room = (m.Room(name="R", capacity=30),)
    cs: list[m.Constraint] = [m.ActivityPreferredRooms(activity=i, rooms=("R",)) for i in (5, 6)]
    at = solved(school(acts, cs, rooms=room, days=1, hours=3))
    slots = {i: (p.day, p.hour) for i, p in at.items()}
    assert slots[1] != slots[2]  # teacher T
    assert slots[3] != slots[1] and slots[4] != slots[1]  # subgroups of A
    assert slots[5] != slots[6] and at[5].room == at[6].room == "R"


def test_unavailable_times_and_breaks() -> None:
    acts = [act(i, "T", "A") for i in range(1, 5)]
    cs: list[m.Constraint] = [
        m.BreakTimes(slots=((0, 0), (1, 0), (2, 0))),
        m.TeacherNotAvailableTimes(teacher="T", slots=((0, 1), (1, 1))),
        m.StudentsSetNotAvailableTimes(students="A1", slots=((2, 3),)),
    ]
    at = solved(school(acts, cs))
    used = {(p.day, p.hour) for p in at.values()}
    assert not used & {(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 3)}


def test_rooms_suitability_capacity_and_unavailability() -> None:
    rooms = (
        m.Room(name="small", capacity=5),
        m.Room(name="lab1", capacity=30),
        m.Room(name="lab2", capacity=30),
    )
    acts = [act(i, f"T{i}", "B", subject="Chem") for i in range(1, 3)]
    acts[1] = m.Activity(id=2, subject="Chem", teachers=("T2",), students=("A",))
    cs: list[m.Constraint] = [
        m.SubjectPreferredRooms(subject="Chem", rooms=("small", "lab1", "lab2")),
        m.RoomNotAvailableTimes(room="lab2", slots=((0, 0),)),
    ]
    at = solved(school(acts, cs, rooms=rooms, days=1, hours=2))
    assert {at[1].room, at[2].room} <= {"lab1", "lab2"}  # "small" is too small
    assert all(p.room != "lab2" for p in at.values() if p.hour == 0)
    # one hour only: both at (0, 0), lab2 closed then, small too small
    r = solve(school(acts, cs, rooms=rooms, days=1, hours=1), time_limit_s=10)
    assert r.status == "infeasible"


def test_zero_gaps_and_early_beginnings_for_students() -> None:
    # B has 2 lessons a day on 2 days of 4 hours; teachers block hour 0 on day 0
    acts = [act(i, f"T{i}", "B") for i in range(1, 5)]
    cs: list[m.Constraint] = [
        m.StudentsMaxGapsPerWeek(max_gaps=0),
        m.StudentsEarlyMaxBeginningsAtSecondHour(max_beginnings=1),
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=3),
    ]
    at = solved(school(acts, cs, days=2))
    by_day: dict[int, list[int]] = {}
    for p in at.values():
        by_day.setdefault(p.day, []).append(p.hour)
    late = 0
    for hours in by_day.values():
        hours.sort()
        assert hours == list(range(hours[0], hours[0] + len(hours)))  # no gap
        assert hours[0] <= 1
        late += hours[0] == 1
    assert late <= 1


def test_teacher_gaps_and_daily_weekly_limits() -> None:
    acts = [act(i, "T", "A" if i % 2 else "B") for i in range(1, 7)]
    cs: list[m.Constraint] = [
        m.TeacherMaxGapsPerDay(teacher="T", max_gaps=0),
        m.TeacherMaxHoursDaily(teacher="T", max_hours=3),
        m.TeacherMaxDaysPerWeek(teacher="T", max_days=2),
        m.TeacherMaxHoursContinuously(teacher="T", max_hours=3),
        m.ActivityPreferredStartingTimes(activity=1, slots=((0, 0), (2, 0))),
    ]
    at = solved(school(acts, cs))
    days: dict[int, list[int]] = {}
    for p in at.values():
        days.setdefault(p.day, []).append(p.hour)
    assert len(days) == 2
    for hours in days.values():
        hours.sort()
        assert len(hours) == 3 and hours == list(range(hours[0], hours[0] + 3))
    assert (at[1].day, at[1].hour) in {(0, 0), (2, 0)}


def test_students_interval_max_days() -> None:
    """Eight lessons of A1 (three days × four hours): at most one day with a
    lesson in the last two hours, so six fill the mornings and two one
    afternoon; B's soft limit (one day) broken once, costed at its weight."""
    acts = [act(i, f"T{i}", "A1") for i in range(1, 7)] + [act(7, "U", "B"), act(8, "U", "B")]
    acts += [act(i, f"T{i}", "A1") for i in (9, 10)]
    cs: list[m.Constraint] = [
        m.StudentsIntervalMaxDaysPerWeek(students="A", start_hour=2, end_hour=4, max_days=1),
        m.StudentsIntervalMaxDaysPerWeek(
            students="B", start_hour=0, end_hour=4, max_days=1, weight=50
        ),
        m.ActivityPreferredStartingTime(activity=7, day=0, hour=0),
        m.ActivityPreferredStartingTime(activity=8, day=1, hour=0),
    ]
    inst = school(acts, cs)
    at = solved(inst)
    afternoon = [p.day for a, p in at.items() if a not in (7, 8) and p.hour >= 2]
    assert len(afternoon) == 2 and len(set(afternoon)) == 1
    rep = check(inst, m.Timetable(placements=tuple(at.values())))
    assert rep.soft == pytest.approx(0.5)


def test_min_gaps_between_activities() -> None:
    """Three lessons of A1 (with different teachers) at least two hours apart
    when on one day: day 0 (4 hours) takes at most two of them, at hours 0
    and 3; all three are pulled there by a soft wish, and the students' own
    continuous limit (2) holds for B."""
    acts = [act(i, f"T{i}", "A1") for i in (1, 2, 3)] + [act(i, "U", "B") for i in (4, 5, 6)]
    cs: list[m.Constraint] = [
        m.MinGapsBetweenActivities(activities=(1, 2, 3), min_gaps=2),
        *(m.ActivityPreferredStartingTime(activity=i, day=0, weight=80) for i in (1, 2, 3)),
        m.StudentsMaxHoursContinuously(students="B", max_hours=2),
        *(m.ActivityPreferredStartingTime(activity=i, day=1, weight=80) for i in (4, 5, 6)),
    ]
    inst = school(acts, cs)
    at = solved(inst)
    day0 = sorted(p.hour for a, p in at.items() if a <= 3 and p.day == 0)
    assert day0 == [0, 3]
    b_hours = sorted(p.hour for a, p in at.items() if a >= 4 and p.day == 1)
    assert len(b_hours) == 3 and b_hours != list(range(b_hours[0], b_hours[0] + 3))


def tagged(i: int, teacher: str, students: str, tag: str) -> m.Activity:
    return m.Activity(id=i, subject="S", teachers=(teacher,), students=(students,), tags=(tag,))


def pulled(ids: tuple[int, ...], day: int, hour: int | None = None) -> list[m.Constraint]:
    """Soft wishes that these lessons start on this day (and hour)."""
    return [m.ActivityPreferredStartingTime(activity=i, day=day, hour=hour, weight=80) for i in ids]


def test_teacher_min_days_per_week() -> None:
    """T's three lessons are wished on day 0; at least three days win."""
    acts = [act(i, "T", g) for i, g in ((1, "A1"), (2, "A2"), (3, "B"))]
    at = solved(school(acts, [*pulled((1, 2, 3), 0), m.TeacherMinDaysPerWeek(min_days=3)]))
    assert sorted(p.day for p in at.values()) == [0, 1, 2]


def test_activity_tag_max_hours_daily() -> None:
    """T's three lab lessons, all wished on day 0, at most one a day; B's
    two lab lessons at most one a day for the students."""
    acts = [tagged(i, "T", "A1", "lab") for i in (1, 2, 3)]
    acts += [tagged(4, "U", "B", "lab"), tagged(5, "V", "B", "lab"), act(6, "V", "B")]
    cs = [
        *pulled((1, 2, 3, 4, 5, 6), 0),
        m.TeacherActivityTagMaxHoursDaily(teacher="T", tag="lab", max_hours=1),
        m.StudentsActivityTagMaxHoursDaily(students="B", tag="lab", max_hours=1),
    ]
    at = solved(school(acts, cs))
    assert sorted(at[i].day for i in (1, 2, 3)) == [0, 1, 2]
    assert at[4].day != at[5].day and at[6].day == 0


def test_activity_tag_max_hours_continuously() -> None:
    """Four lab lessons and one other of A1, all wished on day 0 (four
    hours): at most two labs in a row, so one lab goes to another day and
    the other lesson sits between labs."""
    acts = [tagged(i, f"T{i}", "A1", "lab") for i in (1, 2, 3, 4)] + [act(5, "U", "A1")]
    cs = [
        *pulled((1, 2, 3, 4, 5), 0),
        m.StudentsActivityTagMaxHoursContinuously(students="A1", tag="lab", max_hours=2),
        m.TeacherActivityTagMaxHoursContinuously(tag="lab", max_hours=1),
    ]
    at = solved(school(acts, cs))
    day0 = {p.hour: i for i, p in at.items() if p.day == 0}
    assert len(day0) == 4 and 5 in day0.values()
    assert day0[1] == 5 or day0[2] == 5  # no three labs in a row


def test_a_merged_classs_soft_limit_costs_once_per_subgroup() -> None:
    """A1 and A2 have the same lessons, so the model merges them into one
    class: the year A's two lessons, each wished on day 0 (80 %), and at
    most one lesson a day for the students (60 %). Both on day 0 break the
    limit for two subgroups (1.20, as the checker and FET count it); one
    moved breaks one wish (0.80). Costed once per class (0.60), as before
    2026-12-01, the solver kept both on day 0."""
    acts = [act(1, "T1", "A"), act(2, "T2", "A")]
    cs = [*pulled((1, 2), 0), m.StudentsMaxHoursDaily(max_hours=1, weight=60)]
    inst = school(acts, cs)
    comp = compile_instance(inst)
    merged = [p for p in comp.subgroups if p.activities]
    assert len(merged) == 1 and merged[0].max_hours_daily == (1, 2 * 6000)
    at = solved(inst)
    assert at[1].day != at[2].day
    r = solve(inst, time_limit_s=20)
    assert r.status == "optimal" and r.soft == pytest.approx(0.80)


def test_a_heavy_students_tag_limit_is_kept_as_fets_reading_needs() -> None:
    """Three lab lessons of the year A (subgroups A1, A2), each wished twice
    over (99 %) on day 0 of three hours, with at most two labs in a row for
    the students. By the weights alone all three on day 0 is cheapest (two
    subgroups break the limit: 1.96 at 98 %, against 1.98 for moving one);
    but FET's generator rolls the 98 % once per subgroup as it places the
    third lab (one try in 2,500), so from 90 % on the limit is kept as hard.
    At 80 % it stays a soft cost (1.60 against 1.98)."""

    def at(weight: float) -> tuple[dict[int, m.Placement], float]:
        acts = [tagged(i, f"T{i}", "A", "lab") for i in (1, 2, 3)]
        cs: list[m.Constraint] = [
            m.StudentsActivityTagMaxHoursContinuously(tag="lab", max_hours=2, weight=weight)
        ]
        for i in (1, 2, 3):
            cs.append(m.ActivityPreferredStartingTime(activity=i, day=0, weight=99))
            cs.append(
                m.ActivityPreferredStartingTimes(
                    activity=i, slots=((0, 0), (0, 1), (0, 2)), weight=99
                )
            )
        inst = school(acts, cs, hours=3)
        r = solve(inst, time_limit_s=20)
        assert r.timetable is not None and r.status == "optimal"
        return solved(inst), r.soft

    heavy, soft = at(98)
    assert sorted(p.day for p in heavy.values()).count(0) == 2 and soft == pytest.approx(1.98)
    light, soft = at(80)
    assert [p.day for p in light.values()] == [0, 0, 0] and soft == pytest.approx(1.60)


def test_same_starting_hour_ordered_and_max_simultaneous() -> None:
    acts = [act(1, "T", "A1"), act(2, "U", "A2"), act(3, "V", "B"), act(4, "W", "B")]
    cs = [
        m.ActivityPreferredStartingTime(activity=1, hour=2),
        *pulled((2,), 0, 0),
        *pulled((3,), 1, 3),
        m.ActivitiesSameStartingHour(activities=(1, 2, 3)),
        # 4 wished first thing on day 0, but after 3
        *pulled((4,), 0, 0),
        m.TwoActivitiesOrdered(first=3, second=4),
        # at most one of 1, 2 at any hour 2 of day 0 and 1
        m.ActivitiesMaxSimultaneousInSelectedTimeSlots(
            activities=(1, 2), slots=((0, 2), (1, 2)), max_simultaneous=1
        ),
    ]
    at = solved(school(acts, cs))
    assert at[1].hour == at[2].hour == at[3].hour == 2
    assert (at[4].day, at[4].hour) > (at[3].day, at[3].hour)
    assert at[1].day != at[2].day or at[1].day == 2


def test_two_activities_ordered_if_same_day_and_three_grouped() -> None:
    acts = [act(1, "T", "A1"), act(2, "U", "A1")] + [act(i, f"G{i}", "B") for i in (3, 4, 5)]
    cs = [
        # 2 wished first thing on day 0 and 1 (more) on day 0: 1 must come
        # first, or 2 go elsewhere
        *pulled((2,), 0, 0),
        m.ActivityPreferredStartingTime(activity=1, day=0, weight=95),
        m.TwoActivitiesOrderedIfSameDay(first=1, second=2),
        # three of B, wished on three days, grouped on one
        *pulled((3,), 0),
        *pulled((4,), 1),
        *pulled((5,), 2),
        m.ThreeActivitiesGrouped(first=3, second=4, third=5),
    ]
    at = solved(school(acts, cs))
    assert at[1].day == 0
    assert at[2].day != 0 or at[1].hour < at[2].hour
    assert len({at[i].day for i in (3, 4, 5)}) == 1
    hours = sorted(at[i].hour for i in (3, 4, 5))
    assert hours == list(range(hours[0], hours[0] + 3))


def test_building_changes_with_rooms_fixed() -> None:
    """T teaches three lessons in building N and two in S, all wished at
    the start of day 0 (four hours): at most one change a day and a free
    hour before a change, so day 0 holds N N _ S at most, or one building."""
    rooms = (m.Room(name="n1", building="N"), m.Room(name="s1", building="S"))
    groups = ("A1", "A2", "B", "A1", "A2")
    acts = [act(i, "T", g) for i, g in enumerate(groups, 1)]
    cs: list[m.Constraint] = [
        *pulled((1, 2, 3, 4, 5), 0),
        *(m.ActivityPreferredRooms(activity=i, rooms=("n1",)) for i in (1, 2, 3)),
        *(m.ActivityPreferredRooms(activity=i, rooms=("s1",)) for i in (4, 5)),
        m.TeacherMaxBuildingChanges(max_changes=1),
        m.TeacherMinGapsBetweenBuildingChanges(teacher="T", min_gaps=1),
    ]
    at = solved(school(acts, cs, rooms=rooms))
    for d in range(3):
        day = sorted((p.hour, p.room) for p in at.values() if p.day == d)
        changes = [(h1, h2) for (h1, r1), (h2, r2) in itertools.pairwise(day) if r1 != r2]
        assert len(changes) <= 1 and all(h2 - h1 >= 2 for h1, h2 in changes)
    assert sum(p.day == 0 for p in at.values()) == 3  # the most day 0 can hold so


def test_building_changes_refused_where_the_room_choice_sets_the_building() -> None:
    rooms = (m.Room(name="n1", building="N"), m.Room(name="s1", building="S"))
    acts = [act(1, "T", "A1"), act(2, "T", "A2")]
    cs: list[m.Constraint] = [
        m.ActivityPreferredRooms(activity=1, rooms=("n1", "s1")),
        m.ActivityPreferredRooms(activity=2, rooms=("s1",)),
        m.TeacherMaxBuildingChanges(max_changes=0),
    ]
    with pytest.raises(UnsupportedConstraintError, match="building depends on the room"):
        compile_instance(school(acts, cs, rooms=rooms))


@pytest.mark.parametrize("times_first", [False, True])
def test_soft_room_not_available(times_first: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """R1 is closed (soft, 60 %) at hour 0 of day 0. Lesson 1 may take R1 or
    R2 and is wished (80 %) at that hour: it goes to R2 there. Lesson 2 takes
    R1 only and is wished (40 %) there too: it moves. The solver's soft
    score is the checker's (FET counts a lesson's hours in those slots)."""
    monkeypatch.setattr(solver_mod, "TIMES_FIRST", times_first)
    rooms = (m.Room(name="R1"), m.Room(name="R2"))
    acts = [act(1, "T", "A1"), act(2, "U", "B")]
    cs: list[m.Constraint] = [
        m.RoomNotAvailableTimes(room="R1", slots=((0, 0),), weight=60),
        m.ActivityPreferredRooms(activity=1, rooms=("R1", "R2")),
        m.ActivityPreferredRooms(activity=2, rooms=("R1",)),
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0, weight=80),
        m.ActivityPreferredStartingTime(activity=2, day=0, hour=0, weight=40),
    ]
    at = solved(school(acts, cs, rooms=rooms))
    assert (at[1].day, at[1].hour, at[1].room) == (0, 0, "R2")
    assert (at[2].day, at[2].hour) != (0, 0) and at[2].room == "R1"


@pytest.mark.parametrize("times_first", [False, True])
def test_max_different_rooms(times_first: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three lessons that may each take R1 or R2, wished (soft) in R1, R2,
    R2, take one room between them: R2."""
    monkeypatch.setattr(solver_mod, "TIMES_FIRST", times_first)
    rooms = (m.Room(name="R1"), m.Room(name="R2"))
    acts = [act(1, "T", "A1"), act(2, "U", "A2"), act(3, "V", "B")]
    cs: list[m.Constraint] = [
        *(m.ActivityPreferredRooms(activity=i, rooms=("R1", "R2")) for i in (1, 2, 3)),
        m.ActivityPreferredRooms(activity=1, rooms=("R1",), weight=50),
        *(m.ActivityPreferredRooms(activity=i, rooms=("R2",), weight=50) for i in (2, 3)),
        m.ActivitiesOccupyMaxDifferentRooms(activities=(1, 2, 3), max_rooms=1),
    ]
    at = solved(school(acts, cs, rooms=rooms))
    assert {p.room for p in at.values()} == {"R2"}
    assert len({(p.day, p.hour) for p in at.values()}) == 3


@pytest.mark.parametrize("times_first", [False, True])
def test_virtual_rooms(times_first: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hall of three real rooms used two at a time (virtual room "gym":
    one of R1/R2 and one of R2/R3): two PE lessons cannot share an hour,
    and lesson 3, in R2, leaves R1 and R3 to the PE lesson beside it. Real
    rooms given with the virtual room are kept (as a set). One hour only:
    no timetable."""
    monkeypatch.setattr(solver_mod, "TIMES_FIRST", times_first)
    rooms = (
        m.Room(name="R1"),
        m.Room(name="R2"),
        m.Room(name="R3"),
        m.Room(name="gym", real_rooms=(("R1", "R2"), ("R2", "R3"))),
    )
    acts = [act(1, "T", "A1", subject="PE"), act(2, "U", "A2", subject="PE"), act(3, "V", "B")]
    cs: list[m.Constraint] = [
        m.SubjectPreferredRooms(subject="PE", rooms=("gym",)),
        m.ActivityPreferredRooms(activity=3, rooms=("R2",)),
    ]
    at = solved(school(acts, cs, rooms=rooms, days=1, hours=2))
    assert at[1].hour != at[2].hour
    for i in (1, 2):
        assert at[i].room == "gym" and at[i].real_rooms[0] in ("R1", "R2")
        assert at[i].real_rooms[1] in ("R2", "R3") and len(set(at[i].real_rooms)) == 2
        if at[i].hour == at[3].hour:
            assert at[i].real_rooms == ("R1", "R3")
    given = [*cs, m.ActivityPreferredRooms(activity=1, rooms=("gym",), real_rooms=("R3", "R2"))]
    at = solved(school(acts, given, rooms=rooms, days=1, hours=2))
    assert at[1].real_rooms == ("R2", "R3") and at[3].hour != at[1].hour
    r = solve(school(acts[:2], cs[:1], rooms=rooms, days=1, hours=1), time_limit_s=10)
    assert r.status == "infeasible"
    with pytest.raises(UnsupportedConstraintError, match="between virtual rooms"):
        two = (*rooms, m.Room(name="gym2", real_rooms=(("R1",), ("R3",))))
        compile_instance(
            school(acts, [m.SubjectPreferredRooms(subject="PE", rooms=("gym", "gym2"))], rooms=two)
        )


def test_max_days_between_activities() -> None:
    """Lessons 1-3 wished on days 0, 1 and 2, at most one day apart (hard):
    they keep to two neighbouring days. Lessons 4 and 5, wished two days
    apart at 30 %, at most one day apart at 60 % (a day too far costs 0.6):
    one of them moves."""
    acts = [act(1, "T", "A1"), act(2, "U", "A2"), act(3, "V", "B")]
    acts += [act(4, "W", "A1"), act(5, "X", "A2")]
    cs: list[m.Constraint] = [
        *pulled((1,), 0),
        *pulled((2,), 1),
        *pulled((3,), 2),
        m.MaxDaysBetweenActivities(activities=(1, 2, 3), max_days=1),
        m.ActivityPreferredStartingTime(activity=4, day=0, weight=30),
        m.ActivityPreferredStartingTime(activity=5, day=2, weight=30),
        m.MaxDaysBetweenActivities(activities=(4, 5), max_days=1, weight=60),
    ]
    at = solved(school(acts, cs))
    days = [at[i].day for i in (1, 2, 3)]
    assert max(days) - min(days) <= 1
    assert abs(at[4].day - at[5].day) <= 1


def test_max_span_and_min_resting_hours() -> None:
    """T's lessons wished at the first and last hour of day 0 and the first
    hour of day 1: a max span of 3 hours and 2 hours of rest between days
    move them."""
    acts = [act(1, "T", "A1"), act(2, "T", "A2"), act(3, "T", "B")]
    cs: list[m.Constraint] = [
        *pulled((1,), 0, 0),
        *pulled((2,), 0, 3),
        *pulled((3,), 1, 0),
        m.MaxSpanPerDay(max_span=3),
        m.MinRestingHours(teacher="T", min_hours=2, circular=False),
    ]
    at = solved(school(acts, cs))
    for d in range(3):
        hours = sorted(p.hour for p in at.values() if p.day == d)
        assert not hours or hours[-1] - hours[0] + 1 <= 3
    for d in range(2):
        last = max((p.hour for p in at.values() if p.day == d), default=None)
        first = min((p.hour for p in at.values() if p.day == d + 1), default=None)
        if last is not None and first is not None:
            assert (3 - last) + first >= 2


def _gappy_teacher_school(max_gaps: int) -> m.Instance:
    """T teaches A at the first and last hour of day 0: two gaps unless two
    of T's lessons with B fill them."""
    acts = [
        act(1, "T", "A"),
        act(2, "T", "A"),
        act(3, "T", "B"),
        act(4, "T", "B"),
        *(act(i, "U", "B") for i in range(5, 9)),
    ]
    cs: list[m.Constraint] = [
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0),
        m.ActivityPreferredStartingTime(activity=2, day=0, hour=3),
        m.TeacherMaxGapsPerWeek(teacher="T", max_gaps=max_gaps),
    ]
    return school(acts, cs)


def test_teacher_gap_limit_above_zero_is_relaxed_in_phase_one_and_kept() -> None:
    """Phase 1 turns a hard gap limit above zero into a penalty to bring to
    0 (a limit of zero stays a constraint); the timetable keeps the limit."""
    from scheduling.solver_model import Builder

    for max_gaps, relaxed in ((1, True), (0, False)):
        b = Builder(compile_instance(_gappy_teacher_school(max_gaps)), soft=False, relax_gaps=True)
        b.build()
        assert bool(b.penalties) is relaxed
        assert all(owner[0] == "t" for owner in b.penalty_owner)
    for max_gaps in (1, 0):
        at = solved(_gappy_teacher_school(max_gaps), seed=3)
        t_day0 = sorted(at[i].hour for i in (1, 2, 3, 4) if at[i].day == 0)
        assert len(t_day0) >= 4 - max_gaps


def _bare_solver(
    inst: m.Instance,
    *,
    time_limit_s: float = 20,
    improve_s: float | None = None,
    on_progress: Callable[[solver_mod.Progress], None] | None = None,
) -> solver_mod._Solver:
    """The solver's state before `solve`, for its parts one by one."""
    return solver_mod._Solver(
        inst,
        time_limit_s=time_limit_s,
        seed=1,
        workers=1,
        warm_start=None,
        minimal_change=False,
        on_progress=on_progress,
        stop=None,
        improve_s=improve_s,
        deterministic=True,
        params=None,
    )


def _relaxed_phase(
    inst: m.Instance,
) -> tuple[solver_mod._Solver, Compiled, solver_mod._Phase]:
    """A bare solver and its phase-1 model with the gap limits and the soft
    min days relaxed."""
    comp = compile_instance(inst)
    sv = _bare_solver(inst)
    sv.comp = comp
    ph = solver_mod._Phase(
        "search", comp, soft=False, symmetry=False, relax_gaps=True, relax_min_days=True
    )
    return sv, comp, ph


def test_neighbourhood_search_takes_a_relaxed_penalty_to_zero() -> None:
    """From a phase-1 solution over a relaxed gap limit (T with two gaps on
    day 0, one allowed), the neighbourhood search finds a timetable that
    keeps the limit, each step within its deterministic budget."""
    inst = _gappy_teacher_school(1)
    sv = _bare_solver(inst)
    comp = compile_instance(inst)
    sv.comp = comp
    ph = solver_mod._Phase("search", comp, soft=False, symmetry=False, relax_gaps=True)
    assert ph.relaxed and ph.penalty_var is not None
    H = comp.H
    # T's B lessons on day 1, U's lessons around them: T has 2 gaps on day 0
    want = {1: 0, 2: 3, 3: H + 0, 4: H + 1, 5: 0, 6: 1, 7: 2, 8: 3}
    starts = [want[a.id] for a in comp.activities]
    ph.relaxed_best = (starts, [None] * len(starts), 1, [1] * len(ph.builder.penalties))
    status = sv._descend(ph, solver_mod.cp_model.UNKNOWN, {"linearization_level": 0})
    assert status == solver_mod.cp_model.OPTIMAL
    assert sv.run.timetable is not None
    rep = check(inst, sv.run.timetable)
    assert rep.complete and rep.hard == 0, rep.violations


def _spread_school() -> m.Instance:
    """The gappy teacher's school, and U's 4 lessons with B spread over the
    3 days (95 %): one pair of them must share a day."""
    inst = _gappy_teacher_school(1)
    spread = m.MinDaysBetweenActivities(activities=(5, 6, 7, 8), min_days=1, weight=95)
    return msgspec.structs.replace(inst, constraints=(*inst.constraints, spread))


def test_soft_min_days_not_enforced_are_relaxed_beside_the_gap_limits() -> None:
    """Without min days enforced, phase 1 makes a soft one a penalty per
    window (lessons beyond the first), not a hard one: a hard spread stays a
    constraint, and a gap limit's penalty is the only hard one."""
    from scheduling.solver_model import Builder

    comp = compile_instance(_spread_school())
    b = Builder(comp, soft=False, relax_gaps=True, relax_min_days=True)
    b.build()
    assert b.penalty_hard.count(True) == 1  # T's gap limit
    assert b.penalty_hard.count(False) == comp.D  # one window a day
    off = Builder(comp, soft=False, relax_gaps=True)
    off.build()
    assert off.penalty_hard == [True]
    hard = msgspec.structs.replace(
        _spread_school(),
        constraints=(
            *_gappy_teacher_school(1).constraints,
            m.MinDaysBetweenActivities(activities=(5, 6, 7), min_days=1),
        ),
    )
    hb = Builder(compile_instance(hard), soft=False, relax_gaps=True, relax_min_days=True)
    hb.build()
    assert hb.penalty_hard == [True]


def test_a_relaxed_solution_breaking_only_soft_min_days_is_a_timetable() -> None:
    """The spread cannot hold whole, so the relaxed penalty never reaches 0:
    the neighbourhood search still ends with a timetable, the one breaking
    the fewest (one pair on one day), once the gap limit holds."""

    inst = _spread_school()
    sv, comp, ph = _relaxed_phase(inst)
    H = comp.H
    # T has 2 gaps on day 0 (one allowed) and U's 4 lessons are all on day 0
    want = {1: 0, 2: 3, 3: H + 0, 4: H + 1, 5: 0, 6: 1, 7: 2, 8: 3}
    starts = [want[a.id] for a in comp.activities]
    n = len(ph.builder.penalties)
    ph.relaxed_best = (starts, [None] * len(starts), 4, [1] * n)
    status = sv._descend(ph, solver_mod.cp_model.UNKNOWN, {"linearization_level": 0})
    assert status == solver_mod.cp_model.OPTIMAL
    assert sv.run.timetable is not None
    rep = check(inst, sv.run.timetable)
    assert rep.complete and rep.hard == 0, rep.violations
    assert rep.soft == pytest.approx(0.95)
    # and through phase 1 without the min days enforced, as the solver runs it
    sv2 = _bare_solver(inst)
    sv2.comp = comp
    outcome, _ = sv2._phase1(comp, False, {}, min_days_hard=0)
    assert outcome == "found" and sv2.run.timetable is not None
    rep2 = check(inst, sv2.run.timetable)
    assert rep2.hard == 0 and rep2.soft == pytest.approx(0.95)


@pytest.mark.parametrize("stall", [0, 2])
def test_the_relaxed_search_stops_after_its_stall_bound_once_it_has_a_timetable(
    monkeypatch: pytest.MonkeyPatch, stall: int
) -> None:
    """Once a solution breaks only soft min days, the search runs at most
    `RELAX_VALID_STALL` steps in a row that find no lower penalty, and ends
    with a timetable."""
    monkeypatch.setattr(solver_mod, "RELAX_VALID_STALL", stall)
    monkeypatch.setattr(solver_mod, "RELAX_LNS_START_SIZE", 1)  # no step frees everything
    inst = _spread_school()
    sv, comp, ph = _relaxed_phase(inst)
    H = comp.H
    # T's gaps kept (lessons 3 and 4 fill them); U's 4 lessons all on day 0
    want = {1: 0, 2: 3, 3: 1, 4: 2, 5: H, 6: H + 1, 7: H + 2, 8: H + 3}
    starts = [want[a.id] for a in comp.activities]
    n = len(ph.builder.penalties)
    ph.relaxed_best = (starts, [None] * len(starts), 3, [1] * n)
    ph.relaxed_valid = (starts, [None] * len(starts), 3)
    idle: list[int] = []  # per step: steps in a row before it without a lower penalty
    real = solver_mod._Solver.run_phase

    def spy(
        self: solver_mod._Solver,
        p: solver_mod._Phase,
        extra: dict[str, object],
        model: object = None,
    ) -> int:
        assert p.relaxed_best is not None
        before = p.relaxed_best[2]
        st = real(self, p, extra, model)  # type: ignore[arg-type]
        idle.append(0 if p.relaxed_best[2] < before else 1)
        return st

    monkeypatch.setattr(solver_mod._Solver, "run_phase", spy)
    status = sv._descend(ph, solver_mod.cp_model.UNKNOWN, {"linearization_level": 0})
    assert status == solver_mod.cp_model.OPTIMAL
    assert sv.run.timetable is not None and check(inst, sv.run.timetable).hard == 0
    assert sv.run.first_s is not None
    run = 0
    for i in idle:
        run = run + 1 if i else 0
        assert run <= stall
    if stall == 0:
        assert idle == []  # a timetable already, and no step may go without progress
    else:
        assert idle and idle[-stall:] == [1] * stall  # it ended on the bound


def test_a_relaxed_optimum_breaking_only_soft_min_days_is_a_timetable_not_a_proof() -> None:
    """CP-SAT proves the least relaxed penalty above 0 (one lesson of the
    spread beyond its day): with soft min days in it, that is the timetable,
    not a proof that there is none."""

    inst = _spread_school()
    sv, _, ph = _relaxed_phase(inst)
    status = sv._run_search(ph, {"linearization_level": 0})
    assert status == solver_mod.cp_model.OPTIMAL
    assert sv.run.timetable is not None
    rep = check(inst, sv.run.timetable)
    assert rep.complete and rep.hard == 0 and rep.soft == pytest.approx(0.95)


def test_a_least_relaxed_penalty_with_a_gap_limit_broken_is_not_a_proof() -> None:
    """Filling one of T's gaps on day 0 with lesson 3 or 4 puts it beside
    two lessons of each of its two spreads, fixed there (two penalties);
    leaving the gaps costs one. The least relaxed penalty breaks the gap
    limit, yet a timetable exists: the search does not take it for a
    proof, and phase 1 without relaxing the spreads finds the timetable."""

    base = _gappy_teacher_school(1)
    acts = list(base.activities)
    cs = list(base.constraints)
    day0 = tuple((0, h) for h in range(4))
    for k, lesson in enumerate((3, 4)):
        for j in range(2):
            ids = (20 + 4 * k + 2 * j, 21 + 4 * k + 2 * j)
            acts += [act(i, f"V{i}", f"V{i}") for i in ids]
            cs.append(m.MinDaysBetweenActivities(activities=(lesson, *ids), min_days=1, weight=95))
            cs += [m.ActivityPreferredStartingTimes(activity=i, slots=day0) for i in ids]
    sets = (
        *school([], []).students,
        *(m.StudentsSet(name=f"V{a.id}", students=5, subgroups=(f"V{a.id}",)) for a in acts[8:]),
    )
    inst = school(acts, cs, students=sets)
    sv, comp, ph = _relaxed_phase(inst)
    H = comp.H
    # from the least penalty (5): T's gaps left (1 over), each spread's
    # two fixed lessons on day 0 (4); nothing lower, nothing at 5 keeps T's limit
    want = {1: 0, 2: 3, 3: H, 4: H + 1, 5: 2 * H, 6: 2 * H + 1, 7: 2 * H + 2, 8: 2 * H + 3}
    starts = [want.get(a.id, 0) for a in comp.activities]
    n = len(ph.builder.penalties)
    ph.relaxed_best = (starts, [None] * len(starts), 5, [1] * n)
    status = sv._descend(ph, solver_mod.cp_model.UNKNOWN, {"linearization_level": 0})
    assert status == solver_mod.cp_model.UNKNOWN and sv.run.timetable is None
    assert sv.relax_min_days_off  # so phase 1 runs again without relaxing them
    outcome, _ = sv._phase1(comp, False, {}, min_days_hard=0)
    assert outcome == "found" and sv.run.timetable is not None
    rep = check(inst, sv.run.timetable)
    assert rep.complete and rep.hard == 0, rep.violations


def test_min_days_between_split_parts_and_fixed_times() -> None:
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3)
    ]
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(activities=(1, 2, 3), min_days=1),
        m.ActivityPreferredStartingTime(activity=2, day=1, hour=2, locked=True),
    ]
    at = solved(school(acts, cs))
    assert sorted(p.day for p in at.values()) == [0, 1, 2]
    assert (at[2].day, at[2].hour) == (1, 2)


def test_same_starting_time_and_consecutive() -> None:
    acts = [act(1, "T", "A1"), act(2, "U", "A2"), act(3, "V", "B"), act(4, "W", "B")]
    cs: list[m.Constraint] = [
        m.ActivitiesSameStartingTime(activities=(1, 2)),
        m.TwoActivitiesConsecutive(first=3, second=4),
        m.ActivityPreferredStartingTime(activity=4, day=1),
    ]
    at = solved(school(acts, cs))
    assert (at[1].day, at[1].hour) == (at[2].day, at[2].hour)
    assert at[3].day == at[4].day == 1 and at[4].hour == at[3].hour + 1


def test_infeasible_is_reported() -> None:
    acts = [act(i, "T", "A") for i in range(1, 4)]
    r = solve(school(acts, [], days=1, hours=2), time_limit_s=10)
    assert r.status == "infeasible" and r.timetable is None


def test_more_lessons_than_room_is_infeasible_with_the_count() -> None:
    """A students set or teacher with more lesson hours than the slots their
    lessons can take (within hard daily and day limits) is refused before
    any search, naming whom and the counts: a scheduler who adds one lesson
    to a full class learns why at once (CP-SAT did not find this count by
    itself: a full Spanish class with one lesson more was undecided after
    120 s)."""
    away = m.StudentsSetNotAvailableTimes(students="B", slots=((0, 0), (2, 3)))
    full = [act(i, f"T{i}", "B") for i in range(1, 12)]  # 11 hours, 10 free slots
    r = solve(school(full, [away]), time_limit_s=60)
    assert r.status == "infeasible" and r.timetable is None
    assert r.message is not None
    assert "students set B has 11 hours of lessons and room for 10" in r.message
    assert r.solutions == 0
    # one fewer fits
    assert solved(school(full[:-1], [away]))
    # a teacher: at most 2 hours a day on at most 2 of the 3 days is room for 4
    limits: list[m.Constraint] = [
        m.TeacherMaxHoursDaily(teacher="T", max_hours=2),
        m.TeacherMaxDaysPerWeek(teacher="T", max_days=2),
    ]
    five = [act(i, "T", "A" if i % 2 else "B") for i in range(1, 6)]
    r = solve(school(five, limits), time_limit_s=60)
    assert r.status == "infeasible"
    assert r.message is not None and "teacher T has 5 hours of lessons and room for 4" in r.message
    assert solved(school(five[:-1], limits))


def test_unsupported_constraints_are_refused() -> None:
    acts = [act(1, "T", "A")]
    soft_days = m.TeacherMaxDaysPerWeek(teacher="T", max_days=1, weight=50)
    with pytest.raises(UnsupportedConstraintError, match="TeacherMaxDaysPerWeek"):
        solve(school(acts, [soft_days]))
    inst = school(acts, [])
    inst = m.Instance(
        name=inst.name,
        days=inst.days,
        hours=inst.hours,
        activities=inst.activities,
        teachers=inst.teachers,
        students=inst.students,
        unsupported=(m.Unsupported(type="ConstraintTeachersMaxSpanPerDay", count=1),),
    )
    with pytest.raises(UnsupportedConstraintError, match="MaxSpan"):
        solve(inst)


# --- soft constraints ------------------------------------------------------------------


def test_soft_min_days_is_costed_with_its_weight() -> None:
    # 4 parts over 3 days: one pair must share a day (and be back to back)
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3, 4)
    ]
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(
            activities=(1, 2, 3, 4), min_days=1, consecutive_if_same_day=True, weight=95
        )
    ]
    inst = school(acts, cs)
    r = solve(inst, time_limit_s=20)
    assert r.status == "optimal" and r.timetable is not None
    assert r.soft == pytest.approx(0.95)
    assert check(inst, r.timetable).soft == pytest.approx(0.95)
    days: dict[int, list[int]] = {}
    for p in r.timetable.placements:
        days.setdefault(p.day, []).append(p.hour)
    two = [sorted(h) for h in days.values() if len(h) == 2]
    assert len(two) == 1 and two[0][1] == two[0][0] + 1


def test_first_timetable_keeps_satisfiable_soft_min_days() -> None:
    # 3 parts over 3 days fit one a day: the first timetable already does so
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3)
    ]
    acts.append(act(4, "T", "B"))
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(
            activities=(1, 2, 3), min_days=1, consecutive_if_same_day=False, weight=95
        )
    ]
    inst = school(acts, cs)
    firsts = first_soft_scores(inst)
    assert firsts and firsts[0] == 0


def test_first_timetable_leaves_soft_only_the_min_days_that_cannot_hold() -> None:
    # T teaches on at most 2 of the 3 days, so its 3 lessons to A cannot be
    # spread (95 %); six other classes' spreads (99 %) can. Enforcing all
    # of them is infeasible: the solver names the 95 % one as the cause and
    # keeps the others in its first timetable, instead of none of them.
    classes = [f"C{i}" for i in range(6)]
    sets = (
        m.StudentsSet(name="A", students=20, subgroups=("A",)),
        *(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in classes),
    )
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3)
    ]
    cs: list[m.Constraint] = [
        m.TeacherMaxDaysPerWeek(teacher="T", max_days=2),
        m.MinDaysBetweenActivities(activities=(1, 2, 3), min_days=1, weight=95),
    ]
    for k, c in enumerate(classes):
        ids = tuple(10 * (k + 1) + j for j in (1, 2, 3))
        acts += [
            m.Activity(id=i, subject="N", teachers=(f"U{k}",), students=(c,), group_id=ids[0])
            for i in ids
        ]
        cs.append(m.MinDaysBetweenActivities(activities=ids, min_days=1, weight=99))
    inst = school(acts, cs, students=sets)
    firsts = first_soft_scores(inst)
    # only T's pairs are on one day (a 99 % pair would add 0.99, no multiple of 0.95)
    assert firsts and 0.95 <= firsts[0] <= 3 * 0.95 + 1e-6
    assert firsts[0] / 0.95 == pytest.approx(round(firsts[0] / 0.95))


def test_min_days_retries_end_by_their_budget_the_proofs_and_the_loop() -> None:
    from scheduling.solver import MIN_DAYS_RETRY_FACTOR, _try_end

    # a first try, or a search for the ones to blame: its whole budget
    assert _try_end(20.0, 45.0, 150.0) == 65.0
    # a retry after proofs of at most 7 s: a few times that, not 45 s
    assert _try_end(20.0, 45.0, 150.0, longest=7.0) == 20.0 + MIN_DAYS_RETRY_FACTOR * 7.0
    # after long proofs, still within the budget
    assert _try_end(20.0, 45.0, 150.0, longest=40.0) == 65.0
    # never past the end of the loop, whatever is left of the budget
    assert _try_end(140.0, 45.0, 150.0) == 150.0
    assert _try_end(140.0, 45.0, 150.0, longest=1.0) == 140.0 + MIN_DAYS_RETRY_FACTOR


def test_rooms_are_assigned_after_the_times() -> None:
    from scheduling.solver_rooms import assign_rooms

    rooms = tuple(m.Room(name=f"R{i}", capacity=30) for i in range(2))
    acts = [act(1, "T1", "A", dur=2), act(2, "T2", "B"), act(3, "T3", "B")]
    cs: list[m.Constraint] = [
        m.SubjectPreferredRooms(subject="S", rooms=("R0", "R1")),
        m.ActivityPreferredRooms(activity=3, rooms=("R1",)),
    ]
    inst = school(acts, cs, rooms=rooms, days=1, hours=3)
    comp = compile_instance(inst)
    # 1 at hours 0-1, 2 at hour 0 (so 1 and 2 share both rooms), 3 at hour 1 in R1
    got = assign_rooms(comp, [0, 0, 1], time_limit_s=5)
    assert got is not None
    assert got[2] == 1 and got[0] == 0 and got[1] == 1
    # 3 at hour 0 too: three lessons in two rooms
    assert assign_rooms(comp, [0, 0, 0], time_limit_s=5) is None
    at = solved(inst)
    busy = {(p.day, h, p.room) for i, p in at.items() for h in range(p.hour, p.hour + (i == 1) + 1)}
    assert len(busy) == 4


def test_rooms_after_the_times_keep_soft_preferred_rooms() -> None:
    """The room step of the times-first search minimises the soft room costs:
    a lesson with only a soft preferred room may go without one, but gets it
    when it is free (it used to take any feasible choice, often none)."""
    from scheduling.solver_rooms import assign_rooms

    rooms = tuple(m.Room(name=f"R{i}", capacity=30) for i in range(3))
    acts = [act(i, f"T{i}", g, subject=f"S{i}") for i, g in ((1, "A"), (2, "B"))]
    acts += [act(3, "T3", "A", subject="E"), act(4, "T4", "B", subject="E")]
    cs: list[m.Constraint] = [
        m.ActivityPreferredRooms(activity=1, rooms=("R0", "R1")),
        m.ActivityPreferredRooms(activity=2, rooms=("R0", "R1")),
        m.SubjectPreferredRooms(subject="E", rooms=("R1", "R2"), weight=95),
    ]
    inst = school(acts, cs, rooms=rooms, days=1, hours=2)
    comp = compile_instance(inst)
    got = assign_rooms(comp, [0, 1, 1, 0], time_limit_s=5)
    assert got is not None
    assert got[2] in (1, 2) and got[3] in (1, 2)


def test_neighbourhood_search_improves_the_first_timetable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With CP-SAT's own improvement given no time, the neighbourhood search
    alone takes the first timetable (soft preferred times not yet costed) to
    as low as CP-SAT's own search gets it, never reporting a worse score.
    (Three lessons two days apart in four days cannot all hold.)"""

    monkeypatch.setattr(solver_mod, "LNS_MAIN_SHARE", 0.0)
    monkeypatch.setattr(solver_mod, "LNS_MAIN_MIN_S", 0.0)
    # no cap on broken pairs (`FET_READING_FROM`): a timetable FET's reading
    # gets past would be kept over a lower soft score, and reported so
    monkeypatch.setattr(solver_compile, "FET_READING_FROM", 101.0)
    base = _soft_school()
    # preferred times from a timetable of another seed (20 s of CP-SAT's own
    # search): its soft score can be reached
    other = solve(base, time_limit_s=20, seed=3)
    assert other.timetable is not None and other.soft
    extra = tuple(
        m.ActivityPreferredStartingTime(activity=p.activity, day=p.day, hour=p.hour, weight=90)
        for p in other.timetable.placements
    )
    inst = msgspec.structs.replace(base, constraints=base.constraints + extra)
    seen: list[float] = []
    r = solve(
        inst,
        time_limit_s=60,
        improve_s=5,
        on_progress=lambda p: seen.append(p.soft) if p.soft is not None else None,
    )
    assert r.timetable is not None
    rep = check(inst, r.timetable)
    assert rep.hard == 0 and r.soft == pytest.approx(rep.soft)
    assert seen[0] > other.soft, "the first timetable should leave something to improve"
    assert all(b <= a for a, b in itertools.pairwise(seen))
    assert r.status in ("complete", "optimal") and r.soft is not None
    assert r.soft <= other.soft + 1e-9


def test_phase_one_tries_a_light_search_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Phase 1 first runs CP-SAT with a light presolve for a small
    deterministic budget; an easy school is done there, and when that try
    ends undecided the full search runs and still finds the timetable."""

    calls: list[dict[str, object]] = []
    orig = solver_mod._Solver.run_phase

    def spy(self: object, ph: object, extra: dict[str, object], model: object = None) -> int:
        if getattr(ph, "name", "") == "search":
            calls.append(dict(extra))
        return orig(self, ph, extra, model)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_mod._Solver, "run_phase", spy)
    # its zero gaps are the swapping's too, which would place it first
    monkeypatch.setattr(solver_mod, "SWAP", False)
    inst = _soft_school()
    solved(inst, improve_s=0)
    light = {**solver_mod.LIGHT_PARAMS, "max_deterministic_time": solver_mod.LIGHT_DET_S}
    assert calls and all(calls[0].get(k) == v for k, v in light.items())
    assert len(calls) == 1, "the light try found the timetable: no full search"

    calls.clear()
    monkeypatch.setattr(solver_mod, "LIGHT_DET_S", 1e-9)  # undecided at once
    solved(inst, improve_s=0)
    assert len(calls) == 2 and "max_deterministic_time" not in calls[1]


def test_neighbourhood_steps_use_their_own_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step of the neighbourhood search runs CP-SAT with
    `LNS_STEP_PARAMS` (a light presolve), its own seed and a deterministic
    budget; the result stays valid."""

    monkeypatch.setattr(solver_mod, "LNS_MAIN_SHARE", 0.0)
    monkeypatch.setattr(solver_mod, "LNS_MAIN_MIN_S", 0.0)
    steps: list[dict[str, object]] = []
    orig = solver_mod._Solver.run_phase

    def spy(self: object, ph: object, extra: dict[str, object], model: object = None) -> int:
        if model is not None and getattr(ph, "name", "") == "improve":
            steps.append(dict(extra))
        return orig(self, ph, extra, model)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_mod._Solver, "run_phase", spy)
    inst = _soft_school()
    solved(inst, improve_s=3, seed=2)
    assert steps
    for i, extra in enumerate(steps, start=1):
        assert all(extra.get(k) == v for k, v in solver_mod.LNS_STEP_PARAMS.items())
        assert extra["random_seed"] == 2 + i
        assert extra["max_deterministic_time"] == solver_mod.LNS_STEP_S


def test_soft_preferred_times_and_rooms_are_costed() -> None:
    rooms = (m.Room(name="R1"), m.Room(name="R2"))
    acts = [act(1, "T", "A"), act(2, "U", "B")]
    cs: list[m.Constraint] = [
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0, weight=80),
        m.ActivityPreferredStartingTime(activity=2, day=0, hour=0, weight=100),
        m.SubjectPreferredRooms(subject="S", rooms=("R1",), weight=70),
        m.TeacherNotAvailableTimes(teacher="T", slots=((0, 0),), weight=100),
    ]
    inst = school(acts, cs, rooms=rooms, days=1, hours=2)
    r = solve(inst, time_limit_s=20)
    assert r.status == "optimal" and r.timetable is not None
    # activity 1 cannot start at (0, 0): 0.8; both want R1 but only at different
    # hours, so both get it
    assert r.soft == pytest.approx(0.8)
    assert check(inst, r.timetable).soft == pytest.approx(0.8)


# --- run control -----------------------------------------------------------------------


def _soft_school() -> m.Instance:
    acts = []
    cs: list[m.Constraint] = []
    n = 1
    for g in ("A", "B"):
        for subj in range(4):
            ids: list[int] = []
            for _ in range(3):
                acts.append(
                    m.Activity(
                        id=n,
                        subject=f"S{subj}",
                        teachers=(f"T{subj}{g}",),
                        students=(g,),
                        group_id=n - len(ids),
                    )
                )
                ids.append(n)
                n += 1
            cs.append(
                m.MinDaysBetweenActivities(
                    activities=tuple(ids), min_days=2, consecutive_if_same_day=True, weight=95
                )
            )
    cs.append(m.StudentsMaxGapsPerWeek(max_gaps=0))
    return school(acts, cs, days=4, hours=4)


def test_progress_reports_improving_soft_and_stop_keeps_the_best() -> None:
    inst = _soft_school()
    seen: list[Progress] = []
    stop = threading.Event()

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.phase == "improve" and p.solutions >= 1:
            stop.set()

    r = solve(inst, time_limit_s=30, on_progress=progress, stop=stop)
    assert r.status == "stopped"
    assert r.timetable is not None and check(inst, r.timetable).hard == 0
    assert r.first_complete_s is not None
    softs = [p.soft for p in seen if p.soft is not None]
    assert softs and all(b <= a for a, b in itertools.pairwise(softs))
    assert seen[0].phase == "model" and seen[-1].phase == "done"


def test_improving_lowers_the_soft_score() -> None:
    inst = _soft_school()
    seen: list[float] = []
    r = solve(
        inst,
        time_limit_s=30,
        on_progress=lambda p: seen.append(p.soft) if p.soft is not None else None,
    )
    assert r.status == "optimal" and r.soft is not None
    assert r.soft == min(seen) and r.soft <= seen[0]


def test_stop_before_start_returns_promptly() -> None:
    stop = threading.Event()
    stop.set()
    r = solve(_soft_school(), stop=stop)
    assert r.status == "stopped" and r.timetable is None


@pytest.mark.parametrize("workers", [1, 2])
def test_deterministic_for_a_seed(workers: int) -> None:
    inst = _soft_school()
    a = solve(inst, time_limit_s=30, seed=7, workers=workers)
    b = solve(inst, time_limit_s=30, seed=7, workers=workers)
    assert a.status == b.status == "optimal"
    assert a.timetable == b.timetable


def test_minimal_change_after_a_teacher_becomes_unavailable() -> None:
    acts = []
    n = 1
    for g in ("A", "B"):
        for subj in range(5):
            for _ in range(2):
                acts.append(act(n, f"T{subj}", g, subject=f"S{subj}"))
                n += 1
    base = school(acts, [m.StudentsMaxGapsPerWeek(max_gaps=0)], days=3, hours=4)
    first = solve(base, time_limit_s=20, seed=1)
    assert first.timetable is not None
    # T0's first lesson's slot becomes unavailable
    p0 = next(p for p in first.timetable.placements if p.activity == 1)
    changed = m.Instance(
        name=base.name,
        days=base.days,
        hours=base.hours,
        teachers=base.teachers,
        students=base.students,
        activities=base.activities,
        constraints=(
            *base.constraints,
            m.TeacherNotAvailableTimes(teacher="T0", slots=((p0.day, p0.hour),)),
        ),
    )
    cold = solve(changed, time_limit_s=20, seed=5, warm_start=None)
    warm = solve(changed, time_limit_s=20, seed=5, warm_start=first.timetable, minimal_change=True)
    assert warm.timetable is not None and cold.timetable is not None
    assert check(changed, warm.timetable).hard == 0
    assert warm.moved is not None and 1 <= warm.moved <= 4
    before = first.timetable.by_activity()
    cold_moved = sum(
        1
        for p in cold.timetable.placements
        if (before[p.activity].day, before[p.activity].hour) != (p.day, p.hour)
    )
    assert warm.moved <= cold_moved


# --- a real school ---------------------------------------------------------------------


@pytest.mark.slow
def test_real_school_greece_solves_with_no_hard_violation() -> None:
    from scheduling.fet import read_fet

    path = example("FET-5-official/Greece/Vartholomio/2008-2009.fet")
    inst = read_fet(path).instance
    r = solve(inst, time_limit_s=60, improve_s=0)
    assert r.timetable is not None, r
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0


def test_a_soft_daily_hours_limit_below_a_hard_one_is_costed_beside_it() -> None:
    """FET files pair "at most 3 hours a day" with "at most 2, 95 %" for one
    teacher: the hard one holds and each day over the soft one costs (the
    solver refused the pair before). 8 lessons in 3 days: two days of 3."""
    inst = school(
        [act(i, "T", "A" if i % 2 else "B") for i in range(1, 9)],
        [
            m.TeacherMaxHoursDaily(teacher="T", max_hours=3),
            m.TeacherMaxHoursDaily(teacher="T", max_hours=2, weight=95),
        ],
    )
    r = solve(inst, time_limit_s=20)
    assert r.timetable is not None and r.status == "optimal"
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0
    per_day = [0, 0, 0]
    for pl in r.timetable.placements:
        per_day[pl.day] += 1
    assert sorted(per_day) == [2, 3, 3]
    over = [v for v in rep.violations if v.type == "TeacherMaxHoursDaily"]
    assert [v.amount for v in over] == [1, 1] and r.soft == pytest.approx(rep.soft)


def test_a_soft_students_daily_hours_limit_is_costed() -> None:
    """Soft "students at most 2 hours a day" (95 %): each subgroup-day over it
    costs as the checker counts it (it was refused as unsupported). Group B
    has 7 lessons in 3 days: at least one day over."""
    inst = school(
        [act(i, f"T{i}", "B") for i in range(1, 8)],
        [m.StudentsMaxHoursDaily(students="B", max_hours=2, weight=95)],
    )
    r = solve(inst, time_limit_s=20)
    assert r.timetable is not None and r.status == "optimal"
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0
    over = [v for v in rep.violations if v.type == "StudentsMaxHoursDaily"]
    assert len(over) == 1 and r.soft == pytest.approx(rep.soft)


def test_a_weightless_min_days_constraint_still_keeps_a_same_day_pair_together() -> None:
    """A 0 % min-days constraint with "consecutive if same day" costs nothing
    for the distance, but two of its lessons on one day must be back to back:
    FET enforces that whatever the weight, and the checker counts it as hard
    (the solver used to drop the whole constraint: fet-data's Brazil
    "more difficult" school got a timetable with two such pairs apart). One
    day of 4 hours for 3 lessons of one class: 2 must follow 1."""
    acts = [act(1, "T", "B"), act(2, "U", "B"), act(3, "V", "B")]
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(
            activities=(1, 2), min_days=1, consecutive_if_same_day=True, weight=0
        ),
        # 2 would rather start last, away from 1, unless the pair rule holds it
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0, weight=100),
        m.ActivityPreferredStartingTime(activity=3, day=0, hour=2, weight=100),
        m.ActivityPreferredStartingTime(activity=2, day=0, hour=3, weight=50),
    ]
    at = solved(school(acts, cs, days=1, hours=4))
    assert (at[1].hour, at[2].hour, at[3].hour) == (0, 1, 2)


def test_a_weightless_constraint_of_a_type_not_costed_is_ignored() -> None:
    """FET never enforces nor counts a 0 % constraint (Yew-Chung, Hong Kong,
    has a 0 % "two activities consecutive"): the solver leaves it out rather
    than refusing the file, and the checker counts nothing for it."""
    acts = [act(1, "T", "B"), act(2, "U", "B")]
    cs: list[m.Constraint] = [
        m.TwoActivitiesConsecutive(first=1, second=2, weight=0),
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0),
        m.ActivityPreferredStartingTime(activity=2, day=0, hour=3),
    ]
    at = solved(school(acts, cs, days=1, hours=4))
    assert (at[1].hour, at[2].hour) == (0, 3)
    with pytest.raises(UnsupportedConstraintError):
        solve(school(acts, [m.TwoActivitiesGrouped(first=1, second=2, weight=50)]))


def test_soft_same_starting_time_and_consecutive_are_costed() -> None:
    """Class A1's 1 and B's 2 would start together (80 %), but 1 is fixed at
    hour 0 and 2 cannot start there: one pair apart, 0.8. 5 (A1) and 6 (B)
    would start together too, and can. 3 would follow 4 (90 %), which is
    fixed at hour 0: 3 goes to hour 1 of the four. The checker's score is
    the solver's."""
    acts = [act(1, "T", "A1"), act(2, "U", "B"), act(3, "V", "A2"), act(4, "W", "A2")]
    acts += [act(5, "X", "A1"), act(6, "Y", "B")]
    cs: list[m.Constraint] = [
        m.ActivitiesSameStartingTime(activities=(1, 2), weight=80),
        m.ActivitiesSameStartingTime(activities=(5, 6), weight=80),
        m.ActivityPreferredStartingTime(activity=1, day=0, hour=0),
        m.ActivityPreferredStartingTimes(activity=2, slots=((0, 1), (0, 2))),
        m.ActivityPreferredStartingTime(activity=4, day=0, hour=0),
        m.TwoActivitiesConsecutive(first=4, second=3, weight=90),
    ]
    inst = school(acts, cs, days=1, hours=4)
    at = solved(inst)
    assert at[3].hour == 1
    assert at[5].hour == at[6].hour
    r = solve(inst, time_limit_s=20)
    assert r.soft == pytest.approx(0.8)


def _heavy_spread_school() -> m.Instance:
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3)
    ]
    day0 = tuple((0, h) for h in range(4))
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(activities=(1, 2, 3), min_days=1, weight=95),
    ]
    for i in (1, 2, 3):
        cs.append(m.ActivityPreferredStartingTime(activity=i, day=0, weight=99))
        cs.append(m.ActivityPreferredStartingTimes(activity=i, slots=day0, weight=99))
    return school(acts, cs)


def test_a_lesson_breaks_at_most_one_pair_of_a_heavy_min_days_as_fet_reads_it() -> None:
    # Three parts at least a day apart (95 %) on 3 days, each wanting day 0
    # twice over (two preferences of 99 %): the soft optimum has all three on
    # day 0 (3 broken pairs, 2.85, against 2.93 for two there and one not),
    # but then each part breaks two pairs, and FET's reading of the timetable
    # rolls the 95 % twice for the part it places last (one try in 400).
    # Phase 2 keeps each part to one broken pair (`FET_READING_BROKEN_MAX`).
    inst = _heavy_spread_school()
    got = solved(inst)
    assert sorted(p.day for p in got.values()).count(0) == 2
    r = solve(inst, time_limit_s=20)
    assert r.status == "optimal" and r.soft == pytest.approx(0.95 + 2 * 0.99)
    comp = compile_instance(inst)
    assert fet_reading_excess(comp, [comp.H * p.day + p.hour for p in got.values()]) == 0
    assert fet_reading_excess(comp, [0, 1, 2]) == 3  # all three on day 0


def test_a_timetable_fets_reading_gets_past_is_kept_over_a_lower_soft_score() -> None:
    """The best timetable so far (phase 2 keeps the best by soft score) is
    first the one breaking fewer heavy pairs beyond one a lesson
    (`fet_reading_excess`), then the one with the lower soft score."""
    inst = _heavy_spread_school()
    s = _bare_solver(inst)
    s.comp = compile_instance(inst)
    s.keep_best = "soft"
    rooms: list[int | None] = [None] * 3
    s.record([0, 1, 2], rooms, None, 0.0)  # all on day 0: soft 2.85, 3 beyond
    assert s.run.excess == 3 and s.run.soft == pytest.approx(2.85)
    s.record([0, 4, 8], rooms, None, 0.0)  # one a day: soft 3.96, none beyond
    assert s.run.best == ([0, 4, 8], rooms)
    s.record([0, 1, 2], rooms, None, 0.0)  # lower soft score, but not kept
    assert s.run.best == ([0, 4, 8], rooms)
    s.record([0, 1, 4], rooms, None, 0.0)  # two on day 0: 2.93, none beyond
    assert s.run.best == ([0, 1, 4], rooms) and s.run.soft == pytest.approx(2.93)


def test_the_improvement_goes_on_while_fets_reading_would_not_get_past() -> None:
    """`improve_s` bounds phase 2 once the best timetable breaks no more
    heavy pairs than FET's reading gets past; before, it goes on to the
    time limit."""
    inst = _heavy_spread_school()
    s = _bare_solver(inst, time_limit_s=100, improve_s=0)
    s.comp = compile_instance(inst)
    s.record([0, 1, 2], [None] * 3, None, 0.0)  # all on day 0
    assert s.run.excess == 3
    assert not s.should_stop("improve") and s.remaining("improve") > 90
    s.record([0, 1, 4], [None] * 3, None, 0.0)
    assert s.run.excess == 0
    assert s.should_stop("improve") and s.remaining("improve") <= 0


def test_hard_and_soft_pair_relations_are_told_apart_whatever_comes_last() -> None:
    """A hard consecutive pair and same starting time stay hard with a soft
    constraint after them in the file (the compiler once read the weight of
    the last constraint of its first pass)."""
    from scheduling.solver_compile import compile_instance

    acts = [act(i, f"T{i}", "B") for i in (1, 2, 3, 4)]
    cs: list[m.Constraint] = [
        m.TwoActivitiesConsecutive(first=1, second=2),
        m.ActivitiesSameStartingTime(activities=(3, 4)),
        m.TwoActivitiesConsecutive(first=3, second=1, weight=90),
        m.ActivityPreferredStartingTime(activity=4, day=0, weight=50),
    ]
    comp = compile_instance(school(acts, cs))
    assert comp.consecutive == [(0, 1)] and comp.same_start == [[2, 3]]
    assert [(a, b) for a, b, _ in comp.consecutive_soft] == [(2, 0)]
