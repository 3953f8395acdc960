"""A first timetable by recursive swapping, for schools whose first
timetable CP-SAT does not find.

Some schools fill every hour their classes can take (GYR, Germany: each of
its 645 subgroup classes has exactly as many lessons as reachable slots;
Shipena, Namibia; Collegiate Junior School, South Africa). CP-SAT finds no
first solution of such an exact packing in 300 s, whatever the branching.
FET's generator does, with *recursive swapping* (Lalescu's algorithm, FET's
documentation "the algorithm"). This is our own implementation of that idea,
written from its description, and it is the first-timetable search for the
schools it applies to (`applies`):

* Lessons are placed one at a time, the hardest first (fewest allowed
  starts, then the most resource-hours). A "same starting time" group is
  placed as one unit, and so are lessons one right after the other
  ("consecutive": the next slot of the day that is not a break).
* Each goes to a random start that evicts nothing when there is one.
  Otherwise it tries the starts in order of the least weight evicted (a
  lesson's or same-start group's hours, at most `EVICT_WEIGHT_CAP`), places
  itself there and re-places each evicted lesson the same way, one level
  deeper. A chain that fails is undone. A lesson moved in an attempt is not
  evicted again in it. Chains are bounded: at most `kernel.LEVELS` deep,
  one start per level from `kernel.ONE_TRY_FROM` on, and `SWAP_CALLS`
  placements per attempt.
* When no chain succeeds, the lesson takes a start by force, evicting
  what is there, and moves ahead of the evicted in the order: the order
  learns which lessons are hard. The start is chosen in FET's order: the
  one where the least evicted lesson has been evicted from its place
  fewest times before (FET's "tried removals", a long-term memory against
  cycling), then where they have in all, then the least weight evicted
  (`Construction.fet_order`); otherwise the least weight evicted, each
  earlier eviction adding `swap_kernel.TRIED_WEIGHT`. A lesson evicted so
  cannot return to where it was for `SWAP_TENURE` steps.

It enforces every hard constraint of the schools it applies to:

* no overlap of a subgroup, teacher or room;
* allowed starts (not-available times, breaks, preferred times);
* a room for every lesson that needs one, among its candidates, not while
  the room is closed;
* hard min days between activities; back to back when on one day
  ("consecutive if same day", also for soft min days);
* same starting times; consecutive lessons;
* a teacher's or class's max days a week: a lesson on one more day than
  allowed evicts the lessons of that person's other day with the fewest;
* day rules — gap limits (zero, or above it: see below), early max beginnings, min hours
  on a busy day, max hours a day: a placement may leave a person's days
  needing no more hours (gaps to fill, hours before the first lesson, the
  min hours) than they have left to place; when it leaves more, lessons at
  the ends of their days are evicted (`swap_kernel._day_rules`);
* selections ("these lessons occupy at most k of these slots").

Gap limits above zero are kept only beside the other day rules (zero
gaps, early beginnings, daily hours, selections: `day_rules`). Alone, they
are not looked at: a timetable over them goes to the solver's relaxed
search, which takes the excess to zero (`relaxed_after`; Insight Learning
Centre, South Africa: 8 teachers over their limit, 20 s; with them kept,
not placed in 60 s).

Of the soft constraints only the soft min days are looked at: enforced at
each look with the probability of their weight (as FET reads them when it
places), else preferred, and after `SWAP_RELAX_STEPS` steps a unit only
preferred. A complete timetable in which a lesson breaks more than one pair
of a heavy soft min days (`fet_reading_capped`: FET's reading of the
timetable may not get past it) is repaired (`Construction.cap`): those
lessons are taken off and placed again with that rule enforced; when time
runs out first, the timetable before the repair is the result. Phase 2
(CP-SAT and its neighbourhood search) improves the soft score from this
timetable, after the swapping itself has lowered its broken soft min days
for a while (`Spreads`: a lesson of a broken pair placed again with every
spread enforced).

The inner loop is compiled by numba (`scheduling.swap_kernel`). A run is
deterministic for a seed: the random stream is reseeded per call from the
seed and the step number, and a call is always `SWAP_CHUNK` steps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from scheduling import model as m
from scheduling.solver_compile import (
    FET_READING_BROKEN_MAX,
    NO_ROOM,
    SCALE,
    Compiled,
    CPerson,
    broken_pairs,
    compile_instance,
    fet_reading_capped,
    fixed_room,
    spread_breaks,
)

#: placements tried per attempt to place one lesson, the chain included.
#: GYR's swapping alone, seeds 1–8, with the evicted counted: 100 solved all
#: eight within 200 s (median 79 s, worst 130 s), 200 all eight (median
#: 86 s, worst 186 s), 400 seven (median 115 s); FET's 2 × activities
#: (2,954) was far slower when the evicted were weighed by their hours
SWAP_CALLS = 100
#: steps a lesson evicted by force may not go back to the start it left
SWAP_TENURE = 20
#: steps per compiled call: the stop flag and the time are looked at
#: between calls (about 0.5–1 s on GYR; 5.3 s on the demo school, whose
#: steps cost 26 ms: its 5 s first turn lasts two calls, 10.6 s). Fixed,
#: not sized by time: the kernel's random stream is seeded at each call, so
#: calls sized by time would make a seed's steps depend on the machine
SWAP_CHUNK = 200
#: a soft min-days constraint is enforced at each look with the probability
#: of its weight (95 %: 19 looks in 20), as FET reads it when it places; off,
#: it is only preferred, and FET's own reading of the timetable may fail on
#: it (Collegiate Junior School: all of its min days are 95 %). Shipena (its
#: 309 min days 99.5 %): placed in 3 s of swapping instead of about 20 s.
SOFT_MIN_DAYS_AS_FET = True
#: steps per unit (lesson or same-start group) after which the soft min
#: days are only preferred (`Construction.relax`), for a school whose
#: spreads the swapping cannot keep; counted in steps, not seconds, so that
#: a seed gives the same timetable on any machine. Shipena is placed in 1.2
#: steps a unit. Collegiate Junior School (883 units, 245 spreads at 95 %)
#: is placed after the relaxing, and FET's own reading of its timetable
#: fails. Not kept: 30 steps a unit, with which Collegiate is placed with
#: its spreads kept (10,686 / 25,044 / 10,308 steps, seeds 1–3) and FET's
#: reading accepted seed 1's timetable (soft 72.20, FET's own 104.50) but
#: not seed 3's, and GYR's seed 2 (3 spreads at 90 %) found nothing in
#: 270 s (74 s with 5)
SWAP_RELAX_STEPS = 5

#: what evicting a unit weighs when starts are compared (`_swap`, and the
#: forced placement): its lesson-hours, but at most this many. Measured with
#: the swapping alone: counting each unit as one (FET counts conflicting
#: activities) solved GYR's seeds 1–8 (median 79 s) but not ConColY13T1a
#: (Namibia: 27 double lessons among 1,471 single ones; 14 units short
#: after 120 s); weighing by hours solved ConColY13T1a in 17 s but only 4 of
#: GYR's 8 (with 400 placements an attempt; its 20 eleven-hour lessons then
#: hardly ever move); capped at 2, both: GYR's 8 in a median of 71 s (worst
#: 125 s), ConColY13T1a in 18 s, Collegiate Junior School seeds 1–3 in
#: 28–38 s (counted: 30–43 s)
EVICT_WEIGHT_CAP = 2.0

Ints = npt.NDArray[np.int64]

_compiled = threading.Lock()


def applies(comp: Compiled) -> bool:
    """Whether the construction enforces all of the instance's hard
    constraints (gap limits above zero alone: with the relaxed search after
    it, `relaxed_after`): of the day rules max and min days a week, zero
    gaps, early max beginnings, min hours on a busy day, max hours a day and
    in a row (`_day_rules_kept`); of the pairwise time relations same
    starting times, consecutive lessons, min days and min gaps between
    activities; "occupy at most k of these slots" (and, as virtual people,
    not overlapping activities and activity-tag limits:
    `solver_compile._tag_people`),
    "ends the students' day" and building changes (min free hours before
    one, max a day; not max a week); no same days, same starting hours, max
    simultaneous, ordered or three grouped activities, max different rooms,
    hard max days between activities (soft ones are phase 2's)."""
    if not all(_day_rules_kept(p) for p in comp.subgroups + comp.teachers):
        return False
    return not (
        comp.grouped
        or comp.same_day
        or comp.same_hour
        or comp.max_simultaneous
        or comp.ordered
        or comp.ordered_same_day
        or comp.grouped3
        or comp.max_rooms
        or any(cost == 0 for _, _, cost in comp.max_days_between)
    )


def day_rules(comp: Compiled) -> bool:
    """Whether the construction applies for the day rules it enforces
    besides max days and gap limits above zero (zero gaps, early
    beginnings, min or max hours a day) or for selections: schools CP-SAT
    alone placed before it did (`solver.SWAP_CLOSE_SHARE`)."""
    return bool(comp.occupy_max) or any(
        _day_rule(p, comp.H, above_zero=False) is not None for p in comp.subgroups + comp.teachers
    )


def intervals(comp: Compiled) -> bool:
    """Whether someone has a hard max days in an interval (the swapping
    keeps one a person: `Construction.r_iv`), which gives the swapping a
    short first turn only (`solver.SWAP_FIRST_INTERVAL_S`)."""
    return any(c == 0 for p in comp.subgroups + comp.teachers for *_, c in p.interval_max_days)


def every_day(comp: Compiled) -> bool:
    """Whether someone has hard min hours on every day, empty ones too
    (`swap_kernel.P_EVERY`): such a school's swapping does not go on past
    its first turn when close to done (`solver.SWAP_CLOSE_SHARE`)."""
    return any(
        (rule := _day_rule(p, comp.H)) is not None and rule[6]
        for p in comp.subgroups + comp.teachers
    )


def relaxed_after(comp: Compiled) -> bool:
    """Whether someone has a hard gap limit above zero: a swapping timetable
    is then checked, and one over the limit goes to the relaxed search."""
    return any(
        g is not None and g[1] == 0 and g[0] > 0
        for p in comp.subgroups + comp.teachers
        for g in (p.max_gaps_week, p.max_gaps_day)
    )


def _day_rules_kept(p: CPerson) -> bool:
    """Whether p's hard day rules are only those the construction enforces
    (`_day_rule`, max days a week) or leaves to the relaxed search (gap
    limits above zero) and one max days in an interval; soft ones are phase
    2's. Not: a second max days in an interval, max hours on a real day,
    max building changes a week, max span, min resting hours (the last
    three hard only)."""
    return (
        sum(1 for *_, c in p.interval_max_days if c == 0) <= 1
        and all(c > 0 for _, c in p.max_hours_real)
        and all(c > 0 or not per_week for _, per_week, c in p.building_max)
        and p.max_span is None
        and not p.min_rest
    )


def _day_rule(p: CPerson, H: int, above_zero: bool = True) -> tuple[int, ...] | None:
    """p's hard day rules as the kernel reads them (`swap_kernel.P_GAPD` …
    `P_MAXH`, `P_GAPW`, `P_CONT`, `P_EVERY`, `P_MIND`): max gaps a day
    (zero gaps a week: 0 a day too), early max beginnings (-1: none), min
    hours on a busy day (0: none), max hours a day (H: none), max gaps a
    week, max hours in a row (H: none), the min hours hold for empty days
    too (1), min days a week (0: none); None when p has none. Gap limits
    above zero only with `above_zero`."""

    def hard(g: tuple[int, int] | None) -> int:
        if g is None or g[1] or (g[0] > 0 and not above_zero):
            return -1
        return g[0]

    gapw, gapd = hard(p.max_gaps_week), hard(p.max_gaps_day)
    if gapw == 0:
        gapd = 0
    early = -1 if p.early_max is None else p.early_max
    minh = p.min_hours_daily[0] if p.min_hours_daily and p.min_hours_daily[2] == 0 else 0
    caps = [k for k, c in ([p.max_hours_daily] if p.max_hours_daily else []) if c == 0]
    caps += [k for k, c in p.more_hours_daily if c == 0]
    maxh = min([H, *caps])
    cont = min([H, *(k for k, c in p.max_hours_cont if c == 0)])
    every = int(bool(minh) and not p.min_hours_daily[1]) if p.min_hours_daily else 0
    mind = max((k for k, c in p.min_days if c == 0), default=0)
    if gapd < 0 and gapw < 0 and early < 0 and not minh and maxh >= H and cont >= H and not mind:
        return None
    return gapd, early, minh, maxh, gapw, cont, every, mind


def _member_starts(
    comp: Compiled,
    mem: list[int],
    starts: list[set[int]],
    rel: list[tuple[list[int], int, int, int, float]],
) -> tuple[list[int], dict[int, dict[int, int]]]:
    """A unit's members, the first one first (the unit's start is its start:
    a member no other comes right before), and per allowed start of the unit
    where each member starts: the same slot for a same-start group, the
    next non-break slot of the day after a lesson for the one consecutive
    to it; where the day relations `rel` between two members hold (hard
    min days, and back to back on one day: the kernel does not look at
    partners in the unit it places)."""
    if len(mem) == 1:
        return mem, {t: {mem[0]: t} for t in starts[mem[0]]}
    inside = set(mem)
    edges: list[tuple[int, int, bool]] = []  # (x, y, consecutive: y right after x)
    for g in comp.same_start:
        g_in = [a for a in g if a in inside]
        edges += [(g_in[0], b, False) for b in g_in[1:]]
    after = {b for a, b in comp.consecutive if a in inside}
    edges += [(a, b, True) for a, b in comp.consecutive if a in inside]
    first = min(a for a in mem if a not in after) if len(after) < len(mem) else mem[0]
    H = comp.H
    allowed: dict[int, dict[int, int]] = {}
    for t in range(comp.S):
        at = {first: t}
        grew = True
        while grew and len(at) < len(mem):
            grew = False
            for x, y, cons in edges:
                if x in at and y not in at:
                    nxt = comp.next_start(x, at[x]) if cons else at[x]
                    if nxt is None:
                        break
                    at[y] = nxt
                    grew = True
                elif y in at and x not in at:
                    if not cons:
                        at[x] = at[y]
                    else:
                        before = [
                            s
                            for s in range(at[y] - 1, (at[y] // H) * H - 1, -1)
                            if comp.next_start(x, s) == at[y]
                        ]
                        if not before:
                            break
                        at[x] = before[0]
                    grew = True
        if len(at) < len(mem) or any(at[a] not in starts[a] for a in mem):
            continue
        if all(
            (comp.next_start(x, at[x]) if cons else at[x]) == at[y] for x, y, cons in edges
        ) and all(_related_ok(comp, r, at) for r in rel):
            allowed[t] = at
    return [first, *(a for a in mem if a != first)], allowed


def _related_ok(
    comp: Compiled, r: tuple[list[int], int, int, int, float], at: dict[int, int]
) -> bool:
    """Whether the members of one unit starting at `at` keep day relation r
    among themselves (as `swap_kernel._conflicts` checks it between units)."""
    acts, k, cons = r[0], r[1], r[2]
    inside = [a for a in acts if a in at]
    for i, a in enumerate(inside):
        for b in inside[i + 1 :]:
            da, db = at[a] // comp.MH, at[b] // comp.MH
            if abs(da - db) < k:
                return False
            if cons < 0 and at[a] // comp.H == at[b] // comp.H:
                first, second = (a, b) if at[a] <= at[b] else (b, a)
                if at[second] - (at[first] + comp.activities[first].duration) < -cons:
                    return False
            if cons > 0 and da == db:
                dur_a, dur_b = comp.activities[a].duration, comp.activities[b].duration
                if at[a] // comp.H != at[b] // comp.H or not (
                    at[a] + dur_a == at[b] or at[b] + dur_b == at[a]
                ):
                    return False
    return True


def _csr(lists: list[list[int]]) -> tuple[Ints, Ints]:
    ptr = np.zeros(len(lists) + 1, np.int64)
    for i, row in enumerate(lists):
        ptr[i + 1] = ptr[i] + len(row)
    flat = np.array([x for row in lists for x in row], np.int64)
    return ptr, flat


class Construction:
    """The state of one construction: call `steps` until it returns 0, then
    `placement`."""

    def __init__(self, comp: Compiled, *, seed: int) -> None:
        from scheduling import swap_kernel as k

        self.comp = comp
        self.seed = seed
        self.it = 0
        #: forced starts in FET's order (`swap_kernel.run`); the solver
        #: turns it off for the swapping after CP-SAT's phase 1
        self.fet_order = True
        A = comp.activities
        n = len(A)
        ns, nt = len(comp.subgroups), len(comp.teachers)
        self.room_base = ns + nt
        # units: same-start groups and consecutive lessons joined
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for g in comp.same_start:
            for b in g[1:]:
                parent[find(b)] = find(g[0])
        for a, b in comp.consecutive:
            parent[find(b)] = find(a)
        by_root: dict[int, list[int]] = {}
        for a in range(n):
            by_root.setdefault(find(a), []).append(a)
        units = list(by_root.values())
        a_unit = np.zeros(n, np.int64)
        for ui, mem in enumerate(units):
            a_unit[mem] = ui
        res: list[list[int]] = [[] for _ in range(n)]
        choice: list[list[int]] = [[] for _ in range(n)]
        for i, p in enumerate(comp.subgroups):
            for a in p.activities:
                res[a].append(i)
        for i, p in enumerate(comp.teachers):
            for a in p.activities:
                res[a].append(ns + i)
        starts: list[set[int]] = []
        for act in A:
            fixed = fixed_room(act)
            if fixed is not None:
                res[act.index].append(self.room_base + fixed)
            elif act.rooms and NO_ROOM not in act.rooms:
                choice[act.index] = [self.room_base + r for r in act.rooms]
            starts.append(set(act.starts))
        # day relations: hard min days; back to back when on one day; soft
        # min days, enforced with the probability of their weight (as FET
        # reads them) and otherwise preferred (`_soft_cost` in the kernel)
        rel: list[tuple[list[int], int, int, int, float]] = [
            (
                md.activities,
                md.min_days if md.cost == 0 else 0,
                int(md.consecutive),
                md.min_days if md.cost else 0,
                md.cost / SCALE if SOFT_MIN_DAYS_AS_FET else 0.0,
            )
            for md in comp.min_days
        ]
        rel += [(list(acts), 0, 1, 0, 0.0) for acts in comp.same_day_adjacent]
        # min gaps between activities: at least g hours apart on a day
        rel += [(list(acts), 0, -g, 0, 0.0) for acts, g in comp.min_gaps if g > 0]
        a_rel: list[list[int]] = [[] for _ in range(n)]
        for i, (acts, *_) in enumerate(rel):
            for a in acts:
                a_rel[a].append(i)
        # where each member starts when its unit starts at t: the same t, or
        # right after the lesson before it (`Compiled.next_start`); the unit
        # starts where every member then has an allowed start
        a_at = -np.ones((n, comp.S), np.int64)
        unit_starts: list[list[int]] = []
        for ui, mem in enumerate(units):
            units[ui], at = _member_starts(
                comp, mem, starts, [rel[i] for i in sorted({i for a in mem for i in a_rel[a]})]
            )
            unit_starts.append(sorted(at))
            for t, where in at.items():
                for a, ta in where.items():
                    a_at[a, t] = ta
        occ = -np.ones((self.room_base + len(comp.rooms), comp.S), np.int64)
        for r, room in enumerate(comp.rooms):
            for s in room.unavailable:
                occ[self.room_base + r, s] = -2
        hours = [sum(A[a].duration * (len(res[a]) + 1) for a in mem) for mem in units]
        order = sorted(range(len(units)), key=lambda u: (len(unit_starts[u]), -hours[u], u))
        self.units = units
        self.prio = np.array(order, np.int64)
        self.u_mem_ptr, self.u_mem = _csr(units)
        self.u_st_ptr, self.u_st = _csr(unit_starts)
        self.a_unit = a_unit
        self.a_dur = np.array([a.duration for a in A], np.int64)
        self.a_res_ptr, self.a_res = _csr(res)
        self.a_rc_ptr, self.a_rc = _csr(choice)
        self.a_md_ptr, self.a_md = _csr(a_rel)
        self.md_ptr, self.md_mem = _csr([r[0] for r in rel])
        self.md_k = np.array([r[1] for r in rel], np.int64)
        self.md_cons = np.array([r[2] for r in rel], np.int64)
        self.md_soft = np.array([r[3] for r in rel], np.int64)
        self.md_p = np.array([r[4] for r in rel], np.float64)
        #: the most pairs of a soft min days one lesson may break: any until
        #: `cap`
        self.md_cap = np.full(len(rel), k.UNCAPPED, np.int64)
        self.a_at = a_at
        #: per resource row, the most days it may be busy (hard max days)
        self.r_maxdays = np.full(self.room_base + len(comp.rooms), comp.D, np.int64)
        #: per resource row, (first hour, end hour, max days) of a hard max
        #: days in an interval (max days = D: none; one a person, `_day_rules_kept`)
        self.r_iv = np.zeros((self.room_base + len(comp.rooms), 3), np.int64)
        self.r_iv[:, 2] = comp.D
        for i, p in enumerate([*comp.subgroups, *comp.teachers]):
            if p.max_days is not None and p.max_days[1] == 0:
                self.r_maxdays[i] = p.max_days[0]
            for lo, hi, most, cost in p.interval_max_days:
                if cost == 0:
                    self.r_iv[i] = (lo, hi, most)
        #: the hard building rules (`swap_kernel._buildings`): per lesson its
        #: building, per resource row the least free hours before a change
        #: and the most changes a day
        self.a_bld = np.full(n, -1, np.int64)
        self.r_bgap = np.zeros(self.room_base + len(comp.rooms), np.int64)
        self.r_bmax = np.full(self.room_base + len(comp.rooms), k.UNCAPPED, np.int64)
        for i, p in enumerate([*comp.subgroups, *comp.teachers]):
            gaps = [g for g, cost in p.building_gaps if cost == 0]
            a_day = [x for x, per_week, cost in p.building_max if cost == 0 and not per_week]
            if not (gaps or a_day):
                continue
            self.r_bgap[i] = max(gaps, default=0)
            self.r_bmax[i] = min(a_day, default=k.UNCAPPED)
            for a, b in p.building_of.items():
                self.a_bld[a] = b
        #: lessons that end their students' day, and the subgroups they have
        self.a_ends = np.zeros(n, np.uint8)
        self.r_ends = np.zeros(self.room_base + len(comp.rooms), np.uint8)
        for a in comp.ends_day:
            self.a_ends[a] = 1
            self.r_ends[comp.activities[a].subgroups] = 1
        #: kernel flags per unit: a member starts later than the unit; a
        #: member has max days or a soft min days that `cap` may cap
        self.u_flags = np.zeros(len(units), np.int64)
        capped = {i for i, md in enumerate(comp.min_days) if fet_reading_capped(md)}
        for ui, (mem, st) in enumerate(zip(units, unit_starts, strict=True)):
            if any(a_at[a, t] != t for a in mem for t in st):
                self.u_flags[ui] |= k.NOT_PLAIN
            if any(
                self.r_maxdays[r] < comp.D
                or self.r_iv[r, 2] < comp.D
                or self.r_ends[r]
                or (self.a_bld[a] >= 0 and (self.r_bgap[r] or self.r_bmax[r] < k.UNCAPPED))
                for a in mem
                for r in res[a]
            ) or any(i in capped for a in mem for i in a_rel[a]):
                self.u_flags[ui] |= k.EXTRA
        # day rules of the people (`swap_kernel._person`) and the
        # "occupy at most k of these slots" selections
        people = [*comp.subgroups, *comp.teachers]
        self.p_rule = np.zeros((len(people), 10), np.int64)
        self.p_cnt = np.zeros((len(people), comp.S), np.uint8)
        # gap limits above zero only beside the other day rules: alone (as
        # before them) they are left to the relaxed search after it
        # (Insight Learning Centre, South Africa: 8 teachers with at most
        # one gap a week; placed in 27 s so, not in 60 s with them kept)
        above_zero = day_rules(comp)
        for i, p in enumerate(people):
            rule = _day_rule(p, comp.H, above_zero)
            if rule is None:
                continue
            self.p_rule[i, :4] = rule[:4]
            self.p_rule[i, k.P_GAPW] = rule[4]
            self.p_rule[i, k.P_CONT] = rule[5]
            self.p_rule[i, k.P_EVERY] = rule[6]
            self.p_rule[i, k.P_MIND] = rule[7]
            self.p_rule[i, k.P_TOTAL] = sum(A[a].duration for a in set(p.activities))
            self.p_rule[i, k.P_ANY] = 1
            for d, hours in enumerate(p.counted_hours):
                self.p_cnt[i, [d * comp.H + h for h in hours]] = 1
        self.om_ptr, self.om_mem = _csr([acts for acts, _, _ in comp.occupy_max])
        self.om_sel = np.zeros((len(comp.occupy_max), comp.S), np.uint8)
        for c, (_, slots, _) in enumerate(comp.occupy_max):
            self.om_sel[c, slots] = 1
        self.om_k = np.array([cap for _, _, cap in comp.occupy_max], np.int64)
        a_om: list[list[int]] = [[] for _ in range(n)]
        for c, (acts, _, _) in enumerate(comp.occupy_max):
            for a in set(acts):
                a_om[a].append(c)
        self.a_om_ptr, self.a_om = _csr(a_om)
        for ui, mem in enumerate(units):
            if any(a_om[a] for a in mem) or any(
                r < len(people) and self.p_rule[r, k.P_ANY] for a in mem for r in res[a]
            ):
                self.u_flags[ui] |= k.DAY_RULES
        self.occ = occ
        self.start = -np.ones(n, np.int64)
        self.room = -np.ones(n, np.int64)
        self.tabu = np.zeros((len(units), comp.S), np.int64)
        self.tried = np.zeros((len(units), comp.S), np.float64)
        #: what evicting a unit weighs (`EVICT_WEIGHT_CAP`)
        self.weight = np.array(
            [min(EVICT_WEIGHT_CAP, float(sum(A[a].duration for a in mem))) for mem in units],
            np.float64,
        )
        #: the kernel's arguments, made at the first call: the instance, the
        #: timetable and the attempts' scratch space (sized for `SWAP_CALLS`)
        self._kernel_args: tuple[object, object, object] | None = None
        #: a unit no start is allowed for: no timetable exists
        self.impossible = any(not st for st in unit_starts) or any(
            a.rooms is not None and not a.rooms for a in A
        )

    def steps(self, n: int | None = None) -> int:
        """Run `n` steps (`SWAP_CHUNK`); the number of units still unplaced."""
        from scheduling import swap_kernel as k

        with _compiled:  # the first call compiles; one thread at a time does
            if self._kernel_args is None:
                data = (
                    self.comp.H, self.u_mem_ptr, self.u_mem, self.u_st_ptr, self.u_st,
                    self.a_unit, self.a_dur, self.a_res_ptr, self.a_res, self.a_rc_ptr,
                    self.a_rc, self.a_md_ptr, self.a_md, self.md_ptr, self.md_mem, self.md_k,
                    self.md_cons, self.md_soft, self.md_p, self.md_cap, self.a_at,
                    self.r_maxdays, self.u_flags, self.p_rule, self.p_cnt, self.om_ptr,
                    self.om_mem, self.om_sel, self.om_k, self.a_om_ptr, self.a_om,
                    self.comp.MH, self.r_iv, self.a_ends, self.r_ends, self.a_bld,
                    self.r_bgap, self.r_bmax,
                )  # fmt: skip
                state = (self.occ, self.start, self.room)
                self._kernel_args = (data, state, k._work(data, SWAP_CALLS))
            args = self._kernel_args
            left, self.it = k.run(
                SWAP_CHUNK if n is None else n,
                self.seed,
                self.it,
                self.prio,
                *args,
                self.tabu,
                self.tried,
                self.weight,
                SWAP_CALLS,
                SWAP_TENURE,
                self.fet_order,
            )
        return int(left)

    def relax(self) -> None:
        """From now on the soft min days are only preferred, not enforced
        with the probability of their weight (`SOFT_MIN_DAYS_AS_FET`): the
        construction goes on from where it is, under looser rules. (The
        kernel reads the array in place.)"""
        self.md_p[:] = 0.0

    def cap(self) -> int:
        """From now on a lesson breaks at most `FET_READING_BROKEN_MAX` pairs
        of a heavy soft min days (`fet_reading_capped`), as FET's reading of
        the timetable needs: the lessons breaking more are taken off (the
        one breaking the most first, until none does) and `steps` places them
        again under that rule. Returns how many were taken off."""
        from scheduling import swap_kernel as k

        comp = self.comp
        days = [int(t) // comp.MH if t >= 0 else -1 for t in self.start]
        off = 0
        for ix, md in enumerate(comp.min_days):
            if not fet_reading_capped(md):
                continue
            self.md_cap[ix] = FET_READING_BROKEN_MAX
            while True:
                n = broken_pairs(md, days)
                worst = max(range(len(n)), key=lambda i: n[i])
                if n[worst] <= FET_READING_BROKEN_MAX:
                    break
                u = int(self.a_unit[md.activities[worst]])
                assert self._kernel_args is not None
                data, state, _ = self._kernel_args
                k._take_off(u, data, state)
                for a in self.units[u]:
                    days[a] = -1
                off += 1
        return off

    def placement(self) -> tuple[list[int], list[int | None]]:
        """Each activity's start slot and room (None: none), interchangeable
        activities (`Compiled.symmetric`) in the order of their starts, as
        the CP-SAT model's symmetry breaking wants them."""
        comp = self.comp
        starts = [int(t) for t in self.start]
        rooms: list[int | None] = []
        for act in comp.activities:
            r = int(self.room[act.index])
            rooms.append(r - self.room_base if r >= 0 else fixed_room(act))
        for cls in comp.symmetric:
            placed = [(starts[a], rooms[a]) for a in cls if starts[a] >= 0]
            pairs = sorted(placed, key=lambda p: p[0])
            if len(pairs) == len(cls):
                for a, (t, room) in zip(cls, pairs, strict=True):
                    starts[a], rooms[a] = t, room
        return starts, rooms


def warm_up() -> None:
    """Compile the kernel (about 10 s of CPU, once a process) by running it
    on a school of one lesson, so that a construction started afterwards
    begins at once: `Construction.steps` compiles on first use otherwise.
    Safe from a second thread: the compilation is behind a lock."""
    tiny = m.Instance(
        name="warm-up",
        days=(m.Day(name="D"),),
        hours=(m.Hour(name="H"),),
        teachers=(m.Teacher(name="T"),),
        students=(m.StudentsSet(name="C", students=1, subgroups=("C",)),),
        rooms=(m.Room(name="R"),),
        activities=(m.Activity(id=1, subject="S", teachers=("T",), students=("C",)),),
        constraints=(
            m.MinDaysBetweenActivities(activities=(1,), min_days=1, weight=95.0),
            m.SubjectPreferredRooms(subject="S", rooms=("R",)),
        ),
    )
    Construction(compile_instance(tiny), seed=0).steps(1)


class Swapping:
    """A construction that can be cut into turns (`go`), each going on from
    where the one before stopped: the solver gives the swapping a first
    turn before CP-SAT's phase 1 and the rest after it. After
    `SWAP_RELAX_STEPS` steps a unit, the soft min days are only preferred
    (`Construction.relax`); the first complete timetable is repaired
    (`Construction.cap`), and kept in `uncapped` meanwhile."""

    def __init__(self, comp: Compiled, *, seed: int) -> None:
        self.con = Construction(comp, seed=seed)
        self.relax_at: int | None = SWAP_RELAX_STEPS * len(self.con.units)
        #: the first complete timetable, before the repair
        self.uncapped: tuple[list[int], list[int | None]] | None = None
        #: units unplaced after the last chunk of steps
        self.left = len(self.con.units)

    def go(
        self, go_on: Callable[[], bool], on_chunk: Callable[[int], None] | None = None
    ) -> tuple[list[int], list[int | None]] | None:
        """Steps until a complete repaired timetable (returned), or None when
        `go_on()` turned False first (checked between chunks of steps) or a
        lesson has no allowed start. `on_chunk(units left)` after each chunk."""
        con = self.con
        if con.impossible:
            return None
        while True:
            left = con.steps()
            self.left = left
            if left == 0 and self.uncapped is None:
                self.uncapped = con.placement()
                left = con.cap()
            if left == 0:
                return con.placement()
            if on_chunk is not None:
                on_chunk(left)
            if not go_on():
                return None
            if self.relax_at is not None and con.it >= self.relax_at:
                con.relax()
                self.relax_at = None


def construct(
    comp: Compiled,
    *,
    seed: int,
    go_on: Callable[[], bool],
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[list[int], list[int | None]] | None:
    """A timetable (starts, rooms) by recursive swapping in one turn
    (`Swapping`): the repaired one, or the one before the repair when
    `go_on()` turned False during it, or None when it turned False before
    any (or a lesson has no allowed start)."""
    sw = Swapping(comp, seed=seed)
    found = sw.go(go_on, on_chunk)
    return found if found is not None else sw.uncapped


def kernel_ready() -> bool:
    """Whether the kernel is compiled in this process or numba's cache
    holds it (an index for `run` where the cache is kept): then a
    construction starts at once, without about 20 s of compilation."""
    from scheduling import swap_kernel as k

    if k.run.signatures:
        return True
    cache = getattr(k.run, "_cache", None)
    index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
    return isinstance(index, str) and os.path.exists(index)


#: placements one attempt of `Spreads` may try, its chain included: more
#: than a construction's `SWAP_CALLS`, as an attempt is a single step. The
#: German secondary school of the public set, 20 s from its first timetable
#: (seeds 2 and 4; soft score after): 30 calls 21.85 / 16.15, 100 14.25 /
#: 15.20, 300 11.40 / 14.25, 1,000 23.75 / 17.10
SPREAD_CALLS = 300


class Spreads:
    """Lowers the soft min days a complete timetable breaks, by recursive
    swapping: an attempt takes one lesson of a broken pair off and places it
    again in one step of the swapping with every soft min days enforced
    (`md_p` 1: a placement evicts the partners too close to it, and they are
    placed again the same way), so that no lesson it moves breaks a pair.
    When the step ends with every lesson placed, the timetable is a new one
    that keeps every hard constraint the construction enforces (`applies`)
    and breaks fewer pairs: `attempt` returns it, and `undo` goes back to
    the one before when the caller does not keep it (the caller checks it:
    gap limits above zero are kept only beside other day rules, and a
    lesson placed again has no room where only a soft constraint gave it
    one). A step that leaves a lesson unplaced is undone at once. `con`: the
    construction of the school's timetable, whose state is taken over (made
    anew by default)."""

    def __init__(
        self,
        comp: Compiled,
        starts: list[int],
        rooms: list[int | None],
        *,
        seed: int,
        con: Construction | None = None,
    ) -> None:
        from scheduling import swap_kernel as k

        con = Construction(comp, seed=seed) if con is None else con
        self.con = con
        con.steps(0)  # the kernel's arguments
        assert con._kernel_args is not None
        data, state = con._kernel_args[0], con._kernel_args[1]
        self.data, self.state = data, state
        self.work = k._work(data, SPREAD_CALLS)  # type: ignore[arg-type]
        occ, start, room = self._arrays()
        occ[occ >= 0] = -1
        for a, act in enumerate(comp.activities):
            t, dur = starts[a], act.duration
            start[a] = t
            room[a] = -1
            for j in range(con.a_res_ptr[a], con.a_res_ptr[a + 1]):
                occ[con.a_res[j], t : t + dur] = a
            # a room it holds (a fixed one is among its resources): one of
            # its candidates, or one a soft room constraint gave it, which it
            # keeps while it stays (placed again, it has none then)
            r = rooms[a]
            if r is not None and r != NO_ROOM and fixed_room(act) is None:
                room[a] = con.room_base + r
                occ[room[a], t : t + dur] = a
        con.md_p[con.md_soft > 0] = 1.0
        self.rng = np.random.default_rng(seed)
        self._saved: tuple[npt.NDArray[Any], ...] = ()
        #: attempts made, and those that gave a timetable whose spreads cost less
        self.attempts = 0
        self.found = 0

    def _arrays(self) -> tuple[Ints, Ints, Ints]:
        """The timetable the kernel works on (`Construction.occ`, `start`,
        `room`, its `state`)."""
        return self.con.occ, self.con.start, self.con.room

    def broken(self) -> tuple[list[tuple[int, int]], int]:
        """The pairs of lessons that break a soft min days now, and what
        they cost (`solver_compile.spread_breaks`)."""
        return spread_breaks(self.con.comp, self.con.start.tolist())

    def attempt(
        self, bad: list[tuple[int, int]], cost: int
    ) -> tuple[list[int], list[int | None]] | None:
        """One try (see the class) at a lesson of one of the broken pairs
        `bad` of cost `cost` (`broken`), chosen at random: the new
        timetable when every lesson is placed and the spreads cost less,
        else None (the one before restored)."""
        from scheduling import swap_kernel as k

        con = self.con
        pair = bad[int(self.rng.integers(len(bad)))]
        lesson = pair[int(self.rng.integers(2))]
        occ, start, room = self._arrays()
        self._saved = (
            occ.copy(), start.copy(), room.copy(), con.prio.copy(), con.tabu.copy(),
            con.tried.copy(),
        )  # fmt: skip
        k._take_off(int(con.a_unit[lesson]), self.data, self.state)
        self.attempts += 1
        left, con.it = k.run(
            1,
            con.seed,
            con.it,
            con.prio,
            self.data,
            self.state,
            self.work,
            con.tabu,
            con.tried,
            con.weight,
            SPREAD_CALLS,
            SWAP_TENURE,
            False,  # the weight's order, as these tries were measured with
        )
        if left or self.broken()[1] >= cost:
            self.undo()
            return None
        self.found += 1
        return con.placement()

    def undo(self) -> None:
        """Back to the timetable before the last `attempt`."""
        occ, start, room = self._arrays()
        s_occ, s_start, s_room, s_prio, s_tabu, s_tried = self._saved
        occ[:], start[:], room[:] = s_occ, s_start, s_room
        self.con.prio[:], self.con.tabu[:], self.con.tried[:] = s_prio, s_tabu, s_tried
