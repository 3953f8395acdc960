"""FET's mornings-afternoons mode: the days are half days, and min days
between activities count real days (`Instance.days_per_real_day`)."""

from __future__ import annotations

import msgspec
import pytest

from scheduling import model as m
from scheduling import solver_swap
from scheduling.checker import check
from scheduling.cli import summary
from scheduling.fet import read_fet
from scheduling.solver import solve
from scheduling.solver_compile import compile_instance
from tests.scheduling.fetdata import example

#: two real days, each a morning and an afternoon of two hours
HALF_DAYS = ("Mon morning", "Mon afternoon", "Tue morning", "Tue afternoon")


def half_day_school(*constraints: m.Constraint, weight: float = 100.0) -> m.Instance:
    """Lessons 1 and 2 of class C with teacher T, at least one real day apart
    (`weight`); lesson 1 on Monday morning. Lesson 3 (teacher U) only fills
    the timetable."""
    acts = tuple(
        m.Activity(id=i, subject="S", teachers=(t,), students=("C",), group_id=1 if i < 3 else 3)
        for i, t in ((1, "T"), (2, "T"), (3, "U"))
    )
    return m.Instance(
        name="half days",
        days=tuple(m.Day(name=d) for d in HALF_DAYS),
        hours=(m.Hour(name="1"), m.Hour(name="2")),
        teachers=(m.Teacher(name="T"), m.Teacher(name="U")),
        students=(m.StudentsSet(name="C", students=20, subgroups=("C",)),),
        activities=acts,
        constraints=(
            m.MinDaysBetweenActivities(
                activities=(1, 2), min_days=1, consecutive_if_same_day=True, weight=weight
            ),
            m.ActivityPreferredStartingTime(activity=1, day=0, hour=0),
            *constraints,
        ),
        days_per_real_day=2,
    )


def tt(*at: tuple[int, int, int]) -> m.Timetable:
    return m.Timetable(placements=tuple(m.Placement(activity=a, day=d, hour=h) for a, d, h in at))


def test_min_days_count_real_days() -> None:
    inst = half_day_school()
    # Monday morning and Monday afternoon: one real day, 0 days apart
    rep = check(inst, tt((1, 0, 0), (2, 1, 0), (3, 3, 0)))
    assert rep.hard_by_type() == {"MinDaysBetweenActivities": 1}
    assert check(inst, tt((1, 0, 0), (2, 2, 0), (3, 3, 0))).violations == ()
    # the same timetable where each day is a real day breaks nothing
    plain = msgspec.structs.replace(inst, days_per_real_day=1)
    assert check(plain, tt((1, 0, 0), (2, 1, 0), (3, 3, 0))).violations == ()


def test_consecutive_if_same_day_means_the_same_half_of_a_real_day() -> None:
    inst = half_day_school(weight=95.0)
    # back to back in the morning: the pair is broken (soft), nothing hard
    rep = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 3, 0)))
    assert rep.hard == 0 and rep.soft == pytest.approx(0.95)
    # morning and afternoon of one real day: not back to back, never allowed
    rep = check(inst, tt((1, 0, 0), (2, 1, 0), (3, 3, 0)))
    assert rep.hard_by_type() == {"MinDaysBetweenActivities": 1}
    assert rep.soft == pytest.approx(0.95)


def _pull_to_monday_afternoon() -> m.Constraint:
    """A soft wish that lesson 2 starts on Monday afternoon, which min days
    on half days would grant and on real days must refuse."""
    return m.ActivityPreferredStartingTime(activity=2, day=1, hour=0, weight=90.0)


def test_cp_sat_keeps_lessons_a_real_day_apart() -> None:
    inst = half_day_school(_pull_to_monday_afternoon())
    res = solve(inst, time_limit_s=20, seed=1)
    assert res.timetable is not None
    rep = check(inst, res.timetable)
    assert rep.complete and rep.hard == 0, rep.violations
    assert res.timetable.by_activity()[2].day in (2, 3)
    assert rep.soft == pytest.approx(0.9)


@pytest.mark.parametrize("seed", range(1, 9))
def test_the_swapping_keeps_lessons_a_real_day_apart(seed: int) -> None:
    """Lesson 2 may start on Monday afternoon or Tuesday morning only: on
    half days each seed would pick one at random."""
    only = m.ActivityPreferredStartingTimes(activity=2, slots=((1, 0), (2, 0)))
    comp = compile_instance(half_day_school(only))
    found = solver_swap.construct(comp, seed=seed, go_on=lambda: True)
    assert found is not None
    starts = found[0]
    day = {a.id: t // comp.H for a, t in zip(comp.activities, starts, strict=True)}
    assert day[2] == 2


def test_the_swapping_puts_a_broken_pair_back_to_back_in_one_half() -> None:
    """A soft pair forced onto Monday (lesson 2 only there): back to back
    in the morning, never in the afternoon."""
    only = m.ActivityPreferredStartingTimes(activity=2, slots=((0, 1), (1, 0), (1, 1)))
    comp = compile_instance(half_day_school(only, weight=95.0))
    for seed in range(1, 9):
        found = solver_swap.construct(comp, seed=seed, go_on=lambda: True)
        assert found is not None
        at = {a.id: t for a, t in zip(comp.activities, found[0], strict=True)}
        assert at[2] == 1  # Monday morning, hour 2


def test_a_mornings_afternoons_file_is_read_with_real_days() -> None:
    ff = read_fet(example("FET-6-mornings-afternoons/Algeria/1/sample_algeria.fet"))
    assert ff.instance.unsupported == ()
    assert ff.instance.days_per_real_day == 2
    assert len(ff.instance.days) == 12
    assert "12 days × 4 hours (mornings-afternoons: 6 real days" in "\n".join(summary(ff))


def test_old_fork_files_have_their_max_hours_daily_per_real_day() -> None:
    """FET 6 opens this 5.27.3-ma3 file with its teachers' max hours daily
    turned into max hours daily per real day (its own
    `_data_and_timetable.fet` says so), and so does the reader."""
    ff = read_fet(example("FET-5-mornings-afternoons/Algeria/1/sample_algeria_2.fet"))
    assert ff.instance.unsupported == ()
    assert ff.instance.days_per_real_day == 2
    limits = [c for c in ff.instance.constraints if isinstance(c, m.TeacherMaxHoursDailyRealDays)]
    assert sorted((c.max_hours, c.weight) for c in limits) == [(5, 95.0), (6, 100.0)]
    assert not any(isinstance(c, m.TeacherMaxHoursDaily) for c in ff.instance.constraints)


def test_a_fet_6_file_keeps_its_half_day_limits_apart_from_real_day_ones() -> None:
    """In a file of FET 6 a type that the mode was not checked with stays
    unsupported, named with the mode."""
    ff = read_fet(example("FET-6-mornings-afternoons/Morocco/1/sample-morocco.fet"))
    types = {u.type for u in ff.instance.unsupported}
    assert "ConstraintTeacherMaxRealDaysPerWeek" in types


def _busy_teacher_school(*limits: m.Constraint) -> m.Instance:
    """Teacher T has 5 lessons (with classes C and D, 2 + 3) in two real
    days of two half days of two hours: lesson 1 on Monday morning."""
    acts = tuple(
        m.Activity(id=i, subject="S", teachers=("T",), students=("C" if i <= 2 else "D",))
        for i in range(1, 6)
    )
    return m.Instance(
        name="busy",
        days=tuple(m.Day(name=d) for d in HALF_DAYS),
        hours=(m.Hour(name="1"), m.Hour(name="2")),
        teachers=(m.Teacher(name="T"),),
        students=(
            m.StudentsSet(name="C", students=20, subgroups=("C",)),
            m.StudentsSet(name="D", students=20, subgroups=("D",)),
        ),
        activities=acts,
        constraints=(m.ActivityPreferredStartingTime(activity=1, day=0, hour=0), *limits),
        days_per_real_day=2,
    )


def test_max_hours_daily_per_real_day_counts_both_halves() -> None:
    inst = _busy_teacher_school(m.TeacherMaxHoursDailyRealDays(max_hours=3))
    # Monday: 2 in the morning and 2 in the afternoon, 4 on one real day
    rep = check(inst, tt((1, 0, 0), (2, 0, 1), (3, 1, 0), (4, 1, 1), (5, 2, 0)))
    assert rep.hard_by_type() == {"TeacherMaxHoursDailyRealDays": 1}
    assert check(inst, tt((1, 0, 0), (2, 0, 1), (3, 1, 0), (4, 2, 1), (5, 2, 0))).hard == 0
    soft = _busy_teacher_school(m.StudentsMaxHoursDailyRealDays(max_hours=1, weight=50.0))
    rep = check(soft, tt((1, 0, 0), (2, 1, 1), (3, 2, 0), (4, 2, 1), (5, 3, 0)))
    # C: 2 on Monday (1 too many); D: 3 on Tuesday
    assert rep.hard == 0 and rep.soft == pytest.approx(1.0)


def test_cp_sat_keeps_to_max_hours_per_real_day() -> None:
    """At most 3 on a real day, and a soft wish for the fewest on Tuesday
    (at most 2 a real day, 90 %): the 5 lessons go 3 and 2, broken once."""
    inst = _busy_teacher_school(
        m.TeacherMaxHoursDailyRealDays(max_hours=3),
        m.TeacherMaxHoursDailyRealDays(max_hours=2, weight=90.0),
    )
    res = solve(inst, time_limit_s=20, seed=1)
    assert res.timetable is not None
    rep = check(inst, res.timetable)
    assert rep.complete and rep.hard == 0, rep.violations
    per_real_day = sorted(
        sum(1 for p in res.timetable.placements if p.day // 2 == r) for r in range(2)
    )
    assert per_real_day == [2, 3]
    assert rep.soft == pytest.approx(0.9) and res.soft == pytest.approx(0.9)


def test_old_morocco_fork_files_have_exclusive_teachers() -> None:
    """FET 6 opens the old `-morocco` fork files with every teacher working
    mornings or afternoons of a real day, not both ("Exclusive"), which the
    model lacks: such a file is not read as supported (FET's reading of a
    timetable of modified.fet that mixed them never finished)."""
    ff = read_fet(
        example("FET-5-mornings-afternoons/Morocco-old-format/3-by-Omar-Ben-Ali/easy/modified.fet")
    )
    assert {u.type for u in ff.instance.unsupported} == {"TeacherMorningsAfternoonsBehavior"}
