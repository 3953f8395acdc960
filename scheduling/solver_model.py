"""The CP-SAT model of a compiled instance.

Decision variables: one boolean per activity and allowed start slot (`x`),
one per activity and candidate room when it has more than one (`z`).

* Exactly one start per activity; per teacher, subgroup class and slot the
  covering start literals are tied to an occupancy boolean (`o = Σ x`, which
  also says "at most one").
* Compact student days: over the hours that count (no break, no
  not-available) the day is a block. With zero gaps and no second-hour
  beginnings it is the monotone chain `o[h] ≤ o[h-1]`; otherwise gap
  booleans built from "something before" / "something after" chains.
* Min days between activities, hard: at most one of the activities in any
  window of `min_days` consecutive days (a clique per window). Soft: per pair
  and `k < min_days` a boolean "closer than or at k days", each costing the
  weight, which sums to FET's `min_days − distance`.
* Rooms: a room with one fixed user set is a resource like a teacher; rooms
  with choices get a NoOverlap of optional intervals on the start slot,
  strengthened with Hall-type cuts per slot ("the activities whose candidate
  rooms all lie in S fit in |S| rooms").
* Interchangeable activities (parts of one split lesson with identical
  everything) are ordered by start.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeAlias

from ortools.sat.python import cp_model

from scheduling.solver_compile import (
    FET_READING_BROKEN_MAX,
    FET_READING_COST,
    NO_ROOM,
    CActivity,
    CMinDays,
    Compiled,
    CPerson,
    fet_reading_capped,
)

Lit: TypeAlias = cp_model.IntVar
LinExpr: TypeAlias = cp_model.LinearExpr | int


class Builder:
    def __init__(
        self,
        comp: Compiled,
        *,
        symmetry: bool = True,
        hall_cuts: bool = True,
        redundant: bool = True,
        soft: bool = True,
        room_choice: bool = True,
        min_days_hard: int = 0,
        relax_gaps: bool = False,
        relax_min_days: bool = False,
        min_days_dropped: frozenset[int] = frozenset(),
        assume_min_days: bool = False,
    ) -> None:
        self.c = comp
        #: model each activity's room choice (False: times only, with the rooms
        #: as per-slot capacity cuts; rooms are then assigned separately)
        self.room_choice = room_choice
        #: enforce the soft min days between activities as hard, capped at
        #: this many days (0: not at all), for a first timetable near the
        #: soft optimum
        self.min_days_hard = min_days_hard
        #: … except these (indices into `Compiled.min_days`): a set of them
        #: made that model infeasible
        self.min_days_dropped = min_days_dropped
        #: each soft min days enforced as hard gets an enforcement literal
        #: (`min_days_lits`, by index), for CP-SAT's assumptions to name a
        #: set of them that makes the model infeasible
        self.assume_min_days = assume_min_days
        self.min_days_lits: dict[int, Lit] = {}
        #: hard gap limits above zero (a teacher's at most 3 gaps a week)
        #: become `penalties`, the excess over the limit, instead of
        #: constraints: a timetable is one with no penalty (zero gaps stay
        #: hard: they are a structure, not a count)
        self.relax_gaps = relax_gaps
        self.penalties: list[tuple[LinExpr, int]] = []  # (term, term upper bound)
        #: per penalty, whose limit it is and for which day (-1: the week):
        #: ("s", subgroup, day) or ("t", teacher, day)
        self.penalty_owner: list[tuple[str, int, int]] = []
        #: soft min days not enforced (in a feasibility model) become
        #: penalties too, one per window of `min_days` days for each lesson
        #: beyond the first in it: the relaxed search then looks for a
        #: timetable with few of them broken, and a solution whose hard
        #: penalties (`penalty_hard`) are 0 is a timetable
        self.relax_min_days = relax_min_days
        #: per penalty: a relaxed hard limit (True) or a soft min days (False)
        self.penalty_hard: list[bool] = []
        self._owner: tuple[str, int] = ("", -1)
        self.m = cp_model.CpModel()
        self.symmetry = symmetry
        self.hall_cuts = hall_cuts
        self.redundant = redundant
        #: cost the soft constraints (False: a feasibility model, soft ignored)
        self.soft = soft
        self.x: list[dict[int, Lit]] = []
        self.z: list[dict[int, Lit]] = []
        self._S: dict[int, cp_model.IntVar] = {}
        self._y: dict[tuple[int, int], Lit] = {}
        self.costs: list[tuple[int, LinExpr, int]] = []  # (cost, term, term upper bound)
        self.infeasible_reason: str | None = None

    # --- variables --------------------------------------------------------------
    def build(self) -> None:
        c, m = self.c, self.m
        for a in c.activities:
            xs = {t: m.new_bool_var(f"x{a.id}_{t}") for t in a.starts}
            if not xs:
                self.infeasible_reason = f"activity {a.id} has no allowed start"
                m.add_bool_or([])  # infeasible
            else:
                m.add_exactly_one(xs.values())
            self.x.append(xs)
            for t, v in a.start_cost.items():
                if self.soft:
                    self.costs.append((v, xs[t], 1))
        self._persons()
        self._min_days()
        self._pairs()
        self._rooms()
        if self.symmetry:
            self._symmetry()

    def covering(self, a: int, t: int) -> list[Lit]:
        """Start literals of activity a that cover slot t."""
        xs = self.x[a]
        dur = self.c.activities[a].duration
        return [xs[s] for s in range(t - dur + 1, t + 1) if s in xs]

    def S(self, a: int) -> cp_model.IntVar:
        if a not in self._S:
            starts = list(self.x[a])
            v = self.m.new_int_var_from_domain(
                cp_model.Domain.from_values(starts or [0]), f"S{self.c.activities[a].id}"
            )
            self.m.add(v == sum(t * lit for t, lit in self.x[a].items()))
            self._S[a] = v
        return self._S[a]

    def y(self, a: int, d: int) -> Lit:
        key = (a, d)
        if key not in self._y:
            H = self.c.H
            lits = [lit for t, lit in self.x[a].items() if t // H == d]
            v = self.m.new_bool_var(f"y{self.c.activities[a].id}_{d}")
            if lits:
                self.m.add(v == sum(lits))
            else:
                self.m.add(v == 0)
            self._y[key] = v
        return self._y[key]

    def ym(self, a: int, r: int) -> Lit | LinExpr:
        """Activity a on real day r (`Compiled.MH`): `y` where a day is a
        real day, else the sum over its parts (at most one is 1)."""
        R = self.c.R
        if R == 1:
            return self.y(a, r)
        return sum(self.y(a, d) for d in range(r * R, r * R + R))

    # --- teachers and subgroups --------------------------------------------------
    def _occupancy(self, p: CPerson, need_vars: bool, who: str) -> list[Lit | None]:
        """Per slot, the person's occupancy (a boolean when asked for): at most
        one of its activities covers a slot. When its lessons fill every slot
        they can reach, each such slot is covered exactly once, which gives the
        solver the counting (pigeonhole) argument that plain clauses lack.
        More lessons than that room (`room_for`) is infeasible as built, said
        at once: CP-SAT does not find that count by itself (Spain, one lesson
        more for a full class: undecided after 120 s)."""
        m, c = self.m, self.c
        by_slot = [[lit for a in p.activities for lit in self.covering(a, t)] for t in range(c.S)]
        reachable = sum(1 for lits in by_slot if lits)
        total = sum(c.activities[a].duration for a in set(p.activities))
        room = room_for(
            p, [sum(1 for lits in by_slot[d * c.H : (d + 1) * c.H] if lits) for d in range(c.D)]
        )
        if total > room and self.infeasible_reason is None:
            self.infeasible_reason = (
                f"{who} has {total} hours of lessons and room for {room} "
                "(the slots their lessons can take, within their hard daily and day limits)"
            )
            m.add_bool_or([])
        tight = total >= reachable
        occ: list[Lit | None] = []
        for lits in by_slot:
            if not lits:
                occ.append(None)
            elif need_vars:
                o = m.new_bool_var("")
                m.add(o == sum(lits))
                if tight:
                    m.add(o == 1)
                occ.append(o)
            else:
                if tight:
                    m.add_exactly_one(lits)
                elif len(lits) > 1:
                    m.add_at_most_one(lits)
                occ.append(None)
        if need_vars and self.redundant and not tight:
            m.add(sum(o for o in occ if o is not None) == total)
        return occ

    def _persons(self) -> None:
        self.sub_occ: list[list[Lit | None]] = []
        ends_subs = {sg for a in self.c.ends_day for sg in self.c.activities[a].subgroups}
        for i, p in enumerate(self.c.subgroups):
            need = _has_day_rules(p) or i in ends_subs
            occ = self._occupancy(p, need, f"students set {p.name}")
            self.sub_occ.append(occ)
            if need:
                self._owner = ("s", i)
                self._day_rules(p, occ, student=True)
            self._building_rules(p)
        self.teacher_occ: list[list[Lit | None]] = []
        for i, p in enumerate(self.c.teachers):
            need = _has_day_rules(p)
            occ = self._occupancy(p, need, f"teacher {p.name}")
            self.teacher_occ.append(occ)
            if need:
                self._owner = ("t", i)
                self._day_rules(p, occ, student=False)
            self._building_rules(p)
        # activity ends the students' day
        H = self.c.H
        for a in self.c.ends_day:
            dur = self.c.activities[a].duration
            for t, lit in self.x[a].items():
                d = t // H
                after = range(t + dur, (d + 1) * H)
                for sg in self.c.activities[a].subgroups:
                    occ = self.sub_occ[sg]
                    for t2 in after:
                        o = occ[t2]
                        if o is not None:
                            self.m.add_implication(lit, o.Not())

    def _day_rules(self, p: CPerson, occ: Sequence[Lit | None], *, student: bool) -> None:
        m, c = self.m, self.c
        H = c.H

        def o_at(t: int) -> LinExpr:
            v = occ[t]
            return 0 if v is None else v

        gw, gd = p.max_gaps_week, p.max_gaps_day
        gaps_zero = gw == (0, 0) or gd == (0, 0)
        gaps_week = gw is not None and not gaps_zero
        gaps_day = gd is not None and not gaps_zero
        week_gaps: list[LinExpr] = []
        extra_blocks: list[LinExpr] = []
        second_hour_days: list[Lit] = []
        busy_days: list[Lit] = []
        day_sums: list[LinExpr] = []
        for d in range(c.D):
            hours = p.counted_hours[d]
            os = [o_at(d * H + h) for h in hours]
            n = len(os)
            day_sum = sum(o_at(d * H + h) for h in range(H))
            day_sums.append(day_sum)
            if gaps_zero and p.early_max == 0:
                # block starting at the first counted hour: monotone chain
                for j in range(1, n):
                    m.add(os[j] <= os[j - 1])
            elif gaps_zero:
                # one block: at most one start
                starts = []
                for j in range(n):
                    st = m.new_bool_var("")
                    m.add(st >= os[j] - (os[j - 1] if j else 0))
                    starts.append(st)
                m.add(sum(starts) <= 1)
            if (gaps_week or gaps_day) and n >= 3:
                gaps = self._gap_vars(os)
                gsum = sum(gaps)
                week_gaps.append(gsum)
                if gaps_day and gd is not None:
                    self._limit_gaps(gsum, gd, n, d)
                if self.redundant:
                    # each block after the first leaves at least one gap
                    sts = []
                    for j in range(n):
                        st = m.new_bool_var("")
                        m.add(st >= os[j] - (os[j - 1] if j else 0))
                        sts.append(st)
                    extra = m.new_int_var(0, n, "")
                    m.add(extra >= sum(sts) - 1)
                    m.add(gsum >= extra)
                    extra_blocks.append(extra)
                    if gaps_day and gd is not None and gd[1] == 0 and not self.relax_gaps:
                        m.add(extra <= gd[0])
            if p.early_max is not None and not (gaps_zero and p.early_max == 0) and n >= 2:
                if p.early_max == 0:
                    for j in range(1, n):
                        m.add(os[j] <= os[0])
                else:
                    for j in range(2, n):
                        m.add(os[j] <= os[0] + os[1])
                    e = m.new_bool_var("")
                    for j in range(1, n):
                        m.add(e >= os[j] - os[0])
                    second_hour_days.append(e)
            if p.max_hours_daily is not None:
                for k, cost in (p.max_hours_daily, *p.more_hours_daily):
                    self._limit_per_occurrence(day_sum, k, cost, H)
            w: Lit | None = None
            if p.max_days is not None or p.min_hours_daily is not None or p.min_days:
                w = m.new_bool_var("")
                for h in range(H):
                    v = occ[d * H + h]
                    if v is not None:
                        m.add_implication(v, w)
                m.add(w <= day_sum)
                busy_days.append(w)
            if p.min_hours_daily is not None:
                k, allow_empty, _ = p.min_hours_daily
                if allow_empty:
                    assert w is not None
                    m.add(day_sum >= k * w)
                else:
                    m.add(day_sum >= k)
            for k, cost in p.max_hours_cont:
                for h in range(H - k):
                    window = sum(o_at(d * H + h2) for h2 in range(h, h + k + 1))
                    if cost == 0:
                        m.add(window <= k)
                    elif self.soft:
                        v = m.new_bool_var("")
                        before = o_at(d * H + h - 1) if h > 0 else 0
                        m.add(v >= window - k - before)
                        self.costs.append((cost, v, 1))
        for k, cost in p.max_hours_real:
            for r in range(c.MD):
                real_sum = sum(day_sums[r * c.R : r * c.R + c.R])
                self._limit_per_occurrence(real_sum, k, cost, c.MH)
        for start, end, k, cost in p.interval_max_days:
            iws: list[Lit] = []
            for d in range(c.D):
                iw = m.new_bool_var("")
                for h in range(start, min(end, H)):
                    v = occ[d * H + h]
                    if v is not None:
                        m.add_implication(v, iw)
                iws.append(iw)
            self._limit(sum(iws), k, cost, c.D)
        if gaps_week and gw is not None and week_gaps:
            self._limit_gaps(sum(week_gaps), gw, c.D * H, -1)
            if gw[1] == 0 and extra_blocks and not self.relax_gaps:
                m.add(sum(extra_blocks) <= gw[0])
        if second_hour_days:
            m.add(sum(second_hour_days) <= (p.early_max or 0))
        if p.max_days is not None:
            k, cost = p.max_days
            self._limit(sum(busy_days), k, cost, c.D)
        for k, cost in p.min_days:
            # at least k busy days: the days missing, at most 0
            self._limit(k - sum(busy_days), 0, cost, k)
        # no two lessons further apart on a day than the max span; none at
        # the end of a day and the start of the next with too little rest
        # between them (hard only, as FET)
        if p.max_span is not None:
            for d in range(c.D):
                for h1 in range(H):
                    for h2 in range(h1 + p.max_span, H):
                        pair = [occ[d * H + h1], occ[d * H + h2]]
                        if pair[0] is not None and pair[1] is not None:
                            m.add_bool_or([pair[0].Not(), pair[1].Not()])
        for k, circular in p.min_rest:
            for d in range(c.D if circular else c.D - 1):
                nxt = (d + 1) % c.D
                for h1 in range(H):
                    for h2 in range(min(H, max(0, k - (H - 1 - h1)))):
                        pair = [occ[d * H + h1], occ[nxt * H + h2]]
                        if pair[0] is not None and pair[1] is not None and d != nxt:
                            m.add_bool_or([pair[0].Not(), pair[1].Not()])

    def _building_rules(self, p: CPerson) -> None:
        """Building changes, with each lesson's building fixed by its rooms
        (`CPerson.building_of`). `at[b][h]`: the person in building b at hour
        h of the day. A change too soon: a lesson in one building and one in
        another within `min_gaps` + 1 hours (whatever lies between, a change
        comes that soon). Max changes: `last[b]`, the building of the last
        lesson so far is b (set by a lesson there, kept over hours without
        one); a change where a lesson is in another building than `last`."""
        if not p.building_of:
            return
        m, c = self.m, self.c
        H = c.H
        buildings = sorted(set(p.building_of.values()))
        week_changes: list[LinExpr] = []
        for d in range(c.D):
            at = {
                b: [
                    sum(
                        lit
                        for a, ab in p.building_of.items()
                        if ab == b
                        for lit in self.covering(a, d * H + h)
                    )
                    for h in range(H)
                ]
                for b in buildings
            }
            for g, _ in p.building_gaps:  # hard only (FET's rule: the compiler's)
                for h1 in range(H):
                    for h2 in range(h1 + 1, min(H, h1 + g + 1)):
                        for b in buildings:
                            other = sum(at[b2][h2] for b2 in buildings if b2 != b)
                            both = at[b][h1] + other
                            if not isinstance(both, int):
                                m.add(both <= 1)
            if not p.building_max:
                continue
            last = {b: [m.new_bool_var("") for _ in range(H)] for b in buildings}
            changes: list[LinExpr] = []
            for h in range(H):
                here = sum(at[b][h] for b in buildings)
                for b in buildings:
                    m.add(last[b][h] >= at[b][h])
                    if h:
                        m.add(last[b][h] >= last[b][h - 1] - here)
                        for b2 in buildings:
                            if b2 != b and not isinstance(at[b2][h], int):
                                ch = m.new_bool_var("")
                                m.add(ch >= at[b2][h] + last[b][h - 1] - 1)
                                changes.append(ch)
            day = sum(changes)
            for k, per_week, _ in p.building_max:
                if not per_week:
                    m.add(day <= k)
            week_changes.append(day)
        for k, per_week, _ in p.building_max:
            if per_week:
                m.add(sum(week_changes) <= k)

    def _gap_vars(self, os: list[LinExpr]) -> list[Lit]:
        m = self.m
        n = len(os)
        before: list[LinExpr] = [0] * n
        after: list[LinExpr] = [0] * n
        prev: LinExpr = 0
        for j in range(1, n):
            b = m.new_bool_var("")
            m.add(b >= os[j - 1])
            if j > 1:
                m.add(b >= prev)
            m.add(b <= prev + os[j - 1])
            before[j] = b
            prev = b
        prev = 0
        for j in range(n - 2, -1, -1):
            a = m.new_bool_var("")
            m.add(a >= os[j + 1])
            if j < n - 2:
                m.add(a >= prev)
            m.add(a <= prev + os[j + 1])
            after[j] = a
            prev = a
        gaps: list[Lit] = []
        for j in range(1, n - 1):
            g = m.new_bool_var("")
            m.add(g >= before[j] + after[j] - os[j] - 1)
            gaps.append(g)
        return gaps

    def _limit(self, expr: LinExpr, k: int, cost: int, ub: int) -> None:
        """expr ≤ k (hard) or cost × max(0, expr − k)."""
        if cost == 0:
            self.m.add(expr <= k)
        elif self.soft:
            e = self.m.new_int_var(0, max(0, ub), "")
            self.m.add(e >= expr - k)
            self.costs.append((cost, e, max(0, ub)))

    def _limit_gaps(self, expr: LinExpr, limit: tuple[int, int], ub: int, day: int) -> None:
        """A gap limit (of a day, or the week: -1): a penalty for the excess
        when relaxed and hard."""
        k, cost = limit
        if cost == 0 and self.relax_gaps:
            e = self.m.new_int_var(0, max(0, ub), "")
            self.m.add(e >= expr - k)
            self.penalties.append((e, max(0, ub)))
            self.penalty_owner.append((*self._owner, day))
            self.penalty_hard.append(True)
        else:
            self._limit(expr, k, cost, ub)

    def _limit_per_occurrence(self, expr: LinExpr, k: int, cost: int, ub: int) -> None:
        """expr ≤ k (hard) or cost × [expr > k]."""
        if cost == 0:
            self.m.add(expr <= k)
        elif self.soft:
            v = self.m.new_bool_var("")
            self.m.add(expr <= k + max(0, ub - k) * v)
            self.costs.append((cost, v, 1))

    # --- min days -----------------------------------------------------------------
    def _min_days(self) -> None:
        m, c = self.m, self.c
        for ix, md in enumerate(c.min_days):
            acts = md.activities
            harden = (
                bool(self.min_days_hard)
                and not self.soft
                and md.cost != 0
                and ix not in self.min_days_dropped
            )
            if harden:
                k = min(md.min_days, self.min_days_hard)
                harden = self._days_apart(md, k)
            if md.cost == 0 or harden:
                k = md.min_days if md.cost == 0 else min(md.min_days, self.min_days_hard)
                h = None
                if harden and self.assume_min_days:
                    h = self.min_days_lits[ix] = m.new_bool_var(f"md{ix}")
                R = c.R
                for d0 in range(c.MD):
                    window = range(d0 * R, min(c.MD, d0 + k) * R)
                    if d0 + k > c.MD and d0 > 0:
                        break
                    ys = [self.y(a, d) for a in acts for d in window]
                    if h is None:
                        m.add_at_most_one(ys)
                    else:
                        m.add(sum(ys) <= 1).only_enforce_if(h)
                continue
            if md.cost and not self.soft and self.relax_min_days:
                self._relaxed_min_days(md)
            if self.soft and fet_reading_capped(md):
                self._cap_broken(md)
            for i, a in enumerate(acts):
                for b in acts[i + 1 :]:
                    for k in range(md.min_days if self.soft else 0):
                        zk = m.new_bool_var("")
                        for d in range(c.MD):
                            near = [
                                self.ym(b, d2) for d2 in range(max(0, d - k), min(c.MD, d + k + 1))
                            ]
                            m.add(zk >= self.ym(a, d) + sum(near) - 1)
                        self.costs.append((md.cost, zk, 1))
                    if md.consecutive:
                        self._adjacent_if_same_day(a, b)
        for acts in c.same_day_adjacent:
            for i, a in enumerate(acts):
                for b in acts[i + 1 :]:
                    self._adjacent_if_same_day(a, b)

    def _cap_broken(self, md: CMinDays) -> None:
        """Per lesson of `md` and day, the pairs it breaks there beyond
        `FET_READING_BROKEN_MAX`, costed at `FET_READING_COST` each."""
        m, c, k = self.m, self.c, md.min_days
        cap = FET_READING_BROKEN_MAX
        days = {a: sorted({t // c.MH for t in self.x[a]}) for a in md.activities}
        for a in md.activities:
            for d in days[a]:
                near = [
                    self.ym(b, d2)
                    for b in md.activities
                    if b != a
                    for d2 in days[b]
                    if abs(d2 - d) < k
                ]
                if len(near) > cap:
                    e = m.new_int_var(0, len(near) - cap, "")
                    on = [self.y(a, h) for h in range(d * c.R, d * c.R + c.R)]
                    for lit in on:
                        m.add(e >= sum(near) - cap).only_enforce_if(lit)
                    self.costs.append((FET_READING_COST, e, len(near) - cap))

    def _relaxed_min_days(self, md: CMinDays) -> None:
        """A soft min days as penalties (`relax_min_days`): per window of
        `min_days` days, the lessons in it beyond the first, owned by the
        first lesson's students (or teacher) with someone, on the window's
        first day."""
        m, c = self.m, self.c
        owner = next(
            (
                ("s", ca.subgroups[0]) if ca.subgroups else ("t", ca.teachers[0])
                for ca in (c.activities[a] for a in md.activities)
                if ca.subgroups or ca.teachers
            ),
            None,
        )
        if owner is None:  # lessons of nobody: left to phase 2
            return
        kind, who = owner
        k, R = md.min_days, c.R
        for d0 in range(c.MD):
            if d0 + k > c.MD and d0 > 0:
                break
            window = range(d0 * R, min(c.MD, d0 + k) * R)
            ys = [
                self.y(a, d)
                for a in md.activities
                for d in window
                if any(t // c.H == d for t in self.x[a])
            ]
            if len(ys) < 2:
                continue
            e = m.new_int_var(0, len(ys) - 1, "")
            m.add(e >= sum(ys) - 1)
            self.penalties.append((e, len(ys) - 1))
            self.penalty_owner.append((kind, who, d0 * R))  # its first day
            self.penalty_hard.append(False)

    def _adjacent_if_same_day(self, a: int, b: int) -> None:
        """On one day, `a` and `b` are back to back (either order)."""
        m, c, H = self.m, self.c, self.c.H
        da = c.activities[a].duration
        db = c.activities[b].duration
        for t, lit in self.x[a].items():
            d = t // H
            ok = [self.x[b][s] for s in (t + da, t - db) if s in self.x[b] and s // H == d]
            for e in range(t // c.MH * c.R, t // c.MH * c.R + c.R):  # its real day
                m.add_bool_or([lit.Not(), self.y(b, e).Not(), *ok])

    def _days_apart(self, md: CMinDays, k: int) -> bool:
        """Whether the activities' allowed days admit `k` days between them."""
        MH = self.c.MH
        doms = [sorted({t // MH for t in self.x[a]}) for a in md.activities]
        if len(doms) > 8:
            return True

        def place(i: int, chosen: list[int]) -> bool:
            if i == len(doms):
                return True
            return any(
                place(i + 1, [*chosen, d]) for d in doms[i] if all(abs(d - e) >= k for e in chosen)
            )

        return place(0, [])

    # --- pairwise time relations ---------------------------------------------------
    def _soft_pairs(self) -> None:
        """Soft same starting times (each pair apart costs once, as the
        checker counts it) and soft consecutive pairs."""
        m, c = self.m, self.c
        for group, cost in c.same_start_soft:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    v = m.new_bool_var("")
                    for t, la in self.x[a].items():
                        lb = self.x[b].get(t)
                        m.add(v >= la - (lb if lb is not None else 0))
                    self.costs.append((cost, v, 1))
        for group, cost in c.same_hour_soft:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    v = m.new_bool_var("")
                    for h in range(c.H):
                        at_a = sum(lit for t, lit in self.x[a].items() if t % c.H == h)
                        at_b = sum(lit for t, lit in self.x[b].items() if t % c.H == h)
                        m.add(v >= at_a - at_b)
                    self.costs.append((cost, v, 1))
        for a, b, cost in c.consecutive_soft:
            v = m.new_bool_var("")
            for t, la in self.x[a].items():
                s = c.next_start(a, t)
                lb = self.x[b].get(s) if s is not None else None
                m.add(v >= la - (lb if lb is not None else 0))
            self.costs.append((cost, v, 1))

    def _pairs(self) -> None:
        m, c = self.m, self.c
        for group in c.same_start:
            for a, b in itertools.pairwise(group):
                for t in set(self.x[a]) | set(self.x[b]):
                    la, lb = self.x[a].get(t), self.x[b].get(t)
                    if la is not None and lb is not None:
                        m.add(la == lb)
                    elif la is not None:
                        m.add(la == 0)
                    elif lb is not None:
                        m.add(lb == 0)
        for group in c.same_day:
            for a, b in itertools.pairwise(group):
                for d in range(c.D):
                    m.add(self.y(a, d) == self.y(b, d))
        for group, g in c.min_gaps:
            # each lesson covers its hours and the g after it (on its day):
            # no two of them cover one slot
            for t in range(c.S):
                lits = [
                    lit
                    for a in group
                    for s, lit in self.x[a].items()
                    if s <= t < s + c.activities[a].duration + g and s // c.H == t // c.H
                ]
                if len(lits) > 1:
                    m.add_at_most_one(lits)
        for group in c.same_hour:
            for a, b in itertools.pairwise(group):
                m.add(self.hour(a) == self.hour(b))
        for group, slots, k in c.max_simultaneous:
            for t in slots:
                lits = [lit for a in group for lit in self.covering(a, t)]
                if len(lits) > k:
                    m.add(sum(lits) <= k)
        for a, b in c.ordered:
            # a start's slot index orders days, then hours (no lesson
            # crosses the end of its day)
            m.add(self.S(b) >= self.S(a) + c.activities[a].duration)
        for a, b in c.ordered_same_day:
            for d in range(c.D):
                m.add(self.S(b) >= self.S(a) + c.activities[a].duration).only_enforce_if(
                    [self.y(a, d), self.y(b, d)]
                )
        for group, k, cost in c.max_days_between:
            if k >= c.D - 1:
                continue  # no two days are further apart
            days = [sum(d * self.y(a, d) for d in range(c.D)) for a in group]
            if cost == 0:
                lo, hi = m.new_int_var(0, c.D - 1, ""), m.new_int_var(0, c.D - 1, "")
                for day in days:
                    m.add(lo <= day)
                    m.add(day <= hi)
                m.add(hi - lo <= k)
            elif self.soft:
                for i, di in enumerate(days):
                    for dj in days[i + 1 :]:
                        e = m.new_int_var(0, c.D, "")
                        m.add(e >= di - dj - k)
                        m.add(e >= dj - di - k)
                        self.costs.append((cost, e, c.D))
        for three in c.grouped3:
            orders = list(itertools.permutations(three))
            chosen = [m.new_bool_var("") for _ in orders]
            m.add_exactly_one(chosen)
            for o, (p, q, r) in zip(chosen, orders, strict=True):
                self._follows_if(o, p, q)
                self._follows_if(o, q, r)
        for group, slots, k in c.occupy_max:
            occs: list[Lit] = []
            for t in slots:
                lits = [lit for a in group for lit in self.covering(a, t)]
                if lits:
                    v = m.new_bool_var("")
                    for lit in lits:
                        m.add_implication(lit, v)
                    occs.append(v)
            m.add(sum(occs) <= k)
        for a, b in c.consecutive:
            for t, lit in self.x[a].items():
                s = c.next_start(a, t)
                if s is not None and s in self.x[b]:
                    m.add_implication(lit, self.x[b][s])
                else:
                    m.add(lit == 0)
        if self.soft:
            self._soft_pairs()
        for a, b in c.grouped:
            for t, lit in self.x[a].items():
                s = c.next_start(a, t)
                ok = [self.x[b][s]] if s is not None and s in self.x[b] else []
                ok += [lb for tb, lb in self.x[b].items() if c.next_start(b, tb) == t]
                m.add_bool_or([lit.Not(), *ok])

    def hour(self, a: int) -> LinExpr:
        """The hour activity a starts at."""
        H = self.c.H
        return sum((t % H) * lit for t, lit in self.x[a].items())

    def _follows_if(self, o: Lit, a: int, b: int) -> None:
        """When o: b starts right after a (breaks between allowed)."""
        for t, lit in self.x[a].items():
            s = self.c.next_start(a, t)
            if s is not None and s in self.x[b]:
                self.m.add_bool_or([o.Not(), lit.Not(), self.x[b][s]])
            else:
                self.m.add_bool_or([o.Not(), lit.Not()])

    # --- rooms ---------------------------------------------------------------------
    def _rooms(self) -> None:
        m, c = self.m, self.c
        users: dict[int, list[int]] = defaultdict(list)
        for a in c.activities:
            self.z.append({})
            if a.rooms is None:
                continue
            if not a.rooms:
                self.infeasible_reason = f"activity {a.id} has no suitable room"
                m.add_bool_or([])
                continue
            if len(a.rooms) == 1 or not self.room_choice:
                if len(a.rooms) > 1:
                    for r in a.rooms:
                        if r != NO_ROOM:
                            users[r].append(a.index)
                    continue
                r0 = a.rooms[0]
                na = c.rooms[r0].unavailable if r0 != NO_ROOM else set()
                # starts that would put it into its room's unavailable slots
                for t, lit in self.x[a.index].items():
                    if any(s in na for s in range(t, t + a.duration)):
                        m.add(lit == 0)
            else:
                zs = {r: m.new_bool_var(f"z{a.id}_{r}") for r in a.rooms}
                m.add_exactly_one(zs.values())
                self.z[a.index] = zs
                for r, zr in zs.items():
                    if r != NO_ROOM and c.rooms[r].unavailable_soft and self.soft:
                        # a lesson in the room at its soft closed hours
                        for t, lit in self.x[a.index].items():
                            k = c.rooms[r].soft_cost(t, a.duration)
                            if k:
                                both = m.new_bool_var("")
                                m.add(both >= lit + zr - 1)
                                self.costs.append((k, both, 1))
                    na = c.rooms[r].unavailable if r != NO_ROOM else set()
                    if not na:
                        continue
                    for t, lit in self.x[a.index].items():
                        if any(s in na for s in range(t, t + a.duration)):
                            m.add_bool_or([lit.Not(), zr.Not()])
            for r, v in a.room_cost.items():
                if not self.soft:
                    break
                if len(a.rooms) == 1:
                    self.costs.append((v, 1, 1))
                else:
                    self.costs.append((v, self.z[a.index][r], 1))
            for r in a.rooms:
                if r != NO_ROOM:
                    users[r].append(a.index)
        for r, acts in users.items():
            fixed = [ai for ai in acts if len(c.activities[ai].rooms or []) == 1]
            if not self.room_choice:
                if len(fixed) > 1:
                    for t in range(c.S):
                        lits = [lit for ai in fixed for lit in self.covering(ai, t)]
                        if len(lits) > 1:
                            m.add_at_most_one(lits)
                continue
            if len(fixed) == len(acts):
                for t in range(c.S):
                    lits = [lit for ai in acts for lit in self.covering(ai, t)]
                    if len(lits) > 1:
                        m.add_at_most_one(lits)
                continue
            if len(fixed) > 1:
                for t in range(c.S):
                    lits = [lit for ai in fixed for lit in self.covering(ai, t)]
                    if len(lits) > 1:
                        m.add_at_most_one(lits)
            intervals = []
            for ai in acts:
                dur = c.activities[ai].duration
                if self.z[ai]:
                    iv = m.new_optional_fixed_size_interval_var(self.S(ai), dur, self.z[ai][r], "")
                else:
                    iv = m.new_fixed_size_interval_var(self.S(ai), dur, "")
                intervals.append(iv)
            for lo, hi in _runs(sorted(c.rooms[r].unavailable), c.H):
                intervals.append(m.new_fixed_size_interval_var(lo, hi - lo, ""))
            m.add_no_overlap(intervals)
        if self.room_choice:
            for group, k in c.max_rooms:
                self._max_rooms(group, k)
        if self.hall_cuts:
            self._hall_cuts()

    def _max_rooms(self, group: list[int], k: int) -> None:
        """At most k rooms between these activities: a room is used when one
        of them takes it (always, for a fixed room)."""
        m, c = self.m, self.c
        used: dict[int, list[Lit]] = defaultdict(list)
        fixed: set[int] = set()
        for a in group:
            rooms = c.activities[a].rooms or []
            if len(rooms) == 1 and rooms[0] != NO_ROOM:
                fixed.add(rooms[0])
            for r, z in self.z[a].items():
                if r != NO_ROOM:
                    used[r].append(z)
        flags = []
        for r, zs in used.items():
            if r in fixed:
                continue
            u = m.new_bool_var("")
            for z in zs:
                m.add_implication(z, u)
            flags.append(u)
        m.add(sum(flags) <= k - len(fixed))

    def _hall_cuts(self) -> None:
        m, c = self.m, self.c

        def real(a: CActivity) -> bool:
            return bool(a.rooms) and NO_ROOM not in (a.rooms or [])

        multi = [a for a in c.activities if real(a) and len(a.rooms or []) > 1]
        if not multi:
            return
        sets = {frozenset(a.rooms or []) for a in multi}
        family = _union_closure(sets, limit=64)
        for fam in family:
            members = [a.index for a in c.activities if real(a) and set(a.rooms or []) <= fam]
            if len(members) <= len(fam):
                continue
            for t in range(c.S):
                cap = sum(1 for r in fam if t not in c.rooms[r].unavailable)
                lits = [lit for a in members for lit in self.covering(a, t)]
                if len(lits) > cap:
                    m.add(sum(lits) <= cap)

    # --- symmetry -------------------------------------------------------------------
    def _symmetry(self) -> None:
        for cls in self.c.symmetric:
            for a, b in itertools.pairwise(cls):
                self.m.add(self.S(a) < self.S(b))

    # --- objective --------------------------------------------------------------------
    def soft_upper_bound(self) -> int:
        return sum(cost * ub for cost, _, ub in self.costs)

    def soft_expr(self) -> LinExpr:
        return sum(cost * term for cost, term, _ in self.costs)

    def penalty_expr(self) -> LinExpr:
        """The relaxed hard limits' excess (0 in a timetable) and the
        relaxed soft min days' breaks."""
        return sum(term for term, _ in self.penalties)


def room_for(p: CPerson, per_day: list[int]) -> int:
    """The most lesson hours the person can have in a week: `per_day`, the
    slots their lessons can take each day, capped by a hard daily maximum,
    on at most their hard number of days (the fullest ones)."""
    caps = list(per_day)
    if p.max_hours_daily is not None and p.max_hours_daily[1] == 0:
        caps = [min(k, p.max_hours_daily[0]) for k in caps]
    if p.max_days is not None and p.max_days[1] == 0:
        caps = sorted(caps, reverse=True)[: p.max_days[0]]
    return sum(caps)


def _has_day_rules(p: CPerson) -> bool:
    return bool(
        p.max_gaps_week is not None
        or p.max_gaps_day is not None
        or p.early_max is not None
        or p.min_hours_daily is not None
        or p.max_hours_daily is not None
        or p.max_days is not None
        or p.max_hours_cont
        or p.interval_max_days
        or p.max_hours_real
        or p.min_days
        or p.max_span is not None
        or p.min_rest
    )


def _runs(slots: Iterable[int], H: int) -> list[tuple[int, int]]:
    """Maximal runs of consecutive slots within one day, as [lo, hi)."""
    out: list[tuple[int, int]] = []
    for t in slots:
        if out and out[-1][1] == t and t % H != 0:
            out[-1] = (out[-1][0], t + 1)
        else:
            out.append((t, t + 1))
    return out


def _union_closure(sets: set[frozenset[int]], limit: int) -> list[frozenset[int]]:
    """The sets and the unions of overlapping ones (capped)."""
    family = set(sets)
    frontier = set(sets)
    while frontier and len(family) < limit:
        new: set[frozenset[int]] = set()
        for a in frontier:
            for b in family:
                if a & b and not a <= b and not b <= a:
                    u = a | b
                    if u not in family:
                        new.add(u)
        family |= new
        frontier = new
    return sorted(family, key=lambda s: (len(s), sorted(s)))
