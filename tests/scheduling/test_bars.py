"""Course bars (scheduling/bars.py): known optima on hand-made instances, the
teacher rule, determinism, a demo-data instance, the week placement and the
independent check."""

from __future__ import annotations

import random

import msgspec
import pytest

from scheduling.bars import (
    BarsProblem,
    Course,
    Learner,
    Section,
    _edge_colouring,
    _Index,
    _score,
    bars_to_slots,
    solve_bars,
    synthetic_problem,
    verify,
    verify_slots,
)


def _problem(
    bars: int,
    groups: list[tuple[int, tuple[str, ...]]],
    sections: dict[str, list[str | None]],
    *,
    max_size: int = 35,
    min_size: int = 1,
) -> BarsProblem:
    """`groups`: (how many learners, their choices); `sections`: course ->
    the teacher of each of its sections."""
    learners: list[Learner] = []
    for n, choices in groups:
        learners += [Learner(id=f"l{len(learners) + i:03d}", choices=choices) for i in range(n)]
    return BarsProblem(
        courses=tuple(Course(id=c) for c in sections),
        sections=tuple(
            Section(id=f"{c}.{i + 1}", course=c, teacher=t)
            for c, teachers in sections.items()
            for i, t in enumerate(teachers)
        ),
        learners=tuple(learners),
        bars=bars,
        max_size=max_size,
        min_size=min_size,
    )


# Three bars; four one-section courses and one course E with two sections of at
# most 20. Putting A, C in one bar and B, D in another (which keeps every pair
# of one-section courses apart) sends all 30 learners to E in the third bar:
# 10 are left out. Three bars for the four small courses (A | B | C, D with A
# or B) leave E two bars, 10 + 20 learners: nobody is left out.
_TRICKY = _problem(
    3,
    [(10, ("A", "B", "E")), (10, ("C", "D", "E")), (10, ("B", "C", "E"))],
    {"A": ["ta"], "B": ["tb"], "C": ["tc"], "D": ["td"], "E": ["te1", "te2"]},
    max_size=20,
)


def test_a_bad_arrangement_leaves_conflicts_the_solver_resolves_them_all() -> None:
    ix = _Index(_TRICKY)
    bar = {"A.1": 0, "C.1": 0, "B.1": 1, "D.1": 1, "E.1": 2, "E.2": 0}
    bad = [bar[s.id] for s in ix.sections]
    (unresolved, _), _ = _score(ix, 3, bad)
    assert unresolved == 10

    result = solve_bars(_TRICKY, time_limit_s=10, workers=1)
    check = verify(_TRICKY, result)
    assert check.ok, check
    assert result.unresolved_choices == check.unresolved_choices == 0
    assert result.status == "optimal"
    assert max(result.section_sizes.values()) <= 20


def test_an_impossible_instance_reports_the_exact_minimum() -> None:
    # Two bars, three one-section courses chosen in pairs: some pair must share
    # a bar, and the cheapest is A with C (3 learners).
    problem = _problem(
        2,
        [(5, ("A", "B")), (4, ("B", "C")), (3, ("A", "C"))],
        {"A": ["ta"], "B": ["tb"], "C": ["tc"]},
    )
    result = solve_bars(problem, time_limit_s=10, workers=1)
    check = verify(problem, result)
    assert check.ok, check
    assert result.method == "full"
    assert result.unresolved_choices == check.unresolved_choices == 3
    assert result.lower_bound == 3
    assert result.status == "optimal"
    assert result.section_bar["A.1"] == result.section_bar["C.1"]
    assert len(result.unresolved) == 3


def test_a_teacher_is_never_in_two_sections_at_once() -> None:
    # A and B both clash with C; alone they would share the bar opposite C, but
    # one teacher teaches both, so the smaller group ({B, C}: 4) loses out.
    problem = _problem(
        2,
        [(10, ("A", "C")), (4, ("B", "C"))],
        {"A": ["t"], "B": ["t"], "C": ["tc"]},
    )
    result = solve_bars(problem, time_limit_s=10, workers=1)
    check = verify(problem, result)
    assert check.ok, check
    assert check.teacher_clashes == 0
    assert result.section_bar["A.1"] != result.section_bar["B.1"]
    assert result.unresolved_choices == 4
    assert result.status == "optimal"


def test_more_choices_than_bars_and_capacity() -> None:
    # Four one-section courses in three bars: every learner loses one (the
    # floor), which the result proves.
    problem = _problem(
        3,
        [(12, ("A", "B", "C", "D"))],
        {"A": ["ta"], "B": ["tb"], "C": ["tc"], "D": ["td"]},
    )
    result = solve_bars(problem, time_limit_s=10, workers=1)
    assert verify(problem, result).ok
    assert result.unresolved_choices == result.lower_bound == 12
    assert result.status == "optimal"


def test_same_seed_one_worker_same_result() -> None:
    problem = synthetic_problem(learners=90, choices="seed")
    first = solve_bars(problem, time_limit_s=20, seed=7, workers=1)
    second = solve_bars(problem, time_limit_s=20, seed=7, workers=1)
    assert first.greedy_unresolved > 0  # the local search had work to do
    assert first.balanced and second.balanced  # finished within the time limit
    assert first.section_bar == second.section_bar
    assert first.enrolment == second.enrolment
    assert first.unresolved == second.unresolved


def test_a_demo_data_school() -> None:
    problem = synthetic_problem(learners=240)
    assert 230 <= len(problem.learners) <= 240
    per_learner = [len(learner.choices) for learner in problem.learners]
    assert 5 <= min(per_learner) and max(per_learner) <= 8
    result = solve_bars(problem, time_limit_s=6, workers=1)
    check = verify(problem, result)
    assert check.ok, check
    assert check.over_capacity == check.teacher_clashes == check.learner_clashes == 0
    assert result.unresolved_choices == check.unresolved_choices
    assert result.unresolved_choices <= result.greedy_unresolved
    assert result.unresolved_choices <= 0.01 * result.choices
    assert result.wall_s < 8
    # The result survives a round trip through JSON.
    assert msgspec.json.decode(msgspec.json.encode(result), type=type(result)) == result


def test_verify_catches_a_tampered_result() -> None:
    result = solve_bars(_TRICKY, time_limit_s=10, workers=1)
    learner = next(lid for lid, got in result.enrolment.items() if "A" in got)
    # Put A and the other section of E in one bar, and a learner into both.
    moved = dict(result.section_bar)
    other_e = next(s for s, b in moved.items() if s.startswith("E.") and b != moved["A.1"])
    moved[other_e] = moved["A.1"]
    enrolment = {k: dict(v) for k, v in result.enrolment.items()}
    enrolment[learner]["E"] = other_e
    sizes = dict(result.section_sizes)
    tampered = msgspec.structs.replace(
        result, section_bar=moved, enrolment=enrolment, section_sizes=sizes
    )
    check = verify(_TRICKY, tampered)
    assert not check.ok
    assert check.learner_clashes >= 1
    miscounted = msgspec.structs.replace(result, unresolved_choices=1)
    assert verify(_TRICKY, miscounted).mismatches


def test_edge_colouring_splits_into_matchings() -> None:
    rng = random.Random(3)
    for _ in range(200):
        colours = rng.randint(1, 6)
        # A random multigraph with every degree at most `colours`.
        left_deg = [0] * 5
        right_deg = [0] * 6
        counts: dict[tuple[int, int], int] = {}
        for _ in range(40):
            a, b = rng.randrange(5), rng.randrange(6)
            if left_deg[a] < colours and right_deg[b] < colours:
                counts[a, b] = counts.get((a, b), 0) + 1
                left_deg[a] += 1
                right_deg[b] += 1
        matchings = _edge_colouring(counts, colours)
        assert len(matchings) == colours
        seen: dict[tuple[int, int], int] = {}
        for matching in matchings:
            assert len(set(matching.values())) == len(matching)  # a right vertex once
            for a, b in matching.items():
                seen[a, b] = seen.get((a, b), 0) + 1
        assert seen == counts


def test_bars_into_the_week() -> None:
    placement = bars_to_slots(9, 3, days=5, hours=6)
    assert verify_slots(placement, 9, 3) == []
    for lessons in placement.slots:
        assert len({d for d, _ in lessons}) == 3  # three different days
    # More lessons than days: at most two a day.
    placement = bars_to_slots(4, 7, days=5, hours=6, unavailable=[(4, 5)])
    assert verify_slots(placement, 4, 7) == []
    assert (4, 5) not in {slot for lessons in placement.slots for slot in lessons}
    with pytest.raises(ValueError, match="free slots"):
        bars_to_slots(10, 3, days=5, hours=5)


def test_rejects_what_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="no sections"):
        _Index(_problem(2, [(1, ("A",))], {"A": []}))
    with pytest.raises(ValueError, match="teacher t has 3 sections"):
        _Index(_problem(2, [(1, ("A",))], {"A": ["t", "t", "t"]}))
    with pytest.raises(ValueError, match="unknown course"):
        _Index(_problem(2, [(1, ("Z",))], {"A": ["t"]}))
