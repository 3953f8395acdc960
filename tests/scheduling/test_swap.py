"""The recursive-swapping construction (scheduling/solver_swap.py): the
first timetable of an exact packing, every result through the checker."""

from __future__ import annotations

import msgspec
import pytest

import scheduling.solver as solver_mod
from scheduling import model as m
from scheduling import solver_swap
from scheduling.checker import check
from scheduling.fet import read_fet
from scheduling.solver import solve
from scheduling.solver_compile import Compiled, compile_instance
from tests.scheduling.fetdata import example
from tests.scheduling.test_solver import _bare_solver

DAYS, HOURS = 3, 4


def packed_school(*, gap_limit: bool = False) -> m.Instance:
    """Three classes and three teachers, every one of them busy in every one
    of the 12 slots: class k has teacher (k + slot) % 3, four lessons with
    each. The lessons of teacher 0 take room R1 or R2, those of teacher 1
    room R1 (so teacher 0's go to R2); two of class A's lessons with teacher
    0 are on different days; one of them starts with one of class B's with
    teacher 1."""
    acts: list[m.Activity] = []
    for k, cls in enumerate("ABC"):
        for t in range(3):
            first = 100 * (k + 1) + 10 * t
            for part in range(4):
                acts.append(
                    m.Activity(
                        id=first + part,
                        subject=f"S{t}",
                        teachers=(f"T{t}",),
                        students=(cls,),
                        group_id=first,
                    )
                )
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(activities=(100, 101), min_days=1),
        m.ActivitiesSameStartingTime(activities=(100, 211)),
        m.SubjectPreferredRooms(subject="S0", rooms=("R1", "R2")),
        m.SubjectPreferredRooms(subject="S1", rooms=("R1",)),
    ]
    if gap_limit:
        cs.append(m.TeacherMaxGapsPerWeek(teacher="T0", max_gaps=1))
    return m.Instance(
        name="packed",
        days=tuple(m.Day(name=f"D{i}") for i in range(DAYS)),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(HOURS)),
        teachers=tuple(m.Teacher(name=f"T{t}") for t in range(3)),
        students=tuple(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in "ABC"),
        rooms=(m.Room(name="R1"), m.Room(name="R2")),
        activities=tuple(acts),
        constraints=tuple(cs),
    )


def timetable(comp: Compiled, starts: list[int], rooms: list[int | None]) -> m.Timetable:
    names = [r.name for r in comp.instance.rooms]
    return m.Timetable(
        placements=tuple(
            m.Placement(
                activity=a.id,
                day=t // comp.H,
                hour=t % comp.H,
                room=None if r is None else names[r],
            )
            for a, t, r in zip(comp.activities, starts, rooms, strict=True)
        )
    )


@pytest.mark.parametrize(
    ("extra", "applies", "relaxed_after"),
    [
        (None, True, False),
        # enforced by the swapping
        (m.TeacherMaxDaysPerWeek(teacher="T0", max_days=2), True, False),
        (m.TwoActivitiesConsecutive(first=102, second=103), True, False),
        (m.MinGapsBetweenActivities(activities=(100, 101), min_gaps=1), True, False),
        (m.ActivityEndsStudentsDay(activity=100), True, False),
        (
            m.TeacherIntervalMaxDaysPerWeek(teacher="T0", start_hour=2, end_hour=4, max_days=2),
            True,
            False,
        ),
        # day rules (`swap_kernel._day_need`); a gap limit above zero is
        # enforced too, with the relaxed search after it as a safety net
        (m.TeacherMaxGapsPerWeek(teacher="T0", max_gaps=1), True, True),
        (m.TeacherMaxGapsPerDay(teacher="T0", max_gaps=1), True, True),
        (m.TeacherMaxGapsPerWeek(teacher="T0", max_gaps=0), True, False),
        (m.TeacherMaxGapsPerDay(teacher="T0", max_gaps=0), True, False),
        (m.TeacherMaxHoursDaily(teacher="T0", max_hours=3), True, False),
        (m.TeacherMaxHoursContinuously(teacher="T0", max_hours=2), True, False),
        (m.StudentsMaxHoursContinuously(max_hours=2), True, False),
        (m.StudentsEarlyMaxBeginningsAtSecondHour(max_beginnings=0), True, False),
        (m.StudentsMinHoursDaily(min_hours=2), True, False),
        (
            m.ActivitiesOccupyMaxTimeSlotsFromSelection(
                activities=(100, 101), slots=((0, 0), (0, 1)), max_occupied=1
            ),
            True,
            False,
        ),
        # soft: phase 2's
        (m.TeacherMaxHoursDaily(teacher="T0", max_hours=2, weight=90), True, False),
        # hard rules it does not handle
        # virtual people: the activities' own "person" (`_tag_people`)
        (m.ActivitiesNotOverlapping(activities=(100, 101)), True, False),
        (m.TeacherActivityTagMaxHoursDaily(teacher="T0", tag="x", max_hours=1), True, False),
        (m.StudentsMinHoursDaily(min_hours=2, allow_empty_days=False), True, False),
        (m.TeacherMinDaysPerWeek(teacher="T0", min_days=2), True, False),
        (m.TeacherMinDaysPerWeek(teacher="T0", min_days=2, weight=95), True, False),
        (m.ActivitiesSameStartingHour(activities=(100, 101)), False, False),
        (m.TwoActivitiesGrouped(first=102, second=103), False, False),
    ],
)
def test_applies_only_where_it_enforces_every_hard_constraint(
    extra: m.Constraint | None, applies: bool, relaxed_after: bool
) -> None:
    inst = packed_school()
    if extra is not None:
        inst = msgspec.structs.replace(inst, constraints=(*inst.constraints, extra))
    comp = compile_instance(inst)
    assert solver_swap.applies(comp) == applies
    assert solver_swap.relaxed_after(comp) == relaxed_after


def test_an_exact_packing_is_placed_with_no_hard_violation() -> None:
    inst = packed_school()
    comp = compile_instance(inst)
    found = solver_swap.construct(comp, seed=1, go_on=lambda: True)
    assert found is not None
    starts, rooms = found
    rep = check(inst, timetable(comp, starts, rooms))
    assert rep.complete and rep.hard == 0, rep.violations
    at = timetable(comp, starts, rooms).by_activity()
    assert at[100].day != at[101].day
    assert (at[100].day, at[100].hour) == (at[211].day, at[211].hour)
    assert {at[i].room for i in range(100, 104)} == {"R2"}


def test_warm_up_compiles_the_kernel_for_a_real_school() -> None:
    """`warm_up` (run by the solver in a second thread during phase 1)
    compiles the kernel for the argument types a real construction passes,
    so that the construction does not compile it again."""
    from scheduling import swap_kernel

    solver_swap.warm_up()
    compiled = list(swap_kernel.run.signatures)
    assert compiled
    con = solver_swap.Construction(compile_instance(packed_school()), seed=1)
    while con.steps() > 0:
        pass
    assert list(swap_kernel.run.signatures) == compiled


def test_a_later_process_loads_the_kernel_from_numbas_cache() -> None:
    """The kernel is compiled once a machine: a new process loads it from
    numba's cache (written by this one's `warm_up` if no earlier process
    did), compiles nothing, and runs it (a recursive `_swap` crashed there,
    numba issue #6061)."""
    import subprocess
    import sys

    solver_swap.warm_up()
    probe = (
        "from scheduling import solver_swap, swap_kernel as k\n"
        "solver_swap.warm_up()\n"
        "fns = [v for v in vars(k).values() if hasattr(v, 'stats')]\n"
        "print(sum(len(f.stats.cache_hits) for f in fns), "
        "sum(len(f.stats.cache_misses) for f in fns))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    hits, misses = (int(x) for x in out.stdout.split())
    assert misses == 0
    # `run` only: the functions it calls load with it, and `_work` is plain
    # numpy (one load from the cache a process, docs/timetable.md)
    assert hits == 1


def test_an_evicted_lesson_weighs_its_hours_at_most_the_cap() -> None:
    """Starts are compared by the weight they evict: a lesson's hours, at
    most `EVICT_WEIGHT_CAP` (2), a same-start group's together."""
    inst = packed_school()
    longer = {102: 2, 103: 3, 111: 2}
    acts = tuple(msgspec.structs.replace(a, duration=longer.get(a.id, 1)) for a in inst.activities)
    con = solver_swap.Construction(
        compile_instance(msgspec.structs.replace(inst, activities=acts)), seed=1
    )
    weight = {
        tuple(sorted(acts[a].id for a in mem)): float(w)
        for mem, w in zip(con.units, con.weight, strict=True)
    }
    assert solver_swap.EVICT_WEIGHT_CAP == 2.0
    assert weight[(101,)] == 1.0
    assert weight[(102,)] == 2.0
    assert weight[(103,)] == 2.0  # three hours, capped
    assert weight[(100, 211)] == 2.0  # a same-start group of two one-hour lessons
    assert weight[(111,)] == 2.0


def test_the_same_seed_gives_the_same_timetable() -> None:
    comp = compile_instance(packed_school())
    runs = [solver_swap.construct(comp, seed=s, go_on=lambda: True) for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert all(r is not None for r in runs)


def test_the_undo_log_is_sized_for_the_call_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scratch space is made once, its undo log sized from `SWAP_CALLS`
    (the kernel raises when it is full): with a limit of one call an attempt
    the packing is still placed, every step within the smaller log."""
    monkeypatch.setattr(solver_swap, "SWAP_CALLS", 1)
    inst = packed_school()
    comp = compile_instance(inst)
    con = solver_swap.Construction(comp, seed=2)
    while con.steps() > 0:
        assert con.it < 20_000
    log = con._kernel_args[2][0]  # type: ignore[index]
    assert log.shape[0] == (1 + 14 + 2) * (24 + 1)
    rep = check(inst, timetable(comp, *con.placement()))
    assert rep.complete and rep.hard == 0


def test_soft_min_days_are_enforced_with_their_weight_until_relaxed() -> None:
    """A soft min-days constraint counts as hard at a look with the
    probability of its weight (as FET reads it when it places): class A's
    second lesson with T1 on the day of the first evicts the first. Once
    relaxed (`Construction.relax`) it is only preferred: nothing to evict."""
    import numpy as np

    from scheduling import swap_kernel as k

    inst = packed_school()
    spread = m.MinDaysBetweenActivities(activities=(110, 111), min_days=1, weight=99.9)
    inst = msgspec.structs.replace(inst, constraints=(*inst.constraints, spread))
    comp = compile_instance(inst)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)  # the kernel's arguments, and its random stream seeded
    data, state, _ = con._kernel_args  # type: ignore[misc]
    first, second = (next(a.index for a in comp.activities if a.id == i) for i in (110, 111))
    k._put(con.a_unit[first], 0, np.full(4, -1), 0, data, state)

    def evicted_by_second_at_hour_1() -> list[int]:
        out, mark, rooms = (
            np.zeros(24, np.int64),
            np.zeros(len(con.units), np.int64),
            np.full(4, -1),
        )
        n = k._conflicts(con.a_unit[second], 1, data, state, out, mark, 1, rooms)
        return [int(v) for v in out[:n]]

    assert evicted_by_second_at_hour_1() == [con.a_unit[first]]
    con.relax()
    assert evicted_by_second_at_hour_1() == []


def spread_school() -> m.Instance:
    """Class A fills its 2 days of 3 hours: four lessons with T at least a
    day apart (95 %), two with U."""
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3, 4)
    ] + [m.Activity(id=i, subject="E", teachers=("U",), students=("A",)) for i in (5, 6)]
    return m.Instance(
        name="spread",
        days=(m.Day(name="D0"), m.Day(name="D1")),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(3)),
        teachers=(m.Teacher(name="T"), m.Teacher(name="U")),
        students=(m.StudentsSet(name="A", students=20, subgroups=("A",)),),
        activities=tuple(acts),
        constraints=(m.MinDaysBetweenActivities(activities=(1, 2, 3, 4), min_days=1, weight=95.0),),
    )


def test_a_complete_timetable_is_repaired_to_break_one_pair_a_lesson_at_most() -> None:
    """Three of the four lessons with T on day 0 (each breaks two pairs of
    the 95 % spread, which FET's reading of the timetable may not get past):
    `cap` takes off one of them, and the steps after it place it again with
    no lesson breaking more than one pair (two on each day), where the only
    free slot is back on day 0."""
    import numpy as np

    from scheduling import swap_kernel as k
    from scheduling.solver_compile import fet_reading_excess

    comp = compile_instance(spread_school())
    con = solver_swap.Construction(comp, seed=1)
    con.relax()
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    at = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}  # slot = day * 3 + hour
    for a in comp.activities:
        k._put(con.a_unit[a.index], at[a.id], np.full(1, -1), 0, data, state)
    assert fet_reading_excess(comp, [int(t) for t in con.start]) == 3
    assert con.cap() == 1
    while con.steps() > 0:
        pass
    starts, rooms = con.placement()
    assert fet_reading_excess(comp, starts) == 0
    days = sorted(t // comp.H for a, t in zip(comp.activities, starts, strict=True) if a.id <= 4)
    assert days == [0, 0, 1, 1]
    rep = check(comp.instance, timetable(comp, starts, rooms))
    assert rep.complete and rep.hard == 0


def test_construct_repairs_and_gives_the_timetable_before_when_out_of_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`construct` repairs its first complete timetable (`cap`); when time
    runs out before the repair is placed, that timetable is the result."""
    from scheduling import swap_kernel as k

    comp = compile_instance(spread_school())
    monkeypatch.setattr(solver_swap, "SWAP_CHUNK", 1)  # one unit a call
    monkeypatch.setattr(solver_swap.Construction, "cap", lambda self: 0)
    first = solver_swap.construct(comp, seed=1, go_on=lambda: True)
    assert first is not None

    capped: list[int] = []

    def take_two_off(con: solver_swap.Construction) -> int:
        assert con._kernel_args is not None
        data, state, _ = con._kernel_args
        for u in (0, 1):
            k._take_off(u, data, state)
        capped.append(1)
        return 2

    monkeypatch.setattr(solver_swap.Construction, "cap", take_two_off)
    # out of time once the repair has begun: the timetable before it
    assert solver_swap.construct(comp, seed=1, go_on=lambda: not capped) == first
    assert capped == [1]


@pytest.mark.parametrize(("per_unit", "relaxed"), [(0, True), (10_000, False)])
def test_the_soft_min_days_are_relaxed_after_so_many_steps_a_unit(
    monkeypatch: pytest.MonkeyPatch, per_unit: int, relaxed: bool
) -> None:
    """No timetable exists (one lesson more than class A has room for): the
    construction relaxes its soft min days once it has run
    `SWAP_RELAX_STEPS` steps a unit, counted in steps, not seconds."""
    monkeypatch.setattr(solver_swap, "SWAP_CHUNK", 50)
    monkeypatch.setattr(solver_swap, "SWAP_RELAX_STEPS", per_unit)
    calls: list[int] = []
    monkeypatch.setattr(solver_swap.Construction, "relax", lambda self: calls.append(self.it))
    inst = packed_school()
    extra = m.Activity(id=999, subject="S2", teachers=("T2",), students=("A",))
    inst = msgspec.structs.replace(inst, activities=(*inst.activities, extra))
    asked: list[int] = []

    def go_on() -> bool:
        asked.append(1)
        return len(asked) < 3

    assert solver_swap.construct(compile_instance(inst), seed=1, go_on=go_on) is None
    assert bool(calls) == relaxed
    assert all(it % 50 == 0 for it in calls)


def test_it_stops_when_told_and_between_chunks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """One more lesson than class A has room for: no timetable. The search
    runs chunks of `SWAP_CHUNK` steps and asks `go_on` after each."""
    monkeypatch.setattr(solver_swap, "SWAP_CHUNK", 50)
    inst = packed_school()
    extra = m.Activity(id=999, subject="S2", teachers=("T2",), students=("A",))
    inst = msgspec.structs.replace(inst, activities=(*inst.activities, extra))
    comp = compile_instance(inst)
    con = solver_swap.Construction(comp, seed=1)
    assert con.steps(solver_swap.SWAP_CHUNK) > 0
    assert con.it == 50
    asked: list[int] = []

    def go_on() -> bool:
        asked.append(1)
        return len(asked) < 3

    assert solver_swap.construct(comp, seed=1, go_on=go_on) is None
    assert len(asked) == 3


def test_solve_falls_back_to_it_when_cp_sat_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no first turn, when CP-SAT's phase 1 ends without a timetable
    the swapping gives the first one, and phase 2 improves it as usual."""
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_S", 0.0)
    monkeypatch.setattr(solver_mod._Solver, "_phase1", lambda *a, **kw: ("none", False))
    called: list[int] = []
    real = solver_swap.Swapping.go

    def spy(self: solver_swap.Swapping, *a: object, **kw: object) -> object:
        called.append(1)
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_swap.Swapping, "go", spy)
    inst = packed_school()
    r = solve(inst, time_limit_s=20, improve_s=2)
    assert called and r.timetable is not None
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0
    assert r.soft == pytest.approx(rep.soft)


def test_the_swapping_comes_first_when_its_kernel_is_at_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its first turn places the school; CP-SAT's phase 1 never runs."""
    solver_swap.warm_up()

    def phase1(*a: object, **kw: object) -> None:
        raise AssertionError("phase 1 ran")

    monkeypatch.setattr(solver_mod._Solver, "_phase1", phase1)
    inst = packed_school()
    r = solve(inst, time_limit_s=20, improve_s=0)
    assert r.timetable is not None
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0


def test_cp_sat_comes_first_when_the_kernel_is_not_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[int] = []
    monkeypatch.setattr(solver_mod, "kernel_ready", lambda: False)
    monkeypatch.setattr(solver_swap.Swapping, "go", lambda *a, **kw: called.append(1))
    r = solve(packed_school(), time_limit_s=20, improve_s=0)
    assert r.timetable is not None and not called


def test_a_day_rule_school_goes_to_cp_sat_alone_when_the_kernel_is_not_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first solve on a machine of a school the swapping takes for its
    day rules: CP-SAT's phase 1 as before, uncut, and no swapping."""
    called: list[int] = []
    ends: list[float | None] = []
    monkeypatch.setattr(solver_mod, "kernel_ready", lambda: False)
    monkeypatch.setattr(solver_swap.Swapping, "go", lambda *a, **kw: called.append(1))
    real = solver_mod._Solver._phase1

    def phase1(self: solver_mod._Solver, *a: object, **kw: object) -> tuple[str, bool]:
        ends.append(self.search_end)
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_mod._Solver, "_phase1", phase1)
    inst = packed_school()
    rule = m.StudentsMaxGapsPerWeek(max_gaps=0)
    inst = msgspec.structs.replace(inst, constraints=(*inst.constraints, rule))
    r = solve(inst, time_limit_s=20, improve_s=0)
    assert r.timetable is not None and not called
    assert ends and all(e is None for e in ends)


def test_the_swapping_goes_on_after_phase_1_from_where_its_first_turn_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first turn too short to place the school (one step a chunk, a
    turn of no time: one chunk), phase 1 with nothing: the second turn
    continues the same construction, its steps counted on."""
    solver_swap.warm_up()
    monkeypatch.setattr(solver_swap, "SWAP_CHUNK", 1)
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_S", 1e-9)
    monkeypatch.setattr(solver_mod._Solver, "_phase1", lambda *a, **kw: ("none", False))
    turns: list[tuple[int, int]] = []
    real = solver_swap.Swapping.go

    def spy(self: solver_swap.Swapping, *a: object, **kw: object) -> object:
        turns.append((id(self), self.con.it))
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_swap.Swapping, "go", spy)
    inst = packed_school()
    r = solve(inst, time_limit_s=20, improve_s=0)
    assert r.timetable is not None and check(inst, r.timetable).hard == 0
    assert len(turns) == 2
    assert turns[0] == (turns[1][0], 0)
    assert turns[1][1] >= 1


@pytest.mark.parametrize(
    ("day_rule", "close", "extra", "events"),
    [
        # no day rule, far from done: phase 1 cut at `swap_after`, the
        # swapping goes on after
        (False, 0.1, 5.0, ["turn", "phase 1 cut", "turn"]),
        # no day rule, close to done: a short extra turn first (it places it)
        (False, 1.0, 5.0, ["turn", "turn"]),
        (False, 1.0, 0.0, ["turn", "phase 1 cut", "turn"]),
        # a day rule, far from done: phase 1 as before, no second turn
        (True, 0.1, 5.0, ["turn", "phase 1"]),
        # a day rule, close to done: the swapping goes on at once (and places it)
        (True, 1.0, 5.0, ["turn", "turn"]),
    ],
)
def test_a_day_rule_school_goes_on_swapping_only_when_close_to_placed(
    monkeypatch: pytest.MonkeyPatch, day_rule: bool, close: float, extra: float, events: list[str]
) -> None:
    """After a first turn of one step (one unit placed), a school the
    swapping takes for its day rules (`solver_swap.day_rules`) has more
    than `SWAP_CLOSE_SHARE` of its units unplaced: CP-SAT's phase 1 gets the
    time it had before (not cut at `swap_after`) and the swapping has no
    second turn; within the share, the swapping goes on at once. A school
    without day rules within the share has an extra turn of
    `SWAP_CLOSE_EXTRA_S` before phase 1 (cut) and the swapping after it."""
    solver_swap.warm_up()
    monkeypatch.setattr(solver_swap, "SWAP_CHUNK", 1)
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_S", 1e-9)
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_DAY_RULES_S", 1e-9)
    monkeypatch.setattr(solver_mod, "SWAP_CLOSE_SHARE", close)
    monkeypatch.setattr(solver_mod, "SWAP_CLOSE_EXTRA_S", extra)
    seen: list[str] = []

    def phase1(self: solver_mod._Solver, *a: object, **kw: object) -> tuple[str, bool]:
        seen.append("phase 1" if self.search_end is None else "phase 1 cut")
        return "none", False

    monkeypatch.setattr(solver_mod._Solver, "_phase1", phase1)
    real = solver_swap.Swapping.go

    def spy(self: solver_swap.Swapping, *a: object, **kw: object) -> object:
        seen.append("turn")
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_swap.Swapping, "go", spy)
    inst = packed_school()
    if day_rule:
        rule = m.StudentsMaxGapsPerWeek(max_gaps=0)
        inst = msgspec.structs.replace(inst, constraints=(*inst.constraints, rule))
    assert solver_swap.day_rules(compile_instance(inst)) == day_rule
    r = solve(inst, time_limit_s=20, improve_s=0)
    assert seen == events
    if events[-1] == "turn":
        assert r.timetable is not None and check(inst, r.timetable).hard == 0


def test_a_day_rule_schools_first_turn_is_shorter(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SWAP_FIRST_DAY_RULES_S` for a school with day rules, `SWAP_FIRST_S`
    for one without: the end of the first turn as `_construct` is given it.
    The first turn takes its forced starts in FET's order, the turn after
    CP-SAT's phase 1 by weight (`SWAP_FET_ORDER_AFTER`)."""
    solver_swap.warm_up()
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_S", 7.0)
    monkeypatch.setattr(solver_mod, "SWAP_FIRST_DAY_RULES_S", 3.0)
    turns: list[float] = []
    orders: list[tuple[bool, bool]] = []

    def construct(
        self: solver_mod._Solver,
        comp: Compiled,
        symmetry: bool,
        end: float | None = None,
        *,
        fet_order: bool = True,
    ) -> bool:
        turns.append(-1.0 if end is None else end - self.elapsed())
        orders.append((end is None, fet_order))
        return False

    monkeypatch.setattr(solver_mod._Solver, "_construct", construct)
    monkeypatch.setattr(solver_mod._Solver, "_phase1", lambda *a, **kw: ("none", False))
    inst = packed_school()
    solve(inst, time_limit_s=100, improve_s=0)
    rule = m.StudentsMaxGapsPerWeek(max_gaps=0)
    solve(msgspec.structs.replace(inst, constraints=(*inst.constraints, rule)), time_limit_s=100)
    firsts = [t for t in turns if t >= 0]
    assert len(firsts) == 2
    assert 6.0 < firsts[0] <= 7.0 and 2.0 < firsts[1] <= 3.0
    assert (False, True) in orders and (True, False) in orders


def test_kernel_ready_only_with_the_kernel_compiled_or_cached(tmp_path: object) -> None:
    """A process with an empty numba cache does not count the kernel as
    ready (the solver then lets CP-SAT go first while it compiles); one
    whose cache holds it does, before compiling or loading anything."""
    import os
    import subprocess
    import sys

    probe = "from scheduling import solver_swap\nprint(solver_swap.kernel_ready())\n"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-c", probe]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True, env=env)
    assert out.stdout.strip() == "False"
    solver_swap.warm_up()  # compiled here, and in the cache for the next process
    assert solver_swap.kernel_ready()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.slow
def test_shipena_exact_packing_has_a_timetable_the_checker_accepts() -> None:
    """Namibia's Shipena: every subgroup has as many lessons as slots, and
    CP-SAT's phase 1 finds no timetable without its spreads in 180 s."""
    from scheduling.fet import read_fet

    inst = read_fet(example("FET-5-official/Namibia/by-Bobby/set-2/Shipena.fet")).instance
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    found = solver_swap.construct(comp, seed=1, go_on=lambda: True)
    assert found is not None
    rep = check(inst, timetable(comp, *found))
    assert rep.complete and rep.hard == 0, rep.hard_by_type()


def day_school(constraints: list[m.Constraint], *, days: int = 1, hours: int = 4) -> m.Instance:
    """Teacher T with one lesson to each of classes A, B and C."""
    return m.Instance(
        name="day",
        days=tuple(m.Day(name=f"D{i}") for i in range(days)),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(hours)),
        teachers=(m.Teacher(name="T"),),
        students=tuple(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in "ABC"),
        activities=tuple(
            m.Activity(id=i, subject="M", teachers=("T",), students=(c,))
            for i, c in zip((1, 2, 3), "ABC", strict=True)
        ),
        constraints=tuple(constraints),
    )


def unit_starts(con: solver_swap.Construction, comp: Compiled, first: int, second: int) -> dict:
    """Where the unit of `first` may start, and where `second` then starts."""
    a, b = comp.by_id[first], comp.by_id[second]
    u = con.a_unit[a]
    assert con.a_unit[b] == u and con.units[u][0] == a
    return {int(t): int(con.a_at[b, t]) for t in con.u_st[con.u_st_ptr[u] : con.u_st_ptr[u + 1]]}


def test_consecutive_lessons_are_one_unit_placed_across_a_break_unless_they_must_touch() -> None:
    """Lesson 2 right after lesson 1: one unit, 2 at the next slot of the day
    that is not a break (hour 2 is one), so 1 may start at hours 0 and 1 but
    not 3. With "consecutive if same day" between them too (FET's generator
    then wants them in touching slots), not across the break."""
    cs: list[m.Constraint] = [
        m.BreakTimes(slots=((0, 2),)),
        m.TwoActivitiesConsecutive(first=1, second=2),
    ]
    comp = compile_instance(day_school(cs))
    con = solver_swap.Construction(comp, seed=1)
    assert unit_starts(con, comp, 1, 2) == {0: 1, 1: 3}
    together = m.MinDaysBetweenActivities(
        activities=(1, 2), min_days=1, weight=95, consecutive_if_same_day=True
    )
    comp = compile_instance(day_school([*cs, together]))
    con = solver_swap.Construction(comp, seed=1)
    assert unit_starts(con, comp, 1, 2) == {0: 1}
    while con.steps() > 0:
        pass
    rep = check(comp.instance, timetable(comp, *con.placement()))
    assert rep.complete and rep.hard == 0


def test_min_gaps_between_activities_evict_a_lesson_too_close() -> None:
    """Lessons 1 and 2 at least one free hour apart on a day: 2 right after
    or right before 1 evicts it, an hour further or on the next day not; the
    construction places them so."""
    import numpy as np

    from scheduling import swap_kernel as k

    gaps = m.MinGapsBetweenActivities(activities=(1, 2), min_gaps=1)
    comp = compile_instance(day_school([gaps], days=2, hours=4))
    assert solver_swap.applies(comp)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    one, two = con.a_unit[comp.by_id[1]], con.a_unit[comp.by_id[2]]
    k._put(one, 1, np.full(1, -1), 0, data, state)

    def evicts(t: int) -> list[int]:
        out, mark = np.zeros(k.EVICT_CAP, np.int64), np.zeros(len(con.units), np.int64)
        n = k._conflicts(two, t, data, state, out, mark, 1, np.full(4, -1))
        return sorted(int(v) for v in out[:n])

    assert evicts(2) == [one] and evicts(0) == [one]
    assert evicts(3) == [] and evicts(4) == []
    constructed(comp, (1,))


def constructed(
    comp: Compiled, seeds: tuple[int, ...] = (1, 2, 3)
) -> list[tuple[list[int], list[int | None]]]:
    """Each seed's construction run to the end, checked complete with no hard
    violation; its starts and rooms."""
    out = []
    for seed in seeds:
        con = solver_swap.Construction(comp, seed=seed)
        while con.steps() > 0:
            pass
        starts, rooms = con.placement()
        rep = check(comp.instance, timetable(comp, starts, rooms))
        assert rep.complete and rep.hard == 0
        out.append((starts, rooms))
    return out


def class_a(constraint: m.Constraint, *, hours: int) -> m.Instance:
    """Class A's lessons 1 (teacher T) and 2 (teacher U) on two days of
    `hours` hours, with `constraint`."""
    return m.Instance(
        name="a",
        days=(m.Day(name="D0"), m.Day(name="D1")),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(hours)),
        teachers=(m.Teacher(name="T"), m.Teacher(name="U")),
        students=(m.StudentsSet(name="A", students=20, subgroups=("A",)),),
        activities=(
            m.Activity(id=1, subject="M", teachers=("T",), students=("A",)),
            m.Activity(id=2, subject="M", teachers=("U",), students=("A",)),
        ),
        constraints=(constraint,),
    )


def extra_evictions(con: solver_swap.Construction, u: int, t: int) -> list[int]:
    """The units unit u evicts at t, the rules outside the kernel's inner
    loop included (`_extra_rules`, as `_swap` and `run` call it)."""
    import numpy as np

    from scheduling import swap_kernel as k

    data, state, _ = con._kernel_args  # type: ignore[misc]
    out, mark = np.zeros(k.EVICT_CAP, np.int64), np.zeros(len(con.units), np.int64)
    n = k._conflicts(u, t, data, state, out, mark, 1, np.full(4, -1))
    assert con.u_flags[u] & k.EXTRA
    n = k._extra_rules(u, t, data, state, out, n, mark, 1)
    return [int(v) for v in out[:n]]


def test_a_teacher_busy_on_more_days_than_allowed_frees_a_day() -> None:
    """T may teach on one day of two: lesson 2 on day 1 evicts lesson 1 from
    day 0; on day 0 it evicts nothing. The construction puts all three on
    one day."""
    import numpy as np

    from scheduling import swap_kernel as k

    inst = day_school([m.TeacherMaxDaysPerWeek(teacher="T", max_days=1)], days=2, hours=3)
    comp = compile_instance(inst)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    one, two = comp.by_id[1], comp.by_id[2]
    k._put(con.a_unit[one], 0, np.full(1, -1), 0, data, state)

    def evicted(t: int) -> list[int]:
        return extra_evictions(con, con.a_unit[two], t)

    assert evicted(comp.H + 1) == [con.a_unit[one]]  # day 1
    assert evicted(1) == []  # day 0
    k._take_off(con.a_unit[one], data, state)
    while con.steps() > 0:
        pass
    starts, rooms = con.placement()
    assert len({t // comp.H for t in starts}) == 1
    rep = check(inst, timetable(comp, starts, rooms))
    assert rep.complete and rep.hard == 0


def building_school(days: int, hours: int, *rules: m.Constraint) -> m.Instance:
    """Teacher T's lessons 1-3 in building N (room n1) and 4-6 in S (s1),
    each to a class of its own."""
    return m.Instance(
        name="buildings",
        days=tuple(m.Day(name=f"D{i}") for i in range(days)),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(hours)),
        teachers=(m.Teacher(name="T"),),
        students=tuple(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in "ABCDEF"),
        rooms=(m.Room(name="n1", building="N"), m.Room(name="s1", building="S")),
        activities=tuple(
            m.Activity(id=i, subject="M", teachers=("T",), students=(c,))
            for i, c in zip(range(1, 7), "ABCDEF", strict=True)
        ),
        constraints=(
            *(m.ActivityPreferredRooms(activity=i, rooms=("n1",)) for i in (1, 2, 3)),
            *(m.ActivityPreferredRooms(activity=i, rooms=("s1",)) for i in (4, 5, 6)),
            *rules,
        ),
    )


def test_a_change_of_building_evicts_what_is_too_close_or_one_change_too_many() -> None:
    """One day of five hours, a free hour before a change and one change a
    day at most: lesson 4 (S) right after lesson 1 (N) evicts it, an hour
    later not; with 1 (N) and 4 (S) placed at hours 0 and 2, lesson 2 (N)
    at hour 4 would make two changes, and lesson 4 leaves (one would stay
    with lesson 1 gone)."""
    import numpy as np

    from scheduling import swap_kernel as k

    inst = building_school(
        1,
        5,
        m.TeacherMinGapsBetweenBuildingChanges(teacher="T", min_gaps=1),
        m.TeacherMaxBuildingChanges(teacher="T", max_changes=1),
    )
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    unit = {i: int(con.a_unit[comp.by_id[i]]) for i in (1, 2, 4)}
    k._put(unit[1], 0, np.full(1, -1), 0, data, state)
    assert extra_evictions(con, unit[4], 1) == [unit[1]]
    assert extra_evictions(con, unit[4], 2) == []
    k._put(unit[4], 2, np.full(1, -1), 0, data, state)
    assert extra_evictions(con, unit[2], 4) == [unit[4]]
    assert extra_evictions(con, unit[2], 1) == [unit[4]]  # right before 4: too close


@pytest.mark.parametrize("per_week", [False, True])
def test_building_rules_hold_in_the_constructed_timetable(per_week: bool) -> None:
    """Two days of four hours for T's three lessons in N and three in S: at
    most one change a day and a free hour before it. A max a week is not the
    swapping's."""
    rules = (
        m.TeacherMinGapsBetweenBuildingChanges(teacher="T", min_gaps=1),
        m.TeacherMaxBuildingChanges(teacher="T", max_changes=1, per_week=per_week),
    )
    comp = compile_instance(building_school(2, 4, *rules))
    assert solver_swap.applies(comp) != per_week
    if not per_week:
        constructed(comp, seeds=(1, 2, 3, 4, 5))


def test_a_teacher_busy_in_an_interval_on_more_days_than_allowed_frees_one() -> None:
    """T may teach in hours 2-3 on one day of two: lesson 2 at hour 2 of day
    1 evicts lesson 1 from hour 3 of day 0; at hour 0 of day 1 or at hour 2
    of day 0, nothing. The placed timetable keeps to it."""
    import numpy as np

    from scheduling import swap_kernel as k

    rule = m.TeacherIntervalMaxDaysPerWeek(teacher="T", start_hour=2, end_hour=4, max_days=1)
    inst = day_school([rule], days=2, hours=4)
    comp = compile_instance(inst)
    assert solver_swap.applies(comp) and solver_swap.intervals(comp)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    one, two = comp.by_id[1], comp.by_id[2]
    k._put(con.a_unit[one], 3, np.full(1, -1), 0, data, state)

    def evicted(t: int) -> list[int]:
        return extra_evictions(con, con.a_unit[two], t)

    assert evicted(comp.H + 2) == [con.a_unit[one]]
    assert evicted(comp.H) == [] and evicted(2) == []
    constructed(comp)


def test_a_lesson_that_ends_the_students_day_evicts_what_follows_it() -> None:
    """Class A has lessons 1 (teacher T, ends A's day) and 2 (teacher U):
    with 1 at hour 1, lesson 2 at hour 2 or 3 evicts it and at hour 0 not;
    with 2 at hour 3, lesson 1 at hour 1 evicts it. The placed timetable
    keeps to it."""
    import numpy as np

    from scheduling import swap_kernel as k

    inst = class_a(m.ActivityEndsStudentsDay(activity=1), hours=4)
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    data, state, _ = con._kernel_args  # type: ignore[misc]
    one, two = con.a_unit[comp.by_id[1]], con.a_unit[comp.by_id[2]]

    k._put(one, 1, np.full(1, -1), 0, data, state)
    assert extra_evictions(con, two, 2) == [one] == extra_evictions(con, two, 3)
    assert extra_evictions(con, two, 0) == [] == extra_evictions(con, two, comp.H + 3)
    k._take_off(one, data, state)
    k._put(two, 3, np.full(1, -1), 0, data, state)
    assert extra_evictions(con, one, 1) == [two]
    assert extra_evictions(con, one, comp.H + 1) == []
    constructed(comp)


def test_a_timetable_over_a_gap_limit_goes_to_the_relaxed_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The swapping does not look at gap limits above zero: its timetable
    with T's lessons at hours 0, 2 and 4 (2 gaps, at most 1 allowed) is
    where the relaxed search starts, and it takes the excess to zero."""
    inst = day_school([m.TeacherMaxGapsPerWeek(teacher="T", max_gaps=1)], hours=5)
    comp = compile_instance(inst)
    assert solver_swap.applies(comp) and solver_swap.relaxed_after(comp)
    monkeypatch.setattr(solver_mod._Solver, "_phase1", lambda *a, **kw: ("none", False))
    monkeypatch.setattr(solver_swap.Swapping, "go", lambda *a, **kw: ([0, 2, 4], [None] * 3))
    relaxed: list[int] = []
    real = solver_mod._Solver._relaxed_from

    def spy(self: solver_mod._Solver, *a: object) -> bool:
        relaxed.append(1)
        return real(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_mod._Solver, "_relaxed_from", spy)
    bad = check(inst, timetable(comp, [0, 2, 4], [None] * 3))
    assert bad.hard == 1
    r = solve(inst, time_limit_s=20, improve_s=1)
    assert relaxed and r.timetable is not None
    rep = check(inst, r.timetable)
    assert rep.complete and rep.hard == 0


def test_a_heavy_spread_that_cannot_keep_to_two_lessons_a_day_is_not_capped() -> None:
    """T's three lessons, 95 % one day apart: with T available on one day of
    two they cannot keep to two a day (FET itself cannot read such a file:
    ACHILES-MANHA), so the spread is not capped, and a construction does
    not spend its time on a repair that cannot finish; on two days it is."""
    from scheduling.solver_compile import fet_reading_capped

    spread = m.MinDaysBetweenActivities(activities=(1, 2, 3), min_days=1, weight=95.0)
    two_days = compile_instance(day_school([spread], days=2))
    assert fet_reading_capped(two_days.min_days[0])
    away = m.TeacherNotAvailableTimes(teacher="T", slots=tuple((1, h) for h in range(4)))
    one_day = compile_instance(day_school([spread, away], days=2))
    assert not fet_reading_capped(one_day.min_days[0])
    # complete in its first chunk, with no repair to wait for (a capped one
    # would take two lessons off and never place them again)
    found = solver_swap.Swapping(one_day, seed=1).go(lambda: False)
    assert found is not None and all(t // one_day.H == 0 for t in found[0])


def evictions(con: solver_swap.Construction, lesson: int, t: int) -> list[int] | None:
    """The units lesson's unit evicts at t, day rules included (as `_swap`
    and `run` look at them); None when it cannot start there."""
    import numpy as np

    from scheduling import swap_kernel as k

    data, state, work = con._kernel_args  # type: ignore[misc]
    u = con.a_unit[lesson]
    out, mark = np.zeros(k.EVICT_CAP, np.int64), np.zeros(len(con.units), np.int64)
    moved = np.zeros(len(con.units), np.uint8)
    n = k._conflicts(u, t, data, state, out, mark, 1, np.full(4, -1))
    assert con.u_flags[u] & k.DAY_RULES
    if n >= 0:
        n = k._day_rules(u, t, data, state, out, n, mark, 1, moved, work[17])
    return None if n < 0 else sorted(int(v) for v in out[:n])


def placed(con: solver_swap.Construction, lesson: int, t: int) -> None:
    import numpy as np

    from scheduling import swap_kernel as k

    data, state, _ = con._kernel_args  # type: ignore[misc]
    k._put(con.a_unit[lesson], t, np.full(4, -1), 0, data, state)


@pytest.mark.parametrize(
    ("rule", "days", "first_at", "second_at", "evicts_first"),
    [
        # zero gaps: T's three lessons, one at hour 0; the second at hour 2
        # leaves a gap the third can fill, at hour 3 two it cannot
        (m.TeacherMaxGapsPerDay(teacher="T", max_gaps=0), 1, 0, 2, False),
        (m.TeacherMaxGapsPerDay(teacher="T", max_gaps=0), 1, 0, 3, True),
        # at most one gap in the week (kept beside another day rule): one of
        # the two is for the third to fill
        (m.TeacherMaxGapsPerWeek(teacher="T", max_gaps=1), 1, 0, 3, False),
        (m.TeacherMaxHoursDaily(teacher="T", max_hours=1), 1, 0, 3, True),
        # at most two in a row: lesson 2 right after lesson 1 makes a run of
        # two, kept; at most one in a row: the run of two is too long, and
        # lesson 1 (at the start of the day) leaves
        (m.TeacherMaxHoursContinuously(teacher="T", max_hours=2), 1, 0, 1, False),
        (m.TeacherMaxHoursContinuously(teacher="T", max_hours=1), 1, 0, 1, True),
        # three hours on a busy day: one day short of one, the third fills
        # it; two days short of two each, it cannot
        (m.TeacherMinHoursDaily(teacher="T", min_hours=3), 2, 0, 1, False),
        (m.TeacherMinHoursDaily(teacher="T", min_hours=3), 2, 0, 4, True),
        # busy on at least three days of three: lesson 2 beside lesson 1
        # leaves two days to open with one lesson left, and lesson 1 goes;
        # on the next day, the third lesson opens the last one
        (m.TeacherMinDaysPerWeek(teacher="T", min_days=3), 3, 0, 1, True),
        (m.TeacherMinDaysPerWeek(teacher="T", min_days=3), 3, 0, 4, False),
    ],
)
def test_a_lesson_evicts_what_its_teachers_day_rules_cannot_complete(
    rule: m.Constraint, days: int, first_at: int, second_at: int, evicts_first: bool
) -> None:
    """T teaches three lessons on days of four hours, lesson 1 placed:
    where lesson 2 leaves T's days more to fill than the one lesson left can
    (gaps, the min hours) or goes over the max hours, lesson 1 leaves."""
    # a day rule beside it that changes nothing here (gap limits above zero
    # are kept only beside another)
    other = m.TeacherMaxHoursDaily(teacher="T", max_hours=3)
    comp = compile_instance(day_school([rule, other], days=days))
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    one, two = comp.by_id[1], comp.by_id[2]
    placed(con, one, first_at)
    assert evictions(con, two, second_at) == ([int(con.a_unit[one])] if evicts_first else [])


def test_min_days_a_week_hold_in_the_constructed_timetable() -> None:
    """T's three lessons on three days of four hours, busy on all three."""
    comp = compile_instance(day_school([m.TeacherMinDaysPerWeek(teacher="T", min_days=3)], days=3))
    assert solver_swap.applies(comp)
    for starts, _ in constructed(comp, seeds=(1, 2, 3, 4, 5)):
        assert sorted(t // comp.H for t in starts) == [0, 1, 2]


def test_min_hours_on_every_day_make_an_empty_day_need_them() -> None:
    """Class A has two lessons and at least one hour on each of two days
    (empty days not allowed): with lesson 1 on day 0, lesson 2 on day 0 too
    evicts it (day 1 would be left empty with nothing left to place), on
    day 1 nothing. Placed: one lesson a day."""
    every = m.StudentsMinHoursDaily(students="A", min_hours=1, allow_empty_days=False)
    inst = class_a(every, hours=3)
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    one, two = comp.by_id[1], comp.by_id[2]
    placed(con, one, 0)
    assert evictions(con, two, 1) == [int(con.a_unit[one])]
    assert evictions(con, two, comp.H + 1) == []
    for starts, _ in constructed(comp):
        assert {t // comp.H for t in starts} == {0, 1}


def test_the_early_beginnings_and_a_weeks_gap_limit_count_as_hours_to_fill() -> None:
    """Class A, no gaps, its day beginning at the first hour (early max
    beginnings 0), four lessons on one day of five hours: the empty hours
    before the first lesson count as gaps do, hours the lessons left must
    fill."""
    acts = tuple(m.Activity(id=i, subject="M", teachers=(), students=("A",)) for i in range(1, 5))
    inst = m.Instance(
        name="early",
        days=(m.Day(name="D0"),),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(5)),
        teachers=(),
        students=(m.StudentsSet(name="A", students=20, subgroups=("A",)),),
        activities=acts,
        constraints=(
            m.StudentsEarlyMaxBeginningsAtSecondHour(max_beginnings=0),
            m.StudentsMaxGapsPerWeek(max_gaps=0),
        ),
    )
    comp = compile_instance(inst)
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    placed(con, comp.by_id[1], 0)
    assert evictions(con, comp.by_id[2], 3) == []  # gaps at 1, 2: two left
    # gaps at 1-3, three for two; without lesson 1, hours 0-3 for three
    assert evictions(con, comp.by_id[2], 4) is None
    con2 = solver_swap.Construction(comp, seed=1)
    con2.steps(0)
    placed(con2, comp.by_id[1], 2)
    assert evictions(con2, comp.by_id[2], 3) == []  # hours 0 and 1 for two
    # hours 0, 1 and 3 for two, and no lesson to evict that helps
    assert evictions(con2, comp.by_id[2], 4) is None


def test_a_selection_keeps_to_its_most_occupied_slots() -> None:
    """Lessons 1, 2 and 3 may occupy at most two of hours 0-2: with 1 and 2
    there, 3 at hour 2 evicts one of them; at hour 3 (not selected) none."""
    sel = m.ActivitiesOccupyMaxTimeSlotsFromSelection(
        activities=(1, 2, 3), slots=((0, 0), (0, 1), (0, 2)), max_occupied=2
    )
    comp = compile_instance(day_school([sel]))
    con = solver_swap.Construction(comp, seed=1)
    con.steps(0)
    placed(con, comp.by_id[1], 0)
    placed(con, comp.by_id[2], 1)
    out = evictions(con, comp.by_id[3], 2)
    assert out is not None and len(out) == 1
    assert out[0] in (con.a_unit[comp.by_id[1]], con.a_unit[comp.by_id[2]])
    assert evictions(con, comp.by_id[3], 3) == []


def compact_school() -> m.Instance:
    """Two days of six hours, classes A and B with seven lessons each, four
    teachers: zero gaps for the classes, at least two hours on a busy day,
    at most four hours a day, three in a row and no gap for teachers, no
    class beginning after the first hour, and at most 5 of A's first-day
    hours taken."""
    acts = [
        m.Activity(id=10 * k + i, subject="M", teachers=(f"T{(k + i) % 4}",), students=(c,))
        for k, c in enumerate("AB")
        for i in range(7)
    ]
    return m.Instance(
        name="compact",
        days=(m.Day(name="D0"), m.Day(name="D1")),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(6)),
        teachers=tuple(m.Teacher(name=f"T{t}") for t in range(4)),
        students=tuple(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in "AB"),
        activities=tuple(acts),
        constraints=(
            m.StudentsMaxGapsPerWeek(max_gaps=0),
            m.StudentsMinHoursDaily(min_hours=2),
            m.StudentsEarlyMaxBeginningsAtSecondHour(max_beginnings=0),
            m.TeacherMaxGapsPerDay(max_gaps=0),
            m.TeacherMaxHoursDaily(max_hours=4),
            m.TeacherMaxHoursContinuously(max_hours=3),
            m.ActivitiesOccupyMaxTimeSlotsFromSelection(
                activities=tuple(range(7)), slots=tuple((0, h) for h in range(6)), max_occupied=5
            ),
        ),
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_day_rules_hold_in_the_constructed_timetable(seed: int) -> None:
    inst = compact_school()
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    found = solver_swap.construct(comp, seed=seed, go_on=lambda: True)
    assert found is not None
    rep = check(inst, timetable(comp, *found))
    assert rep.complete and rep.hard == 0, rep.violations


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tag_limits_and_not_overlapping_hold_in_the_constructed_timetable(seed: int) -> None:
    """Virtual people (`solver_compile._tag_people`): T's lab lessons at most
    two a day and one in a row, A's and B's lab lessons never at once."""
    acts = [
        m.Activity(
            id=10 * k + i,
            subject="M",
            teachers=(f"T{i % 2}",),
            students=(c,),
            tags=("lab",) if i < 4 else (),
        )
        for k, c in enumerate("AB")
        for i in range(6)
    ]
    inst = m.Instance(
        name="tags",
        days=(m.Day(name="D0"), m.Day(name="D1")),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(6)),
        teachers=(m.Teacher(name="T0"), m.Teacher(name="T1")),
        students=tuple(m.StudentsSet(name=c, students=20, subgroups=(c,)) for c in "AB"),
        activities=tuple(acts),
        constraints=(
            m.TeacherActivityTagMaxHoursDaily(tag="lab", max_hours=2),
            m.TeacherActivityTagMaxHoursContinuously(tag="lab", max_hours=1),
            m.ActivitiesNotOverlapping(activities=(0, 1, 10, 11)),
        ),
    )
    comp = compile_instance(inst)
    assert solver_swap.applies(comp)
    found = solver_swap.construct(comp, seed=seed, go_on=lambda: True)
    assert found is not None
    rep = check(inst, timetable(comp, *found))
    assert rep.complete and rep.hard == 0, rep.violations


def test_lycee_farabi_is_placed_by_the_swapping_with_its_day_rules() -> None:
    """Hadkourt, Morocco (fet-data): half-days as days, zero gaps for
    classes and teachers, at least two hours on a busy half-day, at most
    seven hours a real day (186 selections). CP-SAT finds no timetable in
    120 s; the swapping alone places it in about 1,000 steps."""
    fet = read_fet(example("FET-5-official/Morocco/Hadkourt/lycee-Farabi.fet"))
    comp = compile_instance(fet.instance)
    assert solver_swap.applies(comp) and not solver_swap.relaxed_after(comp)
    sw = solver_swap.Swapping(comp, seed=3)
    found = sw.go(lambda: sw.con.it < 4000)
    assert found is not None
    rep = check(fet.instance, timetable(comp, *found))
    assert rep.complete and rep.hard == 0, rep.violations[:5]


def test_gap_limits_above_zero_are_kept_only_beside_other_day_rules() -> None:
    """Alone (as before the day rules), a teacher's "at most one gap a
    week" is left to the relaxed search; beside a zero-gap rule, the
    construction keeps it."""
    from scheduling import swap_kernel as k

    limit = m.TeacherMaxGapsPerWeek(teacher="T", max_gaps=1)
    alone = solver_swap.Construction(compile_instance(day_school([limit])), seed=1)
    assert not alone.p_rule[:, k.P_ANY].any()
    zero = m.StudentsMaxGapsPerWeek(max_gaps=0)
    both = solver_swap.Construction(compile_instance(day_school([limit, zero])), seed=1)
    teacher = 3  # after the three classes
    assert both.p_rule[teacher, k.P_GAPW] == 1 and both.p_rule[teacher, k.P_ANY] == 1


def spread_day_school(*, t_days: int = 3) -> m.Instance:
    """Class A fills its 3 days of 2 hours: three lessons with T at least a
    day apart (95 %) and three with U. T is available on the first
    `t_days` days only."""
    acts = [
        m.Activity(id=i, subject="M", teachers=("T",), students=("A",), group_id=1)
        for i in (1, 2, 3)
    ] + [m.Activity(id=i, subject="E", teachers=("U",), students=("A",)) for i in (4, 5, 6)]
    cs: list[m.Constraint] = [
        m.MinDaysBetweenActivities(activities=(1, 2, 3), min_days=1, weight=95.0)
    ]
    if t_days < 3:
        cs.append(
            m.TeacherNotAvailableTimes(
                teacher="T", slots=tuple((d, h) for d in range(t_days, 3) for h in range(2))
            )
        )
    return m.Instance(
        name="spread-days",
        days=tuple(m.Day(name=f"D{i}") for i in range(3)),
        hours=tuple(m.Hour(name=f"H{i}") for i in range(2)),
        teachers=(m.Teacher(name="T"), m.Teacher(name="U")),
        students=(m.StudentsSet(name="A", students=20, subgroups=("A",)),),
        activities=tuple(acts),
        constraints=tuple(cs),
    )


def _starts(comp: Compiled, at: dict[int, int]) -> tuple[list[int], list[int | None]]:
    return [at[a.id] for a in comp.activities], [None] * len(comp.activities)


def test_spreads_places_a_lesson_of_a_broken_pair_again_breaking_none() -> None:
    """Two of the lessons with T on day 0 (a broken pair of the 95 %
    spread): an attempt takes one of them off and places it again with the
    spread enforced, on day 1, where it evicts a lesson with U, which takes
    the slot it left. The new timetable breaks no pair and keeps every hard
    constraint; `undo` goes back to the one before."""
    solver_swap.warm_up()
    comp = compile_instance(spread_day_school())
    before = {1: 0, 2: 1, 4: 2, 5: 3, 3: 4, 6: 5}  # slot = day * 2 + hour
    starts, rooms = _starts(comp, before)
    spreads = solver_swap.Spreads(comp, starts, rooms, seed=1)
    assert len(spreads.broken()[0]) == 1
    found = None
    while found is None and spreads.attempts < 20:
        found = spreads.attempt(*spreads.broken())
    assert found is not None
    assert spreads.broken() == ([], 0)
    rep = check(comp.instance, timetable(comp, *found))
    assert rep.complete and rep.hard == 0 and rep.soft == 0
    days = sorted(t // comp.H for a, t in zip(comp.activities, found[0], strict=True) if a.id <= 3)
    assert days == [0, 1, 2]
    spreads.undo()
    assert [int(t) for t in spreads.con.start] == starts
    assert len(spreads.broken()[0]) == 1


def test_spreads_keeps_the_rooms_of_the_lessons_it_does_not_move() -> None:
    """The lessons with U prefer room R (soft, 50 %) and have it in the
    timetable: after the attempt the ones that stayed still have it, the
    one placed again has none (it costs 0.5, the spread it mends 0.95)."""
    solver_swap.warm_up()
    inst = spread_day_school()
    inst = msgspec.structs.replace(
        inst,
        rooms=(m.Room(name="R"),),
        constraints=(
            *inst.constraints,
            m.SubjectPreferredRooms(subject="E", rooms=("R",), weight=50.0),
        ),
    )
    comp = compile_instance(inst)
    before = {1: 0, 2: 1, 4: 2, 5: 3, 3: 4, 6: 5}
    starts, _ = _starts(comp, before)
    rooms: list[int | None] = [0 if a.id >= 4 else None for a in comp.activities]
    spreads = solver_swap.Spreads(comp, starts, rooms, seed=1)
    found = None
    while found is None and spreads.attempts < 20:
        found = spreads.attempt(*spreads.broken())
    assert found is not None
    moved = {
        a.id
        for a, t0, t in zip(comp.activities, starts, found[0], strict=True)
        if t0 != t and a.id >= 4
    }
    assert len(moved) == 1
    for a, r in zip(comp.activities, found[1], strict=True):
        if a.id >= 4:
            assert r == (None if a.id in moved else 0)
    rep = check(inst, timetable(comp, *found))
    assert rep.hard == 0 and rep.soft == pytest.approx(0.5)


def test_a_spreads_attempt_that_leaves_a_lesson_unplaced_is_undone() -> None:
    """T is available on days 0 and 1 only, so its three lessons cannot
    keep their spread: every attempt ends with a lesson unplaced, and the
    timetable (and the construction's order) stays as it was."""
    solver_swap.warm_up()
    comp = compile_instance(spread_day_school(t_days=2))
    starts, rooms = _starts(comp, {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5})
    spreads = solver_swap.Spreads(comp, starts, rooms, seed=1)
    prio = spreads.con.prio.copy()
    for _ in range(10):
        assert spreads.attempt(*spreads.broken()) is None
        assert [int(t) for t in spreads.con.start] == starts
        assert (spreads.con.prio == prio).all()
    assert spreads.attempts == 10 and spreads.found == 0
    assert len(spreads.broken()[0]) == 1


def test_the_improvement_starts_with_the_spreads_where_the_swapping_built_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timetable of the swapping that breaks a soft min days: before
    phase 2's CP-SAT search starts, `_spreads` has taken its soft score to
    0, and each timetable it kept was reported."""
    solver_swap.warm_up()
    inst = spread_day_school()
    comp = compile_instance(inst)
    reports: list[tuple[str, float | None]] = []
    s = _bare_solver(
        inst, time_limit_s=30, improve_s=5, on_progress=lambda p: reports.append((p.phase, p.soft))
    )
    s.comp = comp
    s.swapping = solver_swap.Swapping(comp, seed=1)
    s.record(*_starts(comp, {1: 0, 2: 1, 4: 2, 5: 3, 3: 4, 6: 5}), None, s.elapsed())
    assert s.run.soft == pytest.approx(0.95)
    soft_at_phase_2: list[float | None] = []
    run_phase = solver_mod._Solver.run_phase

    def watched(self: solver_mod._Solver, *a: object, **kw: object) -> int:
        soft_at_phase_2.append(self.run.soft)
        return run_phase(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(solver_mod._Solver, "run_phase", watched)
    r = s._improve(comp, False, {}, True)
    assert soft_at_phase_2 and soft_at_phase_2[0] == 0
    assert ("improve", 0) in reports
    assert r.timetable is not None and check(inst, r.timetable).hard == 0


def test_the_spreads_give_way_after_so_many_attempts_without_a_lower_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """T's three lessons cannot keep their spread (T has two days): with
    time to spare, `_spreads` stops after `SPREADS_STALL` attempts, none of
    which found a timetable, and the best timetable is the one before."""
    solver_swap.warm_up()
    inst = spread_day_school(t_days=2)
    comp = compile_instance(inst)
    made: list[solver_swap.Spreads] = []

    class Counted(solver_swap.Spreads):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, **kw)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(solver_mod, "Spreads", Counted)
    monkeypatch.setattr(solver_mod, "SPREADS_STALL", 7)
    s = _bare_solver(inst, time_limit_s=300)
    s.comp = comp
    starts, rooms = _starts(comp, {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5})
    s.record(starts, rooms, None, s.elapsed())
    s._spreads(comp, s.elapsed() + 250)
    assert len(made) == 1 and made[0].attempts == 7 and made[0].found == 0
    assert s.run.best is not None and s.run.best[0] == starts


def test_forced_starts_in_fets_order_place_mhs_july2() -> None:
    """South Africa's MHS_July2 (fet-data): grade 12's subgroups have as
    many lessons as free slots, each subject once a day (95 %). When no
    chain places a lesson, the start forced is chosen in FET's order (the
    least tried of its evicted first): the swapping alone places the school
    in about 2,500 steps (seed 1); weighing the evicted first, with their
    tries a tenth each, it stayed about 50 lessons short after 10,000."""
    fet = read_fet(example("FET-6-official/South-Africa/Western-Cape/Robertson/MHS_July2.fet"))
    comp = compile_instance(fet.instance)
    assert solver_swap.applies(comp)
    sw = solver_swap.Swapping(comp, seed=1)
    found = sw.go(lambda: sw.con.it < 4000)
    assert found is not None
    rep = check(fet.instance, timetable(comp, *found))
    assert rep.complete and rep.hard == 0, rep.violations[:5]
