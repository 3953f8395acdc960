"""FET's mornings-afternoons mode: the days are half days, and min days
between activities count real days (`Instance.days_per_real_day`)."""

from __future__ import annotations

import msgspec
import pytest

from scheduling import model as m
from scheduling import solver_swap
from scheduling.checker import check
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


def test_old_fork_files_with_real_day_limits_stay_unsupported() -> None:
    """FET 6 opens this 5.27.3-ma3 file with its teachers' max hours daily
    turned into max hours daily per real day, which the model lacks."""
    ff = read_fet(example("FET-5-mornings-afternoons/Algeria/1/sample_algeria_2.fet"))
    types = {u.type for u in ff.instance.unsupported}
    assert types == {
        "Mode:Mornings_Afternoons",
        "Mode:Mornings_Afternoons with ConstraintTeachersMaxHoursDaily",
    }
    assert ff.instance.days_per_real_day == 1
