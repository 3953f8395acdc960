"""Upper secondary course bars (palkkijärjestelmä): sections into bars, learners
into sections, bars into the week.

In lukio every learner chooses the courses they take in a period, and the
school runs each course as one or more *sections* (opetusryhmä). Sections are
arranged into *bars* (palkit): all sections of a bar run at the same time, so a
learner can take at most one section per bar, and a teacher teaches at most
one section per bar. A learner's choice is *resolved* when they get a section
of the course; it stays *unresolved* when every section of it sits in a bar
where the learner already has another course (or is full).

`solve_bars` minimises unresolved choices first, then uneven section sizes:

- stage A (`_search_bars`): sections into bars by greedy starts weighted by
  how many learners choose two courses together, then local search (move or
  swap a section of a learner left short) scored by a greedy learner
  assignment (a maximum matching per learner, tightest learners first); then
  single-learner moves even out the sizes (`_rebalance`);
- CP-SAT: the exact model below, either whole ("full": sections and learners,
  proves optimality on small problems) or with stage A's bars fixed
  ("decomposed"), for the unresolved count if stage A did not reach its lower
  bound, then for the sizes with that count held.

The model is exact but aggregated. Learners with the same set of choices (a
*pattern*) share integer variables ``u[p, c, b]``: how many learners of
pattern ``p`` take course ``c`` in bar ``b``. For one pattern the counts form a
bipartite multigraph courses × bars whose degrees are at most the pattern's
size ``m``; by Kőnig's theorem its edges split into ``m`` matchings, one per
learner (a learner: at most one section per course, at most one course per
bar). `_edge_colouring` does that split, so every aggregated solution is an
individual one with the same counts.

`bars_to_slots` places the bars into the week's grid, and `verify` recounts
everything from a result without trusting the solver. `synthetic_problem`
builds instances from the demo seed (`core.seed`). docs/timetable-bars.md has
the whole formulation and the measured results.
"""

from __future__ import annotations

import datetime
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from random import Random
from typing import Literal

import msgspec
from ortools.sat.python import cp_model

from scheduling.model import Slot

__all__ = [
    "BarSlots",
    "BarsCheck",
    "BarsProblem",
    "BarsResult",
    "Course",
    "Learner",
    "Section",
    "UpperSchool",
    "bars_to_slots",
    "city_upper_secondary",
    "solve_bars",
    "synthetic_problem",
    "verify",
    "verify_slots",
]


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# --- the problem ------------------------------------------------------------------------


class Course(_Struct, frozen=True):
    """A course offered in the period (e.g. "MAA5")."""

    id: str
    subject: str = ""
    #: largest section of this course; `None`: the problem's `max_size`
    max_size: int | None = None


class Section(_Struct, frozen=True):
    """One teaching group of a course (e.g. "MAA5.2"), with its teacher."""

    id: str
    course: str
    teacher: str | None = None


class Learner(_Struct, frozen=True):
    id: str
    #: ids of the courses chosen for the period
    choices: tuple[str, ...]


class BarsProblem(_Struct, frozen=True):
    courses: tuple[Course, ...]
    sections: tuple[Section, ...]
    learners: tuple[Learner, ...]
    #: number of bars (palkit); every section goes to exactly one
    bars: int = 9
    #: weekly lessons of every bar (for `bars_to_slots`)
    lessons_per_bar: int = 3
    #: sections smaller than this are penalised (soft; never below an even split)
    min_size: int = 12
    #: no section larger than this (hard), unless the course says otherwise
    max_size: int = 35
    #: sections of one course in distinct bars (when there are no more sections
    #: than bars; otherwise at most ceil(sections / bars) per bar)
    spread_sections: bool = True
    name: str = ""


# --- the result -------------------------------------------------------------------------


class BarsResult(_Struct, frozen=True):
    #: "optimal": no arrangement leaves fewer unresolved choices (proved);
    #: "feasible": `lower_bound` is below the count found
    status: str
    #: how the unresolved count was reached: "search" (stage A's local search
    #: reached the lower bound), "full" (one CP-SAT model of sections and
    #: learners) or "decomposed" (stage A's bars, learners by CP-SAT); see
    #: `solve_bars`
    method: str
    #: section id -> bar index
    section_bar: dict[str, int]
    #: learner id -> course id -> section id (resolved choices only)
    enrolment: dict[str, dict[str, str]]
    #: learner id -> chosen courses without a section (learners with none left out)
    unresolved: dict[str, tuple[str, ...]]
    #: section id -> number of learners
    section_sizes: dict[str, int]
    choices: int
    unresolved_choices: int
    #: proved lower bound on unresolved choices (equal to it when optimal)
    lower_bound: int
    #: sum over (course, bar) of the distance of its learners from an even split
    #: of the course's choosers over its sections
    imbalance: int
    #: the size stage proved `imbalance` minimal for these bars and this count
    balanced: bool
    #: unresolved choices of the plain greedy start, and after the local search
    greedy_unresolved: int
    search_unresolved: int
    #: seconds until stage A (greedy starts and local search) was done
    search_s: float
    wall_s: float
    #: distinct sets of choices (learners with the same set share variables)
    patterns: int = 0


class BarsCheck(_Struct, frozen=True):
    """What `verify` recounted from a result."""

    unresolved_choices: int
    #: enrolments in a section of a course the learner did not choose, or of another course
    wrong_sections: int
    #: sections over their maximum size
    over_capacity: int
    #: sections under min(min_size, even split) (soft)
    under_min: int
    #: pairs of one teacher's sections in one bar
    teacher_clashes: int
    #: pairs of one learner's sections in one bar
    learner_clashes: int
    #: sections without a bar or with a bar out of range
    unplaced: int
    #: the result's own counts disagree with the recount
    mismatches: tuple[str, ...]
    smallest: int
    largest: int

    @property
    def ok(self) -> bool:
        """No hard rule broken and the result's counts are right."""
        return not (
            self.wrong_sections
            or self.over_capacity
            or self.teacher_clashes
            or self.learner_clashes
            or self.unplaced
            or self.mismatches
        )


# --- indexing and validation ------------------------------------------------------------


class _Index:
    """The problem by integer index, validated."""

    def __init__(self, problem: BarsProblem) -> None:
        p = problem
        if p.bars < 1:
            raise ValueError("at least one bar is needed")
        self.courses = sorted(c.id for c in p.courses)
        if len(set(self.courses)) != len(self.courses):
            raise ValueError("duplicate course ids")
        self.course_of = {c: i for i, c in enumerate(self.courses)}
        by_id = {c.id: c for c in p.courses}
        self.max_size = [by_id[c].max_size or p.max_size for c in self.courses]
        self.sections = sorted(p.sections, key=lambda s: s.id)
        if len({s.id for s in self.sections}) != len(self.sections):
            raise ValueError("duplicate section ids")
        self.sections_of: list[list[int]] = [[] for _ in self.courses]
        for i, sec in enumerate(self.sections):
            if sec.course not in self.course_of:
                raise ValueError(f"section {sec.id} of unknown course {sec.course}")
            self.sections_of[self.course_of[sec.course]].append(i)
        #: per section, the index of its course
        self.section_course = [self.course_of[sec.course] for sec in self.sections]
        self.by_teacher: dict[str, list[int]] = defaultdict(list)
        for i, sec in enumerate(self.sections):
            if sec.teacher is not None:
                self.by_teacher[sec.teacher].append(i)
        for teacher, sections in self.by_teacher.items():
            if len(sections) > p.bars:
                raise ValueError(f"teacher {teacher} has {len(sections)} sections, {p.bars} bars")
        self.learners = sorted(p.learners, key=lambda learner: learner.id)
        if len({learner.id for learner in self.learners}) != len(self.learners):
            raise ValueError("duplicate learner ids")
        self.choosers = [0] * len(self.courses)
        patterns: dict[tuple[int, ...], list[int]] = {}
        for li, learner in enumerate(self.learners):
            chosen = sorted({self.course_of.get(c, -1) for c in learner.choices})
            if len(chosen) != len(learner.choices):
                raise ValueError(f"learner {learner.id}: repeated choice")
            if chosen and chosen[0] < 0:
                raise ValueError(f"learner {learner.id} chose an unknown course")
            for c in chosen:
                if not self.sections_of[c]:
                    raise ValueError(f"course {self.courses[c]} is chosen but has no sections")
                self.choosers[c] += 1
            patterns.setdefault(tuple(chosen), []).append(li)
        #: (courses, learner indexes) by pattern, the largest first
        self.patterns = sorted(patterns.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        #: per learner, the indexes of their chosen courses
        self.chosen: list[tuple[int, ...]] = [()] * len(self.learners)
        for pattern, members in self.patterns:
            for li in members:
                self.chosen[li] = pattern
        self.choices = sum(self.choosers)
        bars = p.bars
        #: most sections of a course in one bar
        self.per_bar = [
            (math.ceil(len(ss) / bars) if p.spread_sections else len(ss)) or 1
            for ss in self.sections_of
        ]
        #: even split of the choosers over the sections: (floor, ceil)
        self.even = [
            (n // len(ss), -(-n // len(ss))) if ss else (0, 0)
            for n, ss in zip(self.choosers, self.sections_of, strict=True)
        ]
        self.min_size = [min(p.min_size, lo) for lo, _ in self.even]
        co: dict[tuple[int, int], int] = defaultdict(int)
        for pattern, members in self.patterns:
            for i, a in enumerate(pattern):
                for b in pattern[i + 1 :]:
                    co[a, b] += len(members)
        #: course -> [(other course, learners choosing both)]
        self.co_chosen: list[list[tuple[int, int]]] = [[] for _ in self.courses]
        for (a, b), n in sorted(co.items()):
            self.co_chosen[a].append((b, n))
            self.co_chosen[b].append((a, n))
        #: the course whose sections are fixed to bars 0, 1, ... (bar symmetry)
        fixable = [c for c, ss in enumerate(self.sections_of) if ss and len(ss) <= bars]
        self.anchor = (
            min(fixable, key=lambda c: (-len(self.sections_of[c]), -self.choosers[c], c))
            if p.spread_sections and fixable
            else None
        )
        #: runs of interchangeable sections (same course, same teacher), in id order
        self.twins: list[list[int]] = []
        for c, ss in enumerate(self.sections_of):
            if c == self.anchor:
                continue
            groups: dict[str | None, list[int]] = defaultdict(list)
            for s in ss:
                groups[self.sections[s].teacher].append(s)
            self.twins.extend(g for g in groups.values() if len(g) > 1)


# --- stage A: sections into bars, by greedy starts and local search ------------------------


def _greedy_bars(ix: _Index, bars: int, rng: Random | None = None) -> list[int] | None:
    """Sections to bars one course at a time, the ones with most sections first,
    each section to the bar where the courses chosen together with its course
    have least of their sections: a co-chosen course `o` with `k` sections of
    which `j` are in the bar costs `(learners choosing both) * (j / k) ** 3` (a
    one-section course in the bar is a certain clash; one of several sections
    hardly matters). `rng` breaks ties at random. `None` when teachers leave a
    section nowhere to go."""
    n_c = len(ix.courses)
    count = [[0] * bars for _ in range(n_c)]
    teacher_bars: dict[str, set[int]] = defaultdict(set)
    in_bar = [0] * bars
    bar_of = [-1] * len(ix.sections)

    def place(s: int, b: int) -> None:
        c = ix.section_course[s]
        bar_of[s] = b
        count[c][b] += 1
        in_bar[b] += 1
        teacher = ix.sections[s].teacher
        if teacher is not None:
            teacher_bars[teacher].add(b)

    if ix.anchor is not None:
        for b, s in enumerate(ix.sections_of[ix.anchor]):
            place(s, b)
    order = sorted(
        (c for c in range(n_c) if c != ix.anchor),
        key=lambda c: (-len(ix.sections_of[c]), -ix.choosers[c], c),
    )
    for c in order:
        for s in ix.sections_of[c]:
            teacher = ix.sections[s].teacher
            taken = teacher_bars[teacher] if teacher is not None else set()
            free = [b for b in range(bars) if b not in taken]
            if not free:
                return None
            spread = [b for b in free if count[c][b] < ix.per_bar[c]]

            def cost(b: int, c: int = c) -> tuple[float, int, int]:
                clash = sum(
                    n * (count[o][b] / len(ix.sections_of[o])) ** 3
                    for o, n in ix.co_chosen[c]
                    if count[o][b]
                )
                noise = rng.random() * 1e-3 if rng is not None else 0.0
                return (clash + noise, in_bar[b], b)

            place(s, min(spread or free, key=cost))
    return bar_of


def _greedy_learners(ix: _Index, bars: int, bar_of: Sequence[int]) -> list[dict[int, int]]:
    """Per learner (index order of `ix.learners`): course -> bar. Learners with
    least room to move first, each by a maximum matching of their courses to
    the bars where the course has a section with room left, preferring the bar
    with most room."""
    room = [[0] * bars for _ in ix.courses]
    for s, b in enumerate(bar_of):
        c = ix.section_course[s]
        room[c][b] += ix.max_size[c]
    spots = [sum(1 for r in row if r) for row in room]
    order = sorted(
        range(len(ix.learners)),
        key=lambda li: (sum(spots[c] for c in ix.chosen[li]) - len(ix.chosen[li]), li),
    )
    taken: list[dict[int, int]] = [{} for _ in ix.learners]
    for li in order:
        chosen = ix.chosen[li]
        options = {c: [b for b in range(bars) if room[c][b] > 0] for c in chosen}
        course_at: dict[int, int] = {}

        def augment(c: int, seen: set[int], options: dict[int, list[int]] = options,
                    course_at: dict[int, int] = course_at) -> bool:  # fmt: skip
            for b in sorted(options[c], key=lambda b: (-room[c][b], b)):
                if b in seen:
                    continue
                seen.add(b)
                if b not in course_at or augment(course_at[b], seen):
                    course_at[b] = c
                    return True
            return False

        for c in sorted(chosen, key=lambda c: (len(options[c]), c)):
            augment(c, set())
        for b, c in course_at.items():
            room[c][b] -= 1
            taken[li][c] = b
    return taken


def _score(
    ix: _Index, bars: int, bar_of: Sequence[int]
) -> tuple[tuple[int, int], list[dict[int, int]]]:
    """(unresolved choices, imbalance) of the greedy learners on these bars."""
    taken = _greedy_learners(ix, bars, bar_of)
    load: dict[tuple[int, int], int] = defaultdict(int)
    for t in taken:
        for c, b in t.items():
            load[c, b] += 1
    n: dict[tuple[int, int], int] = defaultdict(int)
    for s, b in enumerate(bar_of):
        n[ix.section_course[s], b] += 1
    imbalance = 0
    for (c, b), k in n.items():
        lo, hi = ix.even[c]
        imbalance += max(0, load[c, b] - hi * k, lo * k - load[c, b])
    return (ix.choices - sum(len(t) for t in taken), imbalance), taken


def _move(ix: _Index, bars: int, bar_of: Sequence[int], s: int, target: int) -> list[int] | None:
    """`bar_of` with section `s` moved to bar `target`, swapping with the section
    that would clash there (same teacher, or a course already spread into the
    bar); `None` when that breaks a rule."""
    here = bar_of[s]
    if target == here:
        return None
    c = ix.section_course[s]
    teacher = ix.sections[s].teacher
    in_target = [t for t, b in enumerate(bar_of) if b == target]
    blockers = {
        t for t in in_target
        if (teacher is not None and ix.sections[t].teacher == teacher)
    }  # fmt: skip
    same_course = [t for t in in_target if ix.section_course[t] == c]
    if len(same_course) >= ix.per_bar[c]:
        blockers.add(same_course[0])
    out = list(bar_of)
    out[s] = target
    if not blockers:
        return out
    if len(blockers) > 1:
        return None
    [t] = blockers
    tc, tt = ix.section_course[t], ix.sections[t].teacher
    in_here = [u for u, b in enumerate(bar_of) if b == here and u != s]
    if tt is not None and any(ix.sections[u].teacher == tt for u in in_here):
        return None
    if tc != c and sum(1 for u in in_here if ix.section_course[u] == tc) >= ix.per_bar[tc]:
        return None
    out[t] = here
    return out


def _search_bars(
    ix: _Index, bars: int, rng: Random, deadline: float, starts: int, evaluations: int,
    floor: int,
) -> tuple[list[int] | None, tuple[int, int], tuple[int, int]]:  # fmt: skip
    """Stage A: `starts` greedy starts (the first without noise), then local
    search from the best: pick an unresolved choice, try moving (or swapping)
    a few of that learner's sections to other bars (half of the tries: a
    section of the missing course into a bar where the learner is free), keep
    the best try unless it is worse. Stops at `floor` unresolved, the deadline
    or the budgets. Returns the bars, their score and the plain greedy's score."""
    best: list[int] | None = None
    best_score = (ix.choices + 1, 0)
    first_score = best_score
    best_taken: list[dict[int, int]] = []
    for i in range(starts):
        cand = _greedy_bars(ix, bars, None if i == 0 else rng)
        if cand is None:
            break
        score, taken = _score(ix, bars, cand)
        if i == 0:
            first_score = score
        if score < best_score:
            best, best_score, best_taken = cand, score, taken
        if best_score[0] <= floor or time.perf_counter() > deadline:
            break
    if best is None:
        return None, best_score, first_score
    used = 0
    while used < evaluations and best_score[0] > floor and time.perf_counter() < deadline:
        missing = [(li, c) for li, t in enumerate(best_taken) for c in ix.chosen[li] if c not in t]
        li, short = missing[rng.randrange(len(missing))]
        mine = [s for c in ix.chosen[li] for s in ix.sections_of[c]]
        weights = [1.0 / len(ix.sections_of[ix.section_course[s]]) for s in mine]
        idle = [b for b in range(bars) if b not in best_taken[li].values()]
        tries: list[tuple[tuple[int, int], list[int], list[dict[int, int]]]] = []
        for _ in range(4):
            if idle and rng.random() < 0.5:
                # A section of the missing course into a bar where the learner is free.
                s = rng.choice(ix.sections_of[short])
                target = rng.choice(idle)
            else:
                [s] = rng.choices(mine, weights=weights)
                target = rng.randrange(bars)
            cand = _move(ix, bars, best, s, target)
            if cand is None:
                continue
            score, taken = _score(ix, bars, cand)
            used += 1
            tries.append((score, cand, taken))
        if tries:
            score, cand, taken = min(tries, key=lambda t: t[0])
            if score <= best_score:
                best, best_score, best_taken = cand, score, taken
    return best, best_score, first_score


def _rebalance(
    ix: _Index, bars: int, bar_of: Sequence[int], taken: list[dict[int, int]], deadline: float
) -> int:
    """Even out the sizes of a learner assignment in place, by single-learner
    moves: a course to another bar where it has a section and the learner is
    free, or two of the learner's courses trading bars. A move is kept when it
    lowers the size penalty (distance from the even split, plus 10 per learner
    under the minimum); sweeps until none does. Returns the moves made."""
    n = [[0] * bars for _ in ix.courses]
    for s, b in enumerate(bar_of):
        n[ix.section_course[s]][b] += 1
    load = [[0] * bars for _ in ix.courses]
    for t in taken:
        for c, b in t.items():
            load[c][b] += 1

    def penalty(c: int, b: int, size: int) -> int:
        lo, hi = ix.even[c]
        k = n[c][b]
        return max(0, size - hi * k, lo * k - size) + 10 * max(0, ix.min_size[c] * k - size)

    def delta(c: int, b: int, change: int) -> int | None:
        size = load[c][b] + change
        if size > ix.max_size[c] * n[c][b]:
            return None
        return penalty(c, b, size) - penalty(c, b, load[c][b])

    bars_of = [[b for b in range(bars) if n[c][b]] for c in range(len(ix.courses))]
    moves = 0
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for t in taken:
            used = {b: c for c, b in t.items()}
            for c, b in list(t.items()):
                if t.get(c) != b:
                    continue
                out = delta(c, b, -1)
                assert out is not None
                best: tuple[int, int, int | None] | None = None  # gain, to bar, other course
                for b2 in bars_of[c]:
                    if b2 == b:
                        continue
                    into = delta(c, b2, 1)
                    if into is None:
                        continue
                    d = used.get(b2)
                    gain = -(out + into)
                    if d is not None:  # trade bars with the learner's course d
                        if not n[d][b]:
                            continue
                        d_out, d_in = delta(d, b2, -1), delta(d, b, 1)
                        if d_out is None or d_in is None:
                            continue
                        gain -= d_out + d_in
                    if gain > 0 and (best is None or gain > best[0]):
                        best = (gain, b2, d)
                if best is None:
                    continue
                _, b2, d = best
                load[c][b] -= 1
                load[c][b2] += 1
                t[c] = b2
                del used[b]
                if d is not None:
                    load[d][b2] -= 1
                    load[d][b] += 1
                    t[d] = b
                    used[b] = d
                used[b2] = c
                moves += 1
                improved = True
    return moves


def _canonical(ix: _Index, bars: int, bar_of: Sequence[int]) -> list[int]:
    """The same arrangement with bars renumbered so that the anchor course's
    sections are in bars 0, 1, ... and interchangeable sections in bar order
    (what the full model's symmetry breaking asks)."""
    perm: dict[int, int] = {}
    if ix.anchor is not None:
        for i, s in enumerate(ix.sections_of[ix.anchor]):
            perm[bar_of[s]] = i
    rest = iter(i for i in range(bars) if i not in perm.values())
    for b in range(bars):
        if b not in perm:
            perm[b] = next(rest)
    out = [perm[b] for b in bar_of]
    for twins in ix.twins:
        for s, b in zip(twins, sorted(out[s] for s in twins), strict=True):
            out[s] = b
    return out


# --- the split of a pattern's counts into learners ----------------------------------------


def _edge_colouring(counts: dict[tuple[int, int], int], colours: int) -> list[dict[int, int]]:
    """A bipartite multigraph (left, right) -> multiplicity with every degree at
    most `colours`, split into `colours` matchings (Kőnig): per colour, left -> right."""
    at_left: dict[int, dict[int, int]] = defaultdict(dict)  # left -> colour -> right
    at_right: dict[int, dict[int, int]] = defaultdict(dict)  # right -> colour -> left

    def free(at: dict[int, int]) -> int:
        return next(k for k in range(colours) if k not in at)

    for (left, right), n in sorted(counts.items()):
        for _ in range(n):
            alpha = free(at_left[left])
            if alpha in at_right[right]:
                beta = free(at_right[right])
                # The alpha/beta path from `right`: swap its colours, freeing alpha there.
                path: list[tuple[int, int, int]] = []  # (left, right, colour)
                r, colour = right, alpha
                while True:
                    lft = at_right[r].get(colour)
                    if lft is None:
                        break
                    path.append((lft, r, colour))
                    other = beta if colour == alpha else alpha
                    nxt = at_left[lft].get(other)
                    if nxt is None:
                        break
                    path.append((lft, nxt, other))
                    r = nxt
                for lft, r, k in path:
                    del at_left[lft][k]
                    del at_right[r][k]
                for lft, r, k in path:
                    k2 = beta if k == alpha else alpha
                    at_left[lft][k2] = r
                    at_right[r][k2] = lft
            at_left[left][alpha] = right
            at_right[right][alpha] = left
    out: list[dict[int, int]] = [{} for _ in range(colours)]
    for left, by_colour in at_left.items():
        for k, right in by_colour.items():
            out[k][left] = right
    return out


# --- the CP-SAT model ---------------------------------------------------------------------


class _Model:
    """The aggregated CP-SAT model: with `fixed` (section -> bar) the learners
    only (stage B of the decomposition), else sections and learners together."""

    def __init__(self, ix: _Index, bars: int, fixed: Sequence[int] | None = None) -> None:
        self.ix = ix
        self.bars = bars
        self.fixed = fixed
        m = self.model = cp_model.CpModel()
        B = range(bars)
        #: sections of course c in bar b (a constant when fixed)
        self.n: list[list[cp_model.LinearExpr | int]] = []
        self.x: list[list[cp_model.IntVar]] = []
        if fixed is not None:
            counts = [[0] * bars for _ in ix.courses]
            for s, b in enumerate(fixed):
                counts[ix.section_course[s]][b] += 1
            self.n = [list(row) for row in counts]
        else:
            self._sections(m, B)
        # Learners, by pattern: u[p][(c, b)] of them take course c in bar b.
        self.u: list[dict[tuple[int, int], cp_model.IntVar]] = []
        load: list[list[list[cp_model.IntVar]]] = [[[] for _ in B] for _ in ix.courses]
        resolved: list[cp_model.IntVar] = []
        for p, (chosen, members) in enumerate(ix.patterns):
            size = len(members)
            vars_: dict[tuple[int, int], cp_model.IntVar] = {}
            for c in chosen:
                top = min(size, ix.max_size[c] * ix.per_bar[c])
                for b in B:
                    nb = self.n[c][b]
                    if isinstance(nb, int) and nb == 0:
                        continue
                    v = m.new_int_var(0, min(top, ix.max_size[c] * nb) if isinstance(nb, int)
                                      else top, f"u{p}_{c}_{b}")  # fmt: skip
                    vars_[c, b] = v
                    load[c][b].append(v)
                    if not isinstance(nb, int):
                        m.add(v <= top * nb)
                mine = [v for (cc, _), v in vars_.items() if cc == c]
                if len(mine) > 1:
                    m.add(cp_model.LinearExpr.sum(mine) <= size)
                resolved.extend(mine)
            for b in B:
                here = [v for (_, bb), v in vars_.items() if bb == b]
                if len(here) > 1:
                    m.add(cp_model.LinearExpr.sum(here) <= size)
            self.u.append(vars_)
        self.load: list[list[cp_model.LinearExpr]] = []
        for c, rows in enumerate(load):
            self.load.append([])
            for b in B:
                expr = cp_model.LinearExpr.sum(rows[b])
                self.load[c].append(expr)
                if rows[b]:
                    m.add(expr <= ix.max_size[c] * self.n[c][b])
        self.resolved = cp_model.LinearExpr.sum(resolved)
        self._sizes(m, B)

    def _sections(self, m: cp_model.CpModel, B: range) -> None:
        ix = self.ix
        self.x = [[m.new_bool_var(f"x{s}_{b}") for b in B] for s in range(len(ix.sections))]
        for options in self.x:
            m.add_exactly_one(options)
        for sections in ix.by_teacher.values():
            if len(sections) > 1:
                for b in B:
                    m.add_at_most_one(self.x[s][b] for s in sections)
        for c, ss in enumerate(ix.sections_of):
            in_bar: list[cp_model.LinearExpr | int] = []
            for b in B:
                if len(ss) == 1:
                    in_bar.append(self.x[ss[0]][b])
                    continue
                total = cp_model.LinearExpr.sum([self.x[s][b] for s in ss])
                in_bar.append(total)
                if ix.per_bar[c] == 1:
                    m.add_at_most_one(self.x[s][b] for s in ss)
                elif ix.per_bar[c] < len(ss):
                    m.add(total <= ix.per_bar[c])
            self.n.append(in_bar)
        # Symmetry: bars are interchangeable (the anchor course's sections go
        # to bars 0, 1, ...), and so are sections of one course with one teacher.
        if ix.anchor is not None:
            for b, s in enumerate(ix.sections_of[ix.anchor]):
                m.add(self.x[s][b] == 1)
        for twins in ix.twins:
            c = ix.section_course[twins[0]]
            pos = [cp_model.LinearExpr.weighted_sum(self.x[s], list(B)) for s in twins]
            for a, z in itertools.pairwise(pos):
                m.add(a < z if ix.per_bar[c] == 1 else a <= z)

    def _sizes(self, m: cp_model.CpModel, B: range) -> None:
        """Distance from the even split, and shortfall under the minimum, per
        (course, bar); used by the size stage."""
        ix = self.ix
        dev_all: list[cp_model.IntVar] = []
        short_all: list[cp_model.IntVar] = []
        self.dev: dict[tuple[int, int], cp_model.IntVar] = {}
        self.short: dict[tuple[int, int], cp_model.IntVar] = {}
        for c in range(len(ix.courses)):
            lo, hi = ix.even[c]
            top = ix.max_size[c] * ix.per_bar[c]
            for b in B:
                nb = self.n[c][b]
                if isinstance(nb, int) and nb == 0:
                    continue
                dev = m.new_int_var(0, top, f"dev{c}_{b}")
                m.add(dev >= self.load[c][b] - hi * nb)
                m.add(dev >= lo * nb - self.load[c][b])
                short = m.new_int_var(0, ix.min_size[c] * ix.per_bar[c], f"short{c}_{b}")
                m.add(short >= ix.min_size[c] * nb - self.load[c][b])
                self.dev[c, b] = dev
                self.short[c, b] = short
                dev_all.append(dev)
                short_all.append(short)
        self.imbalance = cp_model.LinearExpr.sum(dev_all)
        self.shortfall = cp_model.LinearExpr.sum(short_all)

    def hint(self, bar_of: Sequence[int], counts: Sequence[dict[tuple[int, int], int]]) -> None:
        m = self.model
        m.clear_hints()  # type: ignore[no-untyped-call]
        for s, row in enumerate(self.x):
            for b, v in enumerate(row):
                m.add_hint(v, bar_of[s] == b)
        for vars_, pattern_counts in zip(self.u, counts, strict=True):
            for key, v in vars_.items():
                m.add_hint(v, pattern_counts.get(key, 0))
        n: dict[tuple[int, int], int] = defaultdict(int)
        for s, b in enumerate(bar_of):
            n[self.ix.section_course[s], b] += 1
        load: dict[tuple[int, int], int] = defaultdict(int)
        for pattern_counts in counts:
            for key, k in pattern_counts.items():
                load[key] += k
        for (c, b), dev in self.dev.items():
            lo, hi = self.ix.even[c]
            nn, ld = n[c, b], load[c, b]
            m.add_hint(dev, max(0, ld - hi * nn, lo * nn - ld))
            m.add_hint(self.short[c, b], max(0, self.ix.min_size[c] * nn - ld))

    def solution(
        self, solver: cp_model.CpSolver
    ) -> tuple[list[int], list[dict[tuple[int, int], int]]]:
        if self.fixed is not None:
            bar_of = list(self.fixed)
        else:
            bar_of = [
                next(b for b, v in enumerate(row) if solver.boolean_value(v)) for row in self.x
            ]
        counts = [
            {key: k for key, v in vars_.items() if (k := solver.value(v))} for vars_ in self.u
        ]
        return bar_of, counts


def _counts_of(ix: _Index, taken: Sequence[dict[int, int]]) -> list[dict[tuple[int, int], int]]:
    counts: list[dict[tuple[int, int], int]] = []
    for _, members in ix.patterns:
        pc: dict[tuple[int, int], int] = defaultdict(int)
        for li in members:
            for c, b in taken[li].items():
                pc[c, b] += 1
        counts.append(dict(pc))
    return counts


#: `method="auto"` solves with the full model when it has at most this many
#: learner variables (sum over patterns of choices × bars)
FULL_MODEL_LIMIT = 6000


def solve_bars(
    problem: BarsProblem,
    *,
    time_limit_s: float = 20.0,
    seed: int = 0,
    workers: int = 1,
    method: Literal["auto", "full", "decomposed"] = "auto",
    log: bool = False,
) -> BarsResult:
    """Sections to bars and learners to sections: fewest unresolved choices
    first, then the most even section sizes with that count held.

    Stage A places the sections by greedy starts and local search (up to 60 %
    of the time; a fifth before the full model) and the learners greedily, then
    evens out the sizes by single-learner moves. If that reaches the lower bound
    (usually zero unresolved), only the sizes remain: CP-SAT balances them
    with the bars fixed (`method` "search" in the result). Otherwise:
    `method="full"` solves one CP-SAT model of sections and learners, started
    from stage A (exact; proves optimality on small problems);
    `method="decomposed"` keeps stage A's bars and assigns the learners with
    CP-SAT, fewest unresolved then sizes. `"auto"`: full when the model is
    small (`FULL_MODEL_LIMIT`), else decomposed.

    With `workers=1`, a problem whose stages finish within the time limit
    (the local search reaches its floor, CP-SAT proves its stages) gives the
    same result for the same `seed`. More workers let CP-SAT run its large
    neighbourhood search, which helps the size stage most."""
    started = time.perf_counter()
    ix = _Index(problem)
    bars = problem.bars
    rng = Random(seed)
    size = sum(len(chosen) * bars for chosen, _ in ix.patterns)
    if method not in ("auto", "full", "decomposed"):
        raise ValueError(f"method must be 'auto', 'full' or 'decomposed', not {method!r}")
    #: what runs after stage A: "full", "decomposed" or "search" (nothing)
    used: str = method if method != "auto" else "full" if size <= FULL_MODEL_LIMIT else "decomposed"
    # A learner with more choices than bars leaves the rest unresolved.
    floor = sum(max(0, len(chosen) - bars) * len(m) for chosen, m in ix.patterns)

    share = 0.2 if used == "full" else 0.6
    bar_of, score, first = _search_bars(
        ix, bars, rng, started + share * time_limit_s, starts=24, evaluations=4000, floor=floor
    )
    if bar_of is None and used == "decomposed":
        raise ValueError("the teachers' sections do not fit the bars")
    searched_s = time.perf_counter() - started
    if bar_of is not None and score[0] <= floor:
        used = "search"

    def solver_for(limit: float) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.max_time_in_seconds = max(0.1, limit)
        params.num_workers = workers
        params.random_seed = seed
        params.log_search_progress = log
        # The learners' per-bar and per-course limits into the LP: with them it
        # proves a fixed arrangement's optimum in seconds, without it does not.
        params.linearization_level = 2
        return solver

    counts: list[dict[tuple[int, int], int]] | None = None
    if bar_of is not None:
        if used == "full":
            bar_of = _canonical(ix, bars, bar_of)
        taken = _greedy_learners(ix, bars, bar_of)
        _rebalance(ix, bars, bar_of, taken, time.perf_counter() + 0.1 * time_limit_s)
        counts = _counts_of(ix, taken)
    model = _Model(ix, bars, None if used == "full" else bar_of)
    model.model.add(model.resolved <= ix.choices - floor)
    bound = floor
    if used != "search":
        # Stage 1: as many resolved choices as possible.
        if bar_of is not None and counts is not None:
            model.hint(bar_of, counts)
        model.model.maximize(model.resolved)
        left = time_limit_s - (time.perf_counter() - started)
        solver = solver_for(0.7 * left)
        status = solver.solve(model.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found, found_counts = model.solution(solver)
            if bar_of is None or counts is None or _resolved(found_counts) > _resolved(counts):
                bar_of, counts = found, found_counts
            if used == "full":
                bound = max(floor, ix.choices - math.floor(solver.best_objective_bound + 1e-6))
        elif status == cp_model.INFEASIBLE:
            raise ValueError("no arrangement of the sections into bars respects the teachers")
        if bar_of is None or counts is None:
            raise RuntimeError("no arrangement found in time")

    # Stage 2: sizes, with the resolved count held (nothing to do when the
    # sizes are already as even as the split allows).
    assert bar_of is not None and counts is not None
    balanced = _size_penalty(ix, bar_of, counts) == 0
    if not balanced:
        model.model.add(model.resolved >= _resolved(counts))
        model.model.minimize(10 * model.shortfall + model.imbalance)
        model.hint(bar_of, counts)
        left = time_limit_s - (time.perf_counter() - started)
        solver = solver_for(left)
        status = solver.solve(model.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found, found_counts = model.solution(solver)
            if _size_penalty(ix, found, found_counts) <= _size_penalty(ix, bar_of, counts):
                bar_of, counts = found, found_counts
        balanced = status == cp_model.OPTIMAL
    return _result(
        ix, bar_of, counts, method=used, bound=bound, balanced=balanced,
        greedy=first[0], searched=score[0], searched_s=searched_s, started=started,
    )  # fmt: skip


def _size_penalty(
    ix: _Index, bar_of: Sequence[int], counts: Sequence[dict[tuple[int, int], int]]
) -> int:
    """The size stage's objective: 10 × shortfall under the minimum + imbalance."""
    n: dict[tuple[int, int], int] = defaultdict(int)
    for s, b in enumerate(bar_of):
        n[ix.section_course[s], b] += 1
    load: dict[tuple[int, int], int] = defaultdict(int)
    for pattern_counts in counts:
        for key, k in pattern_counts.items():
            load[key] += k
    total = 0
    for (c, b), k in n.items():
        lo, hi = ix.even[c]
        size = load[c, b]
        total += max(0, size - hi * k, lo * k - size) + 10 * max(0, ix.min_size[c] * k - size)
    return total


def _resolved(counts: Sequence[dict[tuple[int, int], int]]) -> int:
    return sum(sum(pc.values()) for pc in counts)


def _result(
    ix: _Index,
    bar_of: Sequence[int],
    counts: Sequence[dict[tuple[int, int], int]],
    *,
    method: str,
    bound: int,
    balanced: bool,
    greedy: int,
    searched: int,
    searched_s: float,
    started: float,
) -> BarsResult:
    """Learners from the pattern counts, then into the sections of their bar."""
    in_bar: dict[tuple[int, int], list[int]] = defaultdict(list)  # (course, bar) -> sections
    for s, b in enumerate(bar_of):
        in_bar[ix.section_course[s], b].append(s)
    queue: dict[tuple[int, int], list[int]] = defaultdict(list)  # (course, bar) -> learners
    taken: list[dict[int, int]] = [{} for _ in ix.learners]
    for (_, members), pattern_counts in zip(ix.patterns, counts, strict=True):
        for li, matching in zip(members, _edge_colouring(pattern_counts, len(members)),
                                strict=True):  # fmt: skip
            for c, b in matching.items():
                taken[li][c] = b
                queue[c, b].append(li)
    section_of: list[dict[int, int]] = [{} for _ in ix.learners]
    sizes = [0] * len(ix.sections)
    for key, learners in queue.items():
        sections = in_bar[key]
        for i, li in enumerate(sorted(learners)):
            s = sections[i % len(sections)]
            section_of[li][key[0]] = s
            sizes[s] += 1
    enrolment: dict[str, dict[str, str]] = {}
    unresolved: dict[str, tuple[str, ...]] = {}
    for li, learner in enumerate(ix.learners):
        enrolment[learner.id] = {
            ix.courses[c]: ix.sections[s].id for c, s in sorted(section_of[li].items())
        }
        missing = tuple(ix.courses[c] for c in ix.chosen[li] if c not in taken[li])
        if missing:
            unresolved[learner.id] = missing
    n_unresolved = sum(len(v) for v in unresolved.values())
    load: dict[tuple[int, int], int] = defaultdict(int)
    for s, b in enumerate(bar_of):
        load[ix.section_course[s], b] += sizes[s]
    imbalance = 0
    for (c, b), sections in in_bar.items():
        lo, hi = ix.even[c]
        k = len(sections)
        imbalance += max(0, load[c, b] - hi * k, lo * k - load[c, b])
    bound = min(bound, n_unresolved)
    return BarsResult(
        status="optimal" if bound == n_unresolved else "feasible",
        method=method,
        section_bar={ix.sections[s].id: b for s, b in enumerate(bar_of)},
        enrolment=enrolment,
        unresolved=unresolved,
        section_sizes={ix.sections[s].id: n for s, n in enumerate(sizes)},
        choices=ix.choices,
        unresolved_choices=n_unresolved,
        lower_bound=bound,
        imbalance=imbalance,
        balanced=balanced,
        greedy_unresolved=greedy,
        search_unresolved=searched,
        search_s=searched_s,
        wall_s=time.perf_counter() - started,
        patterns=len(ix.patterns),
    )


# --- the independent check --------------------------------------------------------------


def verify(problem: BarsProblem, result: BarsResult) -> BarsCheck:
    """Recount a result from the problem alone: unresolved choices, sizes,
    teacher and learner clashes. Shares no code with the solver."""
    sections = {s.id: s for s in problem.sections}
    courses = {c.id: c for c in problem.courses}
    unplaced = sum(
        1 for s in problem.sections
        if not 0 <= result.section_bar.get(s.id, -1) < problem.bars
    )  # fmt: skip
    sizes: dict[str, int] = dict.fromkeys(sections, 0)
    wrong = unresolved = learner_clashes = 0
    for learner in problem.learners:
        got = result.enrolment.get(learner.id, {})
        bars_used: dict[int, int] = defaultdict(int)
        for course, section_id in got.items():
            section = sections.get(section_id)
            if section is None or section.course != course or course not in learner.choices:
                wrong += 1
                continue
            sizes[section_id] += 1
            bars_used[result.section_bar.get(section_id, -1)] += 1
        learner_clashes += sum(k * (k - 1) // 2 for k in bars_used.values())
        unresolved += sum(
            1 for c in learner.choices
            if c not in got or sections.get(got[c]) is None or sections[got[c]].course != c
        )  # fmt: skip
    choosers: dict[str, int] = defaultdict(int)
    for learner in problem.learners:
        for c in learner.choices:
            choosers[c] += 1
    n_sections: dict[str, int] = defaultdict(int)
    for s in problem.sections:
        n_sections[s.course] += 1
    over = under = 0
    for s in problem.sections:
        cap = courses[s.course].max_size or problem.max_size
        over += sizes[s.id] > cap
        floor = min(problem.min_size, choosers[s.course] // n_sections[s.course])
        under += sizes[s.id] < floor
    teacher_clashes = 0
    per_teacher_bar: dict[tuple[str, int], int] = defaultdict(int)
    for s in problem.sections:
        if s.teacher is not None:
            per_teacher_bar[s.teacher, result.section_bar.get(s.id, -1)] += 1
    teacher_clashes = sum(k * (k - 1) // 2 for k in per_teacher_bar.values())
    mismatches: list[str] = []
    listed = sum(len(v) for v in result.unresolved.values())
    if result.unresolved_choices != unresolved or listed != unresolved:
        mismatches.append(
            f"unresolved: result says {result.unresolved_choices} (lists {listed}), "
            f"recount {unresolved}"
        )
    if result.section_sizes != sizes:
        mismatches.append("section sizes differ from the enrolment")
    if result.choices != sum(choosers.values()):
        mismatches.append("number of choices")
    if result.lower_bound > unresolved:
        mismatches.append("lower bound above the unresolved count")
    return BarsCheck(
        unresolved_choices=unresolved,
        wrong_sections=wrong,
        over_capacity=over,
        under_min=under,
        teacher_clashes=teacher_clashes,
        learner_clashes=learner_clashes,
        unplaced=unplaced,
        mismatches=tuple(mismatches),
        smallest=min(sizes.values(), default=0),
        largest=max(sizes.values(), default=0),
    )


# --- bars into the week -----------------------------------------------------------------


class BarSlots(_Struct, frozen=True):
    days: int
    hours: int
    #: per bar, its lessons as (day, hour), in time order
    slots: tuple[tuple[Slot, ...], ...]


def bars_to_slots(
    bars: int,
    lessons_per_bar: int,
    *,
    days: int = 5,
    hours: int = 6,
    unavailable: Iterable[Slot] = (),
    time_limit_s: float = 5.0,
) -> BarSlots:
    """Every bar gets `lessons_per_bar` slots of the week, no slot two bars, at
    most ceil(lessons / days) lessons of a bar on one day (hard), and as few
    lessons of one bar on consecutive days as can be (soft).

    Bars have no other constraints (every learner and teacher of a bar is in
    it for all its lessons), so only the number of lessons per bar and day
    matters: a small CP-SAT model chooses those, then each day's lessons fill
    its free hours from the morning, bars in order."""
    blocked = set(unavailable)
    free = [[h for h in range(hours) if (d, h) not in blocked] for d in range(days)]
    n_free = sum(map(len, free))
    if bars * lessons_per_bar > n_free:
        raise ValueError(f"{bars} bars × {lessons_per_bar} lessons > {n_free} free slots")
    per_day = math.ceil(lessons_per_bar / days)
    m = cp_model.CpModel()
    k = [[m.new_int_var(0, min(per_day, len(free[d])), f"k{b}_{d}") for d in range(days)]
         for b in range(bars)]  # fmt: skip
    for d in range(days):
        m.add(cp_model.LinearExpr.sum([k[b][d] for b in range(bars)]) <= len(free[d]))
    adjacent: list[cp_model.IntVar] = []
    for b in range(bars):
        m.add(cp_model.LinearExpr.sum(k[b]) == lessons_per_bar)
        on = []
        for d in range(days):
            used = m.new_bool_var(f"on{b}_{d}")
            m.add(k[b][d] <= per_day * used)
            m.add(k[b][d] >= used)
            on.append(used)
        for d in range(days - 1):
            both = m.new_bool_var(f"adj{b}_{d}")
            m.add(both >= on[d] + on[d + 1] - 1)
            adjacent.append(both)
    # Bars are interchangeable here: their day patterns in decreasing order.
    codes = [
        cp_model.LinearExpr.weighted_sum(
            k[b], [(per_day + 1) ** (days - 1 - d) for d in range(days)]
        )
        for b in range(bars)
    ]
    for a, z in itertools.pairwise(codes):
        m.add(a >= z)
    m.minimize(cp_model.LinearExpr.sum(adjacent))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise ValueError(f"the bars do not fit the week with at most {per_day} lessons a day")
    slots: list[list[Slot]] = [[] for _ in range(bars)]
    for d in range(days):
        hour = iter(free[d])
        for b in range(bars):
            for _ in range(solver.value(k[b][d])):
                slots[b].append((d, next(hour)))
    return BarSlots(days=days, hours=hours, slots=tuple(tuple(lessons) for lessons in slots))


def verify_slots(placement: BarSlots, bars: int, lessons_per_bar: int) -> list[str]:
    """What is wrong with a placement of bars into the week (empty: nothing)."""
    problems: list[str] = []
    if len(placement.slots) != bars:
        problems.append(f"{len(placement.slots)} bars placed, {bars} wanted")
    seen: dict[Slot, int] = {}
    per_day = math.ceil(lessons_per_bar / placement.days)
    for b, lessons in enumerate(placement.slots):
        if len(lessons) != lessons_per_bar:
            problems.append(f"bar {b}: {len(lessons)} lessons")
        for slot in lessons:
            d, h = slot
            if not (0 <= d < placement.days and 0 <= h < placement.hours):
                problems.append(f"bar {b}: slot {slot} outside the week")
            if slot in seen:
                problems.append(f"bars {seen[slot]} and {b} both at {slot}")
            seen[slot] = b
        for d in {d for d, _ in lessons}:
            if sum(1 for dd, _ in lessons if dd == d) > per_day:
                problems.append(f"bar {b}: more than {per_day} lessons on day {d}")
    return problems


# --- instances from the demo seed -------------------------------------------------------

#: `today` for the demo documents (only birth dates and class names depend on it)
_SEED_DAY = datetime.date(2026, 9, 1)


class UpperSchool(_Struct, frozen=True):
    """An upper secondary school of the city-size demo seed."""

    index: int
    id: str
    name: str
    language: str
    learners: int


#: (course code, subject, learner ids, teacher ids) of one seed teaching group
_SeedGroup = tuple[str, str, tuple[str, ...], tuple[str, ...]]


@lru_cache(maxsize=2)
def _city(seed: int) -> tuple[tuple[UpperSchool, ...], dict[str, tuple[_SeedGroup, ...]]]:
    from core.seed import DEMO_TENANT, generate

    doc = generate(DEMO_TENANT, "city", seed=seed, today=_SEED_DAY)
    groups: dict[str, list[_SeedGroup]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    uppers = [s for s in doc.schools if s.kind == "upper_secondary"]
    upper_ids = {s.id for s in uppers}
    for g in doc.groups:
        if g.school in upper_ids and g.kind == "teaching_group" and g.subject:
            code = g.name.split(".")[0]
            groups[g.school].append((code, g.subject, tuple(g.learners), tuple(g.teachers)))
            members[g.school].update(g.learners)
    schools = tuple(
        UpperSchool(index=i, id=s.id, name=s.name, language=s.language, learners=len(members[s.id]))
        for i, s in enumerate(uppers)
    )
    return schools, {k: tuple(v) for k, v in groups.items()}


def city_upper_secondary(seed: int | None = None) -> list[UpperSchool]:
    """The upper secondary schools of the city-size demo seed."""
    from core.seed import DEFAULT_SEED

    return list(_city(DEFAULT_SEED if seed is None else seed)[0])


def _generated(seed: int, learners: int, language: Literal["fi", "sv"]) -> tuple[_SeedGroup, ...]:
    """A school of `learners` made by the seed's own upper secondary generator."""
    from core.seed import DEMO_TENANT
    from core.seed.schools import _SchoolsBuilder
    from core.seed.spec import _PROFILES

    builder = _SchoolsBuilder(DEMO_TENANT, _PROFILES["city"], seed, _SEED_DAY)
    name = "Kuusikon lukio" if language == "fi" else "Kuusikon gymnasium"
    builder._school(name, "upper_secondary", "sv" if language == "sv" else "fi")
    builder._upper_secondary(0, learners)
    return tuple(
        (g.name.split(".")[0], g.subject, tuple(p.id for p in g.learners),
         tuple(p.id for p in g.teachers))
        for g in builder.groups
        if g.kind == "teaching_group" and g.subject
    )  # fmt: skip


#: popularity of the electives as extra choices, in `_UPPER_ELECTIVE` order
#: (physics, chemistry, biology, geography, history, civics, psychology,
#: philosophy, religion)
_ELECTIVE_POPULARITY = (1.2, 1.0, 1.5, 0.8, 1.4, 1.2, 2.0, 0.6, 0.5)
#: share of a year taking its module of a core subject / mathematics / one of
#: their own two electives in the period
_P_CORE, _P_MATH, _P_OWN_ELECTIVE = 0.7, 0.85, 0.75
#: PE: year 1 (its compulsory module), years 2-3 (an optional shared module)
_P_SPORT = {1: 0.7, 2: 0.1, 3: 0.1}
#: how many courses a learner takes in the period
_PERIOD_LOAD = {5: 1.0, 6: 2.0, 7: 1.0}


def _period_choices(
    seed: int, tag: str, enrolled: dict[str, list[str]]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """One period's choices from the seed's year-long enrolments: each learner
    keeps a core subject with probability 0.7, their mathematics 0.85, each of
    their two electives 0.75, then fills up to 5-7 courses with other electives
    by popularity. Years 2 and 3 share their elective modules (so those years
    mix in them), 1 + learners // 300 modules of a subject at once, each
    learner taking one of them; year 1 has its own module. PE: year 1's module
    with probability 0.7, a shared optional one for years 2-3 with 0.1.
    Returns learner -> course codes and course code -> subject."""
    from core.model import Language
    from core.seed.schools import (
        _UPPER_CORE,
        _UPPER_COURSE_NUMBER,
        _UPPER_ELECTIVE,
        _UPPER_MATH,
        _UPPER_SPORT,
    )

    year_of = {str(n): year for year, n in _UPPER_COURSE_NUMBER.items()}
    rng = Random(f"reppu-bars:{seed}:{tag}")
    #: modules of an elective subject running at once for years 2-3
    modules = 1 + len(enrolled) // 300

    def elective(code: str, year: int) -> str:
        if year == 1:
            return f"{code}{_UPPER_COURSE_NUMBER[1]}"
        return f"{code}{_UPPER_COURSE_NUMBER[2] + rng.randrange(modules)}"

    chosen: dict[str, list[str]] = {}
    subject_of: dict[str, str] = {}
    for learner, codes in sorted(enrolled.items()):
        year = year_of[codes[0][-1]]
        prefixes = {c[:-1] for c in codes}
        lang: Language = "sv" if _UPPER_CORE["sv"][0][0] in prefixes else "fi"
        subjects = dict(
            [*_UPPER_CORE[lang], *_UPPER_MATH[lang], *_UPPER_ELECTIVE[lang], _UPPER_SPORT[lang]]
        )
        own = f"{_UPPER_COURSE_NUMBER[year]}"
        shared = f"{_UPPER_COURSE_NUMBER[min(year, 2)]}"
        picks: list[str] = []
        for code, _ in _UPPER_CORE[lang]:
            if rng.random() < _P_CORE:
                picks.append(code + own)
        for code, _ in _UPPER_MATH[lang]:
            if code in prefixes and rng.random() < _P_MATH:
                picks.append(code + own)
        electives = [code for code, _ in _UPPER_ELECTIVE[lang]]
        for code in electives:
            if code in prefixes and rng.random() < _P_OWN_ELECTIVE:
                picks.append(elective(code, year))
        sport = _UPPER_SPORT[lang][0]
        if rng.random() < _P_SPORT[year]:
            picks.append(sport + shared)
        [target] = rng.choices(list(_PERIOD_LOAD), weights=list(_PERIOD_LOAD.values()))
        pool = {
            code: w
            for code, w in zip(electives, _ELECTIVE_POPULARITY, strict=True)
            if not any(p[:-1] == code for p in picks)
        }
        while len(picks) < target and pool:
            [code] = rng.choices(list(pool), weights=list(pool.values()))
            picks.append(elective(code, year))
            del pool[code]
        chosen[learner] = sorted(picks)
        for code in picks:
            subject_of[code] = subjects[code[:-1]]
    return chosen, subject_of


def synthetic_problem(
    seed: int | None = None,
    *,
    school: int = 0,
    learners: int | None = None,
    language: Literal["fi", "sv"] = "fi",
    choices: Literal["period", "seed"] = "period",
    bars: int = 9,
    target_size: int = 30,
    min_size: int = 12,
    max_size: int = 35,
    lessons_per_bar: int = 3,
) -> BarsProblem:
    """A period's course choices from the demo seed.

    Without `learners`: upper secondary school number `school` of the city-size
    seed (see `city_upper_secondary`), as generated. With `learners`: a school of
    that size made by the seed's upper secondary generator alone (fast; any size).

    `choices="seed"`: every learner's choices are the courses the seed enrols
    them in (year 1: mother tongue, English, the second national language, long
    or short mathematics, two of nine electives and physical education; years
    2-3 the same without PE; course codes carry the year's module number, e.g.
    "MAA5"). Each year then takes the same core courses and only its own
    courses, which makes the instance easy. `choices="period"` (the default)
    derives one period from that (see `_period_choices`): core courses taken by
    about 70 % of a year, electives by few, skewed by popularity and shared by
    years 2 and 3, 5-7 courses per learner.

    Each course gets ceil(choosers / `target_size`) sections; the subject's
    teachers in the seed (one subject each) are dealt its sections round-robin,
    courses in code order (a teacher who would get more sections than there are
    bars passes the rest to a colleague named after them, "<id>+1")."""
    from core.seed import DEFAULT_SEED

    seed = DEFAULT_SEED if seed is None else seed
    if learners is None:
        schools, by_school = _city(seed)
        if not 0 <= school < len(schools):
            raise ValueError(f"the city seed has {len(schools)} upper secondary schools")
        source = schools[school]
        groups = by_school[source.id]
        name = f"{source.name} ({source.learners} learners, seed {seed}, {choices})"
        tag = source.id
    else:
        groups = _generated(seed, learners, language)
        name = f"generated lukio ({learners} learners, {language}, seed {seed}, {choices})"
        tag = f"generated-{learners}-{language}"
    enrolled: dict[str, list[str]] = defaultdict(list)
    subject_of: dict[str, str] = {}
    teachers_of: dict[str, list[str]] = defaultdict(list)  # subject -> teachers, seed order
    for code, subject, members, teachers in sorted(groups):
        for learner in members:
            enrolled[learner].append(code)
        subject_of[code] = subject
        for t in teachers:
            if t not in teachers_of[subject]:
                teachers_of[subject].append(t)
    if choices == "period":
        chosen, subject_of = _period_choices(seed, tag, enrolled)
    elif choices == "seed":
        chosen = {learner: sorted(set(codes)) for learner, codes in enrolled.items()}
    else:
        raise ValueError(f"choices must be 'period' or 'seed', not {choices!r}")
    choosers: dict[str, int] = defaultdict(int)
    for codes in chosen.values():
        for code in codes:
            choosers[code] += 1
    courses: list[Course] = []
    sections: list[Section] = []
    dealt: dict[str, int] = defaultdict(int)
    load: dict[str, int] = defaultdict(int)
    for code in sorted(choosers):
        subject = subject_of[code]
        courses.append(Course(id=code, subject=subject))
        k = math.ceil(choosers[code] / target_size)
        pool = teachers_of[subject] or [f"{subject} teacher"]
        for i in range(1, k + 1):
            teacher = pool[dealt[subject] % len(pool)]
            dealt[subject] += 1
            extra = 0
            while load[teacher if not extra else f"{teacher}+{extra}"] >= bars:
                extra += 1
            teacher = teacher if not extra else f"{teacher}+{extra}"
            load[teacher] += 1
            section_id = code if k == 1 else f"{code}.{i}"
            sections.append(Section(id=section_id, course=code, teacher=teacher))
    return BarsProblem(
        name=name,
        courses=tuple(courses),
        sections=tuple(sections),
        learners=tuple(
            Learner(id=lid, choices=tuple(codes)) for lid, codes in sorted(chosen.items()) if codes
        ),
        bars=bars,
        lessons_per_bar=lessons_per_bar,
        min_size=min_size,
        max_size=max_size,
    )
