"""The timetable solver: OR-Tools CP-SAT on the compiled model.

`solve(instance, …)` builds the model (`solver_compile` turns the typed
constraints into index-level data, `solver_model` the CP-SAT model), runs
CP-SAT with the given seed and worker count, reports every improving
timetable through `on_progress`, honours `stop` (returning the best timetable
so far) and `improve_s` (how long to keep improving the soft score after the
first complete timetable), and returns the best timetable found.

Every hard constraint (weight 100) is enforced; every soft one is costed in
the objective with its FET weight, so the objective is FET's "total soft
conflicts" (× `SCALE`). A constraint the solver cannot handle raises
`UnsupportedConstraintError` naming it.

Warm start: the given timetable is the solution hint. With `minimal_change`
the objective is lexicographic: first the number of lessons whose
(day, hour) differs from the warm start, then the soft score. It is a local
repair (`solver_repair`): every lesson the change leaves placed validly keeps
its (day, hour) and only the disturbed ones are free; when CP-SAT proves that
is not enough (or runs out of its deterministic budget), growing rings
around them are freed — their teachers', subgroups' and rooms' lessons on
the same days, one more day at a time, then the people of those — until a
complete timetable is found, fewest moved within the freed lessons. A
neighbourhood search around the moved lessons then moves lessons back, and
phase 2 lowers the soft score with the moved count capped. Only when the
repair fails does the cold search run, its result then moved back the same
way.

Determinism: the same instance, seed and worker count give the same
timetable whenever the run ends by itself (optimal, or its search
exhausted) rather than by the wall clock: one worker is deterministic as it
is; with several, CP-SAT's interleaved search is used unless
`deterministic=False`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import msgspec
from ortools.sat.python import cp_model

from scheduling.checker import CheckReport, check
from scheduling.model import Instance, Placement, Timetable
from scheduling.solver_compile import (
    FET_READING_BROKEN_MAX,
    NO_ROOM,
    Compiled,
    UnsupportedConstraintError,
    broken_pairs,
    compile_instance,
    fet_reading_capped,
    fet_reading_excess,
    fixed_room,
    spread_breaks,
)
from scheduling.solver_model import Builder
from scheduling.solver_repair import (
    around_moved,
    disturbed,
    keys_by_activity,
    must_move,
    widening,
)
from scheduling.solver_rooms import assign_rooms
from scheduling.solver_swap import Spreads, Swapping, kernel_ready, relaxed_after, warm_up
from scheduling.solver_swap import applies as swap_applies
from scheduling.solver_swap import day_rules as swap_day_rules
from scheduling.solver_swap import every_day as swap_every_day
from scheduling.solver_swap import intervals as swap_intervals

__all__ = [
    "Progress",
    "SolveResult",
    "UnsupportedConstraintError",
    "solve",
]


#: search the times first (rooms as capacity cuts) when rooms are to be chosen
TIMES_FIRST = True

#: phase 1 relaxes hard gap limits above zero (teachers' "at most 3 gaps a
#: week") into a penalty, the excess over the limit, and minimises it: a
#: timetable is a solution of penalty 0, and the search is guided towards it
#: instead of having to satisfy the limits from the start (the German
#: secondary school: seeds 1 and 3 found nothing in 300 s; relaxed they
#: reach 0 in about 25 s of CPU)
RELAX_GAPS = True
#: phase 1 without the soft min days enforced (after trying them as hard)
#: relaxes them into penalties beside the gap limits': a relaxed solution
#: breaking only them is a timetable, and the neighbourhood search goes on
#: while it breaks fewer (`RELAX_VALID_STALL`). The German secondary school
#: (161 spreads at 95 %, which phase 1 could not enforce on four seeds of
#: five): on seeds 2 and 3, a best timetable of soft score 4.75 and 8.55
#: after 31 and 33 s of this search alone, against 56-67 from the search
#: without them (and 30.40-53.20 after 20 s more of improving that one)
RELAX_MIN_DAYS = True
#: … where CP-SAT stops at its first solution and a neighbourhood search
#: takes the penalty to 0: each step frees the lessons of a person over a
#: relaxed limit on two of their days and one more, widening to the people
#: of the lessons taken in until about `size` are free (from
#: `RELAX_LNS_START_SIZE`; growing when a step is solved to optimality
#: without progress, shrinking when it ends undecided), fixes the rest, caps
#: the penalty at the best so far and runs CP-SAT within `RELAX_LNS_STEP_S`
#: of deterministic time (German school: from the first solution to 0 in
#: about 4 s of CPU, against 10-15 s for CP-SAT's own descent)
RELAX_LNS_STEP_S = 1.0
RELAX_LNS_START_SIZE = 60
#: once a relaxed solution breaks only soft min days (`RELAX_MIN_DAYS`), the
#: neighbourhood search goes on while it breaks fewer, and stops after this
#: many steps in a row without a lower penalty
RELAX_VALID_STALL = 8

#: time for a first timetable with the soft min days between activities
#: enforced, before searching without them: this share of the time limit, at
#: least `MIN_DAYS_HARD_S` seconds (but at most half the limit). At the last
#: cap, each proof that the model is infeasible names a few of them to leave
#: soft (`_Solver._drop_min_days_core`, within that budget again) and starts
#: another try, while the tries end by `MIN_DAYS_LOOP_SHARE` of the time
#: limit. Such a retry gets `MIN_DAYS_RETRY_FACTOR` times the longest proof
#: so far (within the budget): where the proofs were quick, a retry that
#: takes much longer has met a model as hard as the one without them
#: (Shipena, Namibia: without its spreads CP-SAT finds no timetable in 180 s;
#: with all but 10 of its 309, it finds one in 18 s, after proofs of 9-34 s;
#: the German secondary school's retries were undecided after 45 s, after
#: proofs of 4-19 s)
MIN_DAYS_HARD_SHARE = 0.15
MIN_DAYS_HARD_S = 30.0
MIN_DAYS_LOOP_SHARE = 0.5
MIN_DAYS_RETRY_FACTOR = 3.0

#: schools whose hard constraints `solver_swap` enforces (`applies`): the
#: recursive swapping has a first turn (`SWAP_FIRST_S`) when its kernel is
#: at hand; then CP-SAT's phase 1 for `swap_after(time limit)` seconds;
#: when that has no timetable, the swapping goes on until `SWAP_SHARE` of
#: the time limit. CP-SAT finds none for the exact packings (GYR, Shipena,
#: Collegiate Junior School) and places a few schools the swapping is slow
#: on (JMSS, ConcordiaY15T1a: 13–19 s)
SWAP = True
SWAP_AFTER_S = 20.0
SWAP_AFTER_SHARE = 0.1
SWAP_SHARE = 0.9
#: the swapping's kernel is compiled in a second thread from this many
#: seconds before phase 1 gives way to it, but not in phase 1's first
#: `SWAP_WARM_UP_AFTER_S`, where CP-SAT solves the schools it solves quickly
#: (Namibia's in 1–16 s) and should have the core to itself: only when it
#: is not in numba's cache yet (the first solve on a machine). The
#: compilation takes about 20 s of CPU, more beside CP-SAT on one core
#: (CP-SAT releases the interpreter lock while it searches)
SWAP_WARM_UP_LEAD_S = 20.0
SWAP_WARM_UP_AFTER_S = 10.0
#: the swapping's first turn, before CP-SAT's phase 1, when its kernel is at
#: hand (compiled, or in numba's cache): `SWAP_FIRST_SHARE` of the time
#: limit, at most `SWAP_FIRST_S`; phase 1 then has its `swap_after` from the
#: end of that turn, and the swapping goes on from where it stopped after
#: it. Swapping alone places 33 of the 41 fet-data schools it takes within
#: 30 s, 27 of them within 2.5 s (Namibia's: CP-SAT's phase 1 took 1–40 s),
#: and KalengaPSY2017T1d, Van_RhynFinal in 12 and 10 s, which CP-SAT did not
#: place in 20 s
SWAP_FIRST_S = 10.0
SWAP_FIRST_SHARE = 0.2
#: a school the swapping takes for its day rules (`solver_swap.day_rules`:
#: zero gaps, early beginnings, daily hours, selections), which CP-SAT's
#: phase 1 took before: when the first turn ends with at most this share of
#: the units unplaced, the swapping goes on at once (to `SWAP_SHARE` of the
#: limit); with more, phase 1 has the time it had before (not cut at
#: `swap_after`) and the swapping does not go on. The German secondary
#: school (fet-data, public set): about 30 % unplaced after 10 s, placed by
#: the swapping alone in 26 s to more than 60 s (seeds 1-4), with a soft
#: score of 24.70 after 20 s of improvement where CP-SAT's timetable gave
#: 10.45 (seed 1, 300 s limit); lycee-Farabi (Morocco), which phase 1 does
#: not place in 120 s: about 6 % unplaced after 10 s, placed in 6-25 s
SWAP_CLOSE_SHARE = 0.1
#: … and such a school's first turn is this short: long enough to tell
#: (lycee-Farabi about 7 % unplaced after 5 s, the German school about
#: 30 %), and those that the swapping places at once are placed in it
#: (Romania's Tg-Mures, Brazil-more-difficult, Computers-Craiova,
#: Lom_high_school: 0.4-1.4 s), while a school CP-SAT places waits less
SWAP_FIRST_DAY_RULES_S = 5.0
#: any other school with at most `SWAP_CLOSE_SHARE` of its units unplaced
#: after the first turn has this much more swapping (at most
#: `SWAP_FIRST_SHARE` of the limit) before CP-SAT's phase 1, which then has
#: `swap_after` as before, and the swapping the rest. Swapping alone, seed 1, units
#: left after 10 s → placed at: KalengaPSY2017T1d 12 of 516 → 11.4 s,
#: Van_RhynFinal 1 of 465 → 12.1 s; JMSS 43 of 1,032 and MHS_Covid_Final 17
#: of 1,078 → not in 60 s (phase 1 places them). Solves, 60 s, seeds 1 / 2,
#: first timetable without → with it: Kalenga 29.6 → 12.5 s / 2.2 → 2.1 s,
#: Van_RhynFinal 33.0 → 11.7 s / 6.8 → 7.1 s, JMSS 30.2 → 33.7 s / 19.8 →
#: 24.4 s, MHS_Covid_Final 16.7 → 23.9 s / 15.6 → 24.2 s (FET: Kalenga
#: 5.5-7.2 s, Van_RhynFinal 4.6-12.2 s, JMSS 32.8 s, MHS_Covid_Final none
#: in 60 s)
SWAP_CLOSE_EXTRA_S = 5.0
#: the first turn of a school with a hard max days in an interval, after
#: which CP-SAT's phase 1 has `swap_after` and the swapping the rest (not
#: the day-rule schools' way): the swapping alone places TelPolytech_even
#: (Indonesia: 144 students sets on at most 5 days in the last hour; phase
#: 1 none in 120 s on seeds 2 and 3) in 0.0-0.4 s (seeds 1-3), but leaves
#: 13-17 units of Khoi-sang (Vietnam) after 30 s and 45-50 of Spain's
#: school.fet (public set) on two seeds of three, which phase 1 places in
#: 10-22 s and 1-2 s. Seeds 1 and 2 against no first turn: TelPolytech_even
#: 0.6 / 0.7 s (20.8 / 20.9), school.fet 2.1 / 2.4 (1.3 / 2.2), Khoi-sang
#: 17.0 / 11.4 (16.0 / 10.5), Anna University 1.0 / 1.0 (0.5 / 0.5); a
#: turn of 1.5 s cost school.fet 1.2-4.1 s
SWAP_FIRST_INTERVAL_S = 0.5
#: the first turn of a school with min hours on every day (empty ones too:
#: `solver_swap.every_day`), which CP-SAT's phase 1 placed before: the
#: swapping alone places School-10-Oradea in 0.1-0.6 s and Orar_5_3 in
#: 0.1-1.6 s on two seeds of three, and not Hungary's vmg-20180901b-2
#: (public set), whose phase 1 then starts this much later (with 5 s: its
#: first timetable 31-38 s after 27-30 s, seeds 1-3)
SWAP_FIRST_EVERY_S = 2.0


#: the swapping's turn after CP-SAT's phase 1 takes its forced starts in
#: FET's order (`solver_swap.Construction.fet_order`), as its first turn
#: does; off: by the least weight evicted. Swapping alone, 45 s, seed 1
#: (docs/benchmarks.md, "FET's order of the forced starts"): FET's order
#: places 95 of 110 fet-data schools, the weight 85, but GYR (public set)
#: is placed in the weight's order (seeds 1-8 within 130 s), and in FET's
#: order its seed 1 found nothing in 300 s, full solve
SWAP_FET_ORDER_AFTER = False


def swap_after(time_limit_s: float) -> float:
    """How long CP-SAT's phase 1 runs before the recursive swapping:
    `SWAP_AFTER_SHARE` of the limit, at least `SWAP_AFTER_S`, at most half."""
    return min(0.5 * time_limit_s, max(SWAP_AFTER_S, SWAP_AFTER_SHARE * time_limit_s))


#: the share of phase 2's neighbourhoods seeded at a lesson breaking more
#: pairs of a heavy soft min days than FET's reading gets past, while there
#: is one (`fet_reading_capped`; the improvement time then goes on to the
#: time limit, `_Run.excess`). Arabic_Saudi_2 (fet-data): three sets with
#: three lessons on a day were left after 20 s of improvement with the
#: neighbourhoods seeded at any broken pair
LNS_OVER_SHARE = 0.9

#: each phase-1 search first runs a light CP-SAT (one presolve round, no
#: probing, no inprocessing during the search) for at most `LIGHT_DET_S` of
#: deterministic time: an easy school is solved in a fraction of the full
#: presolve's time (Spain: 0.4 s against 1.8 s); otherwise the full search
#: runs as before, the light try having cost at most that budget
LIGHT_DET_S = 0.3
LIGHT_PARAMS: dict[str, object] = {
    "cp_model_probing_level": 0,
    "max_presolve_iterations": 1,
    "use_sat_inprocessing": False,
}

#: after CP-SAT's own improvement for this share of the improvement time (at
#: least `LNS_MAIN_MIN_S`), a large neighbourhood search for the rest: each
#: step re-places about `size` activities (starting at `LNS_START_SIZE`,
#: growing when a step is solved to optimality, shrinking when it improves
#: nothing) within a deterministic time of `LNS_STEP_S`
LNS = True
#: where the recursive swapping built the timetable (or had its first turn),
#: the improvement starts with it on the broken soft min days (`_spreads`),
#: for this share of the improvement time times the spreads' share of the
#: soft score (Lom, Bulgaria: 2.85 of 55 are spreads, the rest preferred
#: times that only CP-SAT's phase 2 lowers; with half of the time whatever
#: the share, 96.78 instead of 55.11). Lower on 10 of 16 runs of eight
#: fet-data files, higher on 3 (docs/benchmarks.md, "The swapping on the
#: spreads"): Van_RhynFinal 22.80 → 17.10 and 24.70 → 13.30, PBS 4.75 →
#: 0.95 and 4.75 → 1.90; lycee-Farabi 32.91 → 40.36 on seed 2
SPREADS_SHARE = 0.5
#: `_spreads` gives way to CP-SAT's phase 2 after so many attempts in a row
#: without a lower soft score (Shipena: 2 of its first 790 attempts gave a
#: timetable, about 13 ms an attempt)
SPREADS_STALL = 300
LNS_MAIN_SHARE = 0.05
LNS_MAIN_MIN_S = 1.0
LNS_START_SIZE = 60
LNS_MIN_SIZE = 15
LNS_STEP_S = 2.0
#: CP-SAT parameters of each neighbourhood step: one presolve round and no
#: probing (with most lessons fixed, the full presolve of the whole model
#: took about a third of a step's wall time on Hungary; with this the soft
#: score after 20 s went from 4.75 to 1.90 median over five seeds, and CP-SAT's
#: own search, which found nothing there in 3 s, gets 5 % of the time)
LNS_STEP_PARAMS: dict[str, object] = {
    "max_presolve_iterations": 1,
    "cp_model_probing_level": 0,
}

#: minimal change: each repair step (the lessons a change disturbs, then
#: growing rings around them free, the rest fixed at their current times)
#: gets this much deterministic time; a step freeing more than
#: `REPAIR_MAX_SHARE` of the activities is not tried (the cold search with
#: the moved count minimised afterwards is the last resort)
REPAIR_STEP_S = 5.0
REPAIR_MAX_SHARE = 0.8
#: … and after this many steps in a row that neither completed the timetable
#: nor proved the freed lessons unplaceable, the cold search takes over
REPAIR_UNKNOWN_MAX = 2
#: then moving lessons back: this share of the improvement time (the rest
#: lowers the soft score with the moved count capped) — or, after the cold
#: search, of the time left in the limit, whatever `improve_s` says: its
#: timetable moved nearly every lesson (the Argentinian school: 110 of 116
#: where 12-16 had to), so moving them back is still the search — in steps freeing
#: about `size` lessons around moved ones (from `MOVED_START_SIZE`), each
#: bounded by `LNS_STEP_S` of deterministic time; it ends early at the lower
#: bound (the lessons that cannot stay) or after `MOVED_STALL` steps without
#: a fewer-moved timetable
MOVED_SHARE = 0.7
MOVED_START_SIZE = 40
MOVED_STALL = 12


class Progress(msgspec.Struct, kw_only=True):
    elapsed_s: float
    #: best soft score so far (FET units); None before the first timetable
    soft: float | None
    #: hard violations left in the best timetable (CP-SAT's are always 0)
    hard_left: int | None
    solutions: int
    phase: str  # "model" | "search" | "improve" | "done"
    #: lessons moved from the warm start in the best timetable so far
    moved: int | None = None


class SolveResult(msgspec.Struct, kw_only=True):
    status: str  # "optimal" | "complete" | "incomplete" | "infeasible" | "stopped"
    timetable: Timetable | None
    soft: float | None
    wall_s: float
    first_complete_s: float | None
    workers: int
    seed: int
    #: lessons whose (day, hour) differs from the warm start
    moved: int | None
    solutions: int = 0
    #: why there is no timetable, when known
    message: str | None = None


class _Run:
    """What the search has found so far; shared with the callback."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.best: tuple[list[int], list[int | None]] | None = None
        self.timetable: Timetable | None = None
        self.soft: float | None = None
        self.moved: int | None = None
        #: its pairs of soft min days broken beyond FET's reading
        #: (`fet_reading_excess`): a timetable with fewer is better, whatever
        #: its soft score
        self.excess = 0
        self.solutions = 0
        self.first_s: float | None = None


class _Phase:
    """One CP-SAT model: the feasibility search or the soft improvement."""

    def __init__(
        self,
        name: str,
        comp: Compiled,
        *,
        soft: bool,
        symmetry: bool,
        room_choice: bool = True,
        min_days_hard: int = 0,
        min_days_dropped: frozenset[int] = frozenset(),
        relax_gaps: bool = False,
        relax_min_days: bool = False,
    ) -> None:
        self.name = name
        #: times only (rooms as capacity cuts): the first solution's starts
        self.times_only = not room_choice
        self.found: list[int] | None = None
        b = Builder(
            comp,
            symmetry=symmetry,
            soft=soft,
            room_choice=room_choice,
            min_days_hard=min_days_hard,
            min_days_dropped=min_days_dropped,
            relax_gaps=relax_gaps,
            relax_min_days=relax_min_days,
        )
        b.build()
        self.builder = b
        #: the model minimises relaxed hard limits (`Builder.relax_gaps`), and
        #: perhaps soft min days (`Builder.relax_min_days`): a solution with
        #: no hard penalty is a timetable
        self.relaxed = bool(b.penalties)
        self.penalty_var: cp_model.IntVar | None = None
        #: the least-penalty solution so far: (starts, rooms, penalty, each
        #: penalty term's value)
        self.relaxed_best: tuple[list[int], list[int | None], int, list[int]] | None = None
        #: the least-penalty solution so far whose hard penalties are 0 (only
        #: relaxed soft min days broken): a timetable, (starts, rooms, penalty)
        self.relaxed_valid: tuple[list[int], list[int | None], int] | None = None
        #: a timetable was found (recorded, or `found` with times only): a
        #: solution of penalty 0, or `relaxed_valid` as recorded
        self.complete = False
        #: the penalty of the `relaxed_valid` recorded as the timetable
        self.valid_recorded: int | None = None
        #: stop at the first solution of a relaxed model (`_Solver._descend`
        #: takes it from there)
        self.first_only = False
        if self.relaxed:
            ub = sum(u for _, u in b.penalties)
            self.penalty_var = b.m.new_int_var(0, ub, "penalty")
            b.m.add(self.penalty_var == b.penalty_expr())
            b.m.minimize(self.penalty_var)
        self.start_vars = [b.S(a.index) for a in comp.activities]
        self.fixed_room: list[int | None] = [fixed_room(a) for a in comp.activities]
        self.moved_var: cp_model.IntVar | None = None
        self.soft_var: cp_model.IntVar | None = None

    def hint(self, comp: Compiled, starts: list[int], rooms: list[int | None]) -> None:
        b = self.builder
        m = b.m
        for a, t, r in zip(comp.activities, starts, rooms, strict=True):
            for s, lit in b.x[a.index].items():
                m.add_hint(lit, s == t)
            zs = b.z[a.index]
            if zs:
                want = NO_ROOM if r is None else r
                if want in zs:
                    for rr, lit in zs.items():
                        m.add_hint(lit, rr == want)


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, solver: _Solver, phase: _Phase) -> None:
        super().__init__()
        self.s = solver
        self.phase = phase

    def on_solution_callback(self) -> None:
        s, ph = self.s, self.phase
        now = time.perf_counter() - s.t0
        starts = [int(self.value(v)) for v in ph.start_vars]
        if ph.relaxed:
            penalty = round(self.objective_value)
            # penalty above 0: a relaxed limit exceeded (not a timetable yet),
            # or only relaxed soft min days broken (a timetable: relaxed_valid)
            if penalty > 0:
                if ph.relaxed_best is None or penalty <= ph.relaxed_best[2]:
                    b = ph.builder
                    values = [int(self.value(t)) for t, _ in b.penalties]
                    ph.relaxed_best = (starts, self._rooms(), penalty, values)
                    hard = sum(v for v, h in zip(values, b.penalty_hard, strict=True) if h)
                    if hard == 0 and (ph.relaxed_valid is None or penalty < ph.relaxed_valid[2]):
                        ph.relaxed_valid = (starts, ph.relaxed_best[1], penalty)
                if ph.first_only:
                    self.stop_search()
                return
        ph.complete = True
        if ph.times_only:
            ph.found = starts
            self.stop_search()
            return
        rooms = self._rooms()
        moved = int(self.value(ph.moved_var)) if ph.moved_var is not None else None
        s.record(starts, rooms, moved, now)
        s.report(ph.name)
        if s.should_stop(ph.name):
            self.stop_search()

    def _rooms(self) -> list[int | None]:
        ph = self.phase
        if ph.times_only:
            return [None] * len(ph.start_vars)
        rooms: list[int | None] = []
        for a, zs in enumerate(ph.builder.z):
            if zs:
                chosen = next((r for r, v in zs.items() if self.boolean_value(v)), NO_ROOM)
                rooms.append(None if chosen == NO_ROOM else chosen)
            else:
                rooms.append(ph.fixed_room[a])
        return rooms


class _Solver:
    def __init__(
        self,
        instance: Instance,
        *,
        time_limit_s: float,
        seed: int,
        workers: int,
        warm_start: Timetable | None,
        minimal_change: bool,
        on_progress: Callable[[Progress], None] | None,
        stop: threading.Event | None,
        improve_s: float | None,
        deterministic: bool,
        params: dict[str, object] | None,
    ) -> None:
        self.t0 = time.perf_counter()
        self.instance = instance
        self.time_limit_s = time_limit_s
        self.seed = seed
        self.workers = max(1, workers)
        self.warm_start = warm_start
        self.minimal_change = minimal_change and warm_start is not None
        self.on_progress = on_progress
        self.stop = stop
        self.improve_s = improve_s
        self.deterministic = deterministic
        self.params = params or {}
        self.run = _Run()
        self.comp: Compiled | None = None
        self._solver: cp_model.CpSolver | None = None
        #: end of the current phase-1 attempt (elapsed seconds)
        self.deadline: float | None = None
        #: end of CP-SAT's phase 1 as a whole, when the recursive swapping
        #: takes over after it (elapsed seconds)
        self.search_end: float | None = None
        #: record a timetable only when it is no worse than the best
        #: ("soft": in soft score; "moved": in (moved, soft); "": always)
        self.keep_best = ""
        #: the warm start's start slot per activity (-1: not in it)
        self.warm_starts: list[int] | None = None
        #: phase 1 still tries the light search first (`_search`)
        self.light = True
        #: phase 1 no longer relaxes the soft min days (`RELAX_MIN_DAYS`): the
        #: least penalty of that model was above 0 with no timetable in it
        self.relax_min_days_off = False
        #: soft min days (indices into `Compiled.min_days`) phase 1 leaves
        #: soft after they made it infeasible (`_drop_min_days_core`)
        self.min_days_dropped: set[int] = set()
        #: the recursive swapping, made at its first turn (`_construct`)
        self.swapping: Swapping | None = None
        #: compiles the swapping's kernel during phase 1 (`SWAP_WARM_UP_LEAD_S`)
        self._warm_up: threading.Timer | None = None

    # progress ---------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def record(
        self,
        starts: list[int],
        rooms: list[int | None],
        moved: int | None,
        now: float,
        checked: tuple[Timetable, CheckReport] | None = None,
    ) -> None:
        """Keep the timetable (see `keep_best`); `checked`: it as a
        `Timetable` and its checker report, when the caller has them."""
        tt, report = checked if checked is not None else self._checked(starts, rooms)
        soft = report.soft
        run = self.run
        if self.warm_starts is not None:
            n = self.comp.lessons if self.comp is not None else len(starts)
            moved = sum(
                1 for w, t in zip(self.warm_starts[:n], starts[:n], strict=True) if 0 <= w != t
            )
        excess = fet_reading_excess(self.comp, starts) if self.comp is not None else 0
        if run.soft is not None:
            if self.keep_best == "soft" and (excess, soft) > (run.excess, run.soft):
                return
            if self.keep_best == "moved" and (moved or 0, excess, soft) > (
                run.moved or 0,
                run.excess,
                run.soft,
            ):
                return
        with run.lock:
            run.best = (starts, rooms)
            run.timetable = tt
            run.soft = soft
            run.moved = moved
            run.excess = excess
            run.solutions += 1
            if run.first_s is None:
                run.first_s = now

    def _checked(self, starts: list[int], rooms: list[int | None]) -> tuple[Timetable, CheckReport]:
        tt = self._timetable(starts, rooms)
        return tt, check(self.instance, tt)

    def report(self, phase: str) -> None:
        if self.on_progress is None:
            return
        run = self.run
        with run.lock:
            p = Progress(
                elapsed_s=self.elapsed(),
                soft=run.soft,
                hard_left=0 if run.best is not None else None,
                solutions=run.solutions,
                phase=phase,
                moved=run.moved,
            )
        self.on_progress(p)

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def should_stop(self, phase: str) -> bool:
        if self.stopped():
            return True
        if phase == "search":
            return False
        first = self.run.first_s
        return (
            first is not None
            and self.improve_s is not None
            and self.run.excess == 0
            and (self.elapsed() - first >= self.improve_s)
        )

    def remaining(self, phase: str) -> float:
        left = self.time_limit_s - self.elapsed()
        if phase == "search" and self.deadline is not None:
            left = min(left, self.deadline - self.elapsed())
        if phase == "search" and self.search_end is not None:
            left = min(left, self.search_end - self.elapsed())
        if (
            phase != "search"
            and self.improve_s is not None
            and self.run.first_s is not None
            and self.run.excess == 0  # else on to the time limit (`_Run.excess`)
        ):
            left = min(left, self.run.first_s + self.improve_s - self.elapsed())
        return left

    # one CP-SAT run -------------------------------------------------------------------
    def run_phase(
        self, ph: _Phase, extra: dict[str, object], model: cp_model.CpModel | None = None
    ) -> int:
        """Run CP-SAT on the phase's model (or `model`, a copy of it)."""
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = self.workers
        p.random_seed = self.seed
        p.max_time_in_seconds = max(0.01, self.remaining(ph.name))
        if self.workers > 1 and self.deterministic:
            p.interleave_search = True
        for k, v in {**extra, **self.params}.items():
            setattr(p, k, v)
        self.report(ph.name)
        status = self._watched(
            solver, ph.builder.m if model is None else model, ph.name, _Callback(self, ph)
        )
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"invalid CP-SAT model: {ph.builder.m.validate()}")
        self._solver = solver
        return int(status)

    def _watched(
        self,
        solver: cp_model.CpSolver,
        model: cp_model.CpModel,
        phase: str,
        callback: cp_model.CpSolverSolutionCallback | None = None,
    ) -> int:
        """`solver.solve(model)`, stopped when the phase should stop."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                if self.should_stop(phase):
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            return int(solver.solve(model, callback))
        finally:
            done.set()
            watcher.join()

    def _drop_min_days_core(self, comp: Compiled, symmetry: bool, cap: int) -> bool:
        """Phase 1 with the soft min days enforced (capped at `cap` days) is
        infeasible: name a set of them that is enough for that (CP-SAT's
        assumptions, one enforcement literal per constraint, times only) and
        leave the lightest of those soft from now on. True when some were
        dropped, so that the others are worth another try: a school's few
        spreads that cannot hold no longer cost every other class its spread
        (Sacred Heart College 2008: 197 soft min days, of which CP-SAT names
        8 that cannot all hold, and the one 95 % among them is left soft)."""
        if self.stopped() or self.remaining("search") <= 0.05:
            return False
        b = Builder(
            comp,
            symmetry=symmetry,
            soft=False,
            room_choice=False,
            min_days_hard=cap,
            min_days_dropped=frozenset(self.min_days_dropped),
            assume_min_days=True,
        )
        b.build()
        if not b.min_days_lits or b.infeasible_reason is not None:
            return False
        b.m.add_assumptions(list(b.min_days_lits.values()))
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.num_workers = 1
        p.random_seed = self.seed
        p.linearization_level = 0
        p.max_time_in_seconds = max(0.01, self.remaining("search"))
        if self._watched(solver, b.m, "search") != cp_model.INFEASIBLE:
            return False
        by_var = {lit.index: i for i, lit in b.min_days_lits.items()}
        core = [by_var[v] for v in solver.sufficient_assumptions_for_infeasibility() if v in by_var]
        if not core:
            return False
        # the lightest of them (a 95 % spread gives way before a 99 % one)
        least = min(comp.min_days[i].cost for i in core)
        self.min_days_dropped |= {i for i in core if comp.min_days[i].cost == least}
        return True

    # the whole solve -------------------------------------------------------------------
    def solve(self) -> SolveResult:
        try:
            return self._solve()
        finally:
            if self._warm_up is not None:
                self._warm_up.cancel()

    def _solve(self) -> SolveResult:
        if self.stopped():
            return self.result("stopped")
        self.report("model")
        comp = compile_instance(self.instance)
        self.comp = comp
        if self.minimal_change:
            return self._minimal_change(comp)
        symmetry = self.warm_start is None
        ws = self.warm_start.by_activity() if self.warm_start is not None else {}

        # a school whose hard constraints the recursive swapping enforces:
        # CP-SAT looks for the first timetable for a while, then the
        # swapping does (`_construct`)
        swap = SWAP and not ws and swap_applies(comp)
        if swap:
            # with the kernel at hand, the swapping's first turn comes first:
            # it places most such schools in seconds (`SWAP_FIRST_S`)
            ready = kernel_ready()
            day_rules = swap_day_rules(comp)
            intervals = swap_intervals(comp)
            every = swap_every_day(comp)
            if day_rules and not ready and not intervals:
                # the first solve on a machine: CP-SAT's phase 1 as before,
                # uncut (the demo school, whose year-wide lessons the
                # swapping does not place: about 300 of 436 lessons left
                # after 60 s, where CP-SAT places it in 36 s; cut at
                # `swap_after` for the swapping, 59 s)
                swap = False
            first = min(
                SWAP_FIRST_EVERY_S
                if every
                else SWAP_FIRST_DAY_RULES_S
                if day_rules
                else SWAP_FIRST_S,
                SWAP_FIRST_SHARE * self.time_limit_s,
            )
            if intervals:
                # a hard max days in an interval (`solver_swap.intervals`):
                # a first turn of `SWAP_FIRST_INTERVAL_S`, then CP-SAT's
                # phase 1 cut at `swap_after`, then the swapping
                first = min(first, SWAP_FIRST_INTERVAL_S)
            if swap and first > 0 and ready:
                if self._construct(comp, symmetry, self.elapsed() + first):
                    return self._improve(comp, False, ws, symmetry)
                if self.stopped():
                    return self.result("stopped")
                sw = self.swapping
                # not for min hours on every day: highschool-Ancona (Italy)
                # 6-12 units left after 20 s of swapping alone, where
                # phase 1 places it in 9.7 s (45.4 s with the swapping going on)
                close = (
                    sw is not None
                    and not every
                    and not intervals
                    and sw.left <= SWAP_CLOSE_SHARE * len(sw.con.units)
                )
                if close and not day_rules and SWAP_CLOSE_EXTRA_S > 0:
                    extra = min(SWAP_CLOSE_EXTRA_S, SWAP_FIRST_SHARE * self.time_limit_s)
                    if self._construct(comp, symmetry, self.elapsed() + extra):
                        return self._improve(comp, False, ws, symmetry)
                    if self.stopped():
                        return self.result("stopped")
                if sw is not None and day_rules and not intervals:
                    # close to done: the swapping goes on (CP-SAT's phase 1
                    # does not place lycee-Farabi); far from it, or when the
                    # swapping has not finished by SWAP_SHARE of the limit:
                    # CP-SAT's phase 1 as before, with the time left
                    if close:
                        if self._construct(comp, symmetry):
                            return self._improve(comp, False, ws, symmetry)
                        if self.stopped():
                            return self.result("stopped")
                    swap = False
        if swap:
            self.search_end = self.elapsed() + swap_after(self.time_limit_s)
            if not ready:
                # the kernel compiled meanwhile (CP-SAT's search runs without
                # the interpreter lock), late enough to spare the schools
                # CP-SAT solves quickly: not in phase 1's first SWAP_WARM_UP_AFTER_S
                at = max(self.search_end - SWAP_WARM_UP_LEAD_S, SWAP_WARM_UP_AFTER_S)
                self._warm_up = threading.Timer(max(0.0, at - self.elapsed()), warm_up)
                self._warm_up.daemon = True
                self._warm_up.start()

        # phase 1 first with the soft min days enforced (a first timetable
        # near the soft optimum), then with them capped at one day, each for a
        # part of the time; then without
        if not ws and any(md.cost for md in comp.min_days):
            caps = [max(md.min_days for md in comp.min_days if md.cost)]
            if caps[0] > 1:
                caps.append(1)
            loop_end = MIN_DAYS_LOOP_SHARE * self.time_limit_s
            for cap in caps:
                budget = self._min_days_budget()
                began = self.elapsed()
                self.deadline = began + budget
                outcome, optimal = self._phase1(comp, symmetry, ws, min_days_hard=cap)
                # at the last cap, a few constraints that cannot hold together
                # are left soft and the rest tried again (see MIN_DAYS_HARD_S)
                longest = self.elapsed() - began
                while outcome == "infeasible" and cap == caps[-1]:
                    began = self.elapsed()
                    self.deadline = _try_end(began, budget, loop_end)
                    if not self._drop_min_days_core(comp, symmetry, cap):
                        break
                    longest = max(longest, self.elapsed() - began)
                    began = self.elapsed()
                    self.deadline = _try_end(began, budget, loop_end, longest)
                    outcome, optimal = self._phase1(comp, symmetry, ws, min_days_hard=cap)
                    longest = max(longest, self.elapsed() - began)
                self.deadline = None
                self.min_days_dropped = set()
                if outcome == "found":
                    return self._improve(comp, optimal, ws, symmetry)
                if self.stopped():
                    return self.result("stopped")
                if outcome == "none":  # out of time: the looser cap will not do better
                    break
        outcome, optimal = self._phase1(comp, symmetry, ws, min_days_hard=0)
        if outcome == "none" and self.relax_min_days_off and not self.stopped():
            outcome, optimal = self._phase1(comp, symmetry, ws, min_days_hard=0)
        if outcome == "none" and swap and not self.stopped():
            self.search_end = None
            if self._construct(comp, symmetry, fet_order=SWAP_FET_ORDER_AFTER):
                outcome, optimal = "found", False
        if outcome == "found":
            return self._improve(comp, optimal, ws, symmetry)
        if outcome == "infeasible":
            return self.result("infeasible", message="no timetable satisfies the hard constraints")
        if outcome != "none":
            return self.result("infeasible", message=outcome)
        return self.result("stopped" if self.stopped() else "incomplete")

    def _construct(
        self, comp: Compiled, symmetry: bool, end: float | None = None, *, fet_order: bool = True
    ) -> bool:
        """A turn of the recursive swapping (`solver_swap.Swapping`, going on
        from its turn before) until `end`, by default `SWAP_SHARE` of the
        time limit; the timetable recorded when found (the one before its
        repair if the repair did not finish in the turn). When it
        exceeds gap limits above zero (the swapping keeps them only beside
        other day rules), the relaxed search takes the excess to zero from it.
        `fet_order`: the forced starts in FET's order (the first turn; see
        `SWAP_FET_ORDER_AFTER`)."""
        if self.swapping is None:
            self.swapping = Swapping(comp, seed=self.seed)
        self.swapping.con.fet_order = fet_order
        stop = SWAP_SHARE * self.time_limit_s if end is None else end  # leave phase 2 a little
        found = self.swapping.go(
            lambda: not self.stopped() and self.elapsed() < stop,
            lambda _left: self.report("search"),
        )
        if found is None:
            # a complete timetable whose repair did not finish (it may never:
            # ACHILES-MANHA's spread cannot hold): phase 2 costs what is left
            found = self.swapping.uncapped
        if found is None:
            return False
        if not relaxed_after(comp) or check(self.instance, self._timetable(*found)).hard == 0:
            self.record(*found, None, self.elapsed())
            self.report("search")
            return True
        return RELAX_GAPS and self._relaxed_from(comp, symmetry, *found)

    def _relaxed_from(
        self, comp: Compiled, symmetry: bool, starts: list[int], rooms: list[int | None]
    ) -> bool:
        """The relaxed search (`RELAX_GAPS`, `_descend`) from a timetable
        that breaks only gap limits above zero: their excess, taken to zero
        by the neighbourhood search. Whether a timetable was found."""
        extra: dict[str, object] = {"linearization_level": 0}
        ph = _Phase("search", comp, soft=False, symmetry=symmetry, relax_gaps=True)
        if ph.builder.infeasible_reason is not None or not ph.relaxed:
            return False
        ph.first_only = True
        sub = self._fixed_copy(ph, comp, set(), starts, rooms)
        self.run_phase(ph, {**extra, **LNS_STEP_PARAMS}, model=sub)
        if ph.relaxed_best is not None:
            self._descend(ph, int(cp_model.UNKNOWN), extra)
        return self.run.best is not None

    # minimal change ------------------------------------------------------------------
    def _minimal_change(self, comp: Compiled) -> SolveResult:
        """Re-solve from the warm start moving as few lessons as possible:
        repair locally (`_repair`), else solve cold; then move lessons back
        (`_fewer_moved`); then lower the soft score with the moved count
        capped (`_improve`)."""
        assert self.warm_start is not None
        ws = self.warm_start.by_activity()
        base = _Phase("search", comp, soft=False, symmetry=False)
        if base.builder.infeasible_reason is not None:
            return self.result("infeasible", message=base.builder.infeasible_reason)
        base.moved_var = self._moved(base, ws)
        base.builder.m.minimize(base.moved_var)
        starts, rooms = self._warm(comp, ws)
        self.warm_starts = starts
        outcome = self._repair(comp, base, starts, rooms)
        cold = outcome == "none"
        if outcome == "infeasible":
            return self.result("infeasible", message="no timetable satisfies the hard constraints")
        if outcome == "none":
            if self.stopped():
                return self.result("stopped")
            # last resort: the cold search, then lessons moved back from there
            self.minimal_change = False
            try:
                outcome, _ = self._phase1(comp, True, {}, min_days_hard=0)
            finally:
                self.minimal_change = True
            if outcome == "infeasible":
                return self.result(
                    "infeasible", message="no timetable satisfies the hard constraints"
                )
            if outcome != "found":
                if outcome != "none":
                    return self.result("infeasible", message=outcome)
                return self.result("stopped" if self.stopped() else "incomplete")
        optimal = outcome == "optimal" or self._fewer_moved(
            comp, base, must_move(comp, starts), cold=cold
        )
        if self.stopped():
            return self.result("stopped")
        if self.remaining("improve") <= 0.05:  # not even the soft model's build
            return self.result("complete")
        return self._improve(comp, optimal, ws, symmetry=False)

    def _fixed_copy(
        self,
        ph: _Phase,
        comp: Compiled,
        free: frozenset[int] | set[int],
        starts: list[int],
        rooms: list[int | None],
    ) -> cp_model.CpModel:
        """A copy of the phase's model with every activity outside `free`
        fixed at `starts` (rooms left free), hinted with `starts`/`rooms`."""
        sub = ph.builder.m.clone()
        proto = sub.proto
        for a in comp.activities:
            if a.index in free:
                continue
            for t, lit in ph.builder.x[a.index].items():
                v = 1 if t == starts[a.index] else 0
                _set_domain(proto.variables[lit.index].domain, v, v)
        sub.clear_hints()  # type: ignore[no-untyped-call]
        for a, t, r in zip(comp.activities, starts, rooms, strict=True):
            xs = ph.builder.x[a.index]
            if t in xs:
                for s, lit in xs.items():
                    sub.add_hint(lit, s == t)
            zs = ph.builder.z[a.index]
            want = NO_ROOM if r is None else r
            if zs and want in zs:
                for rr, lit in zs.items():
                    sub.add_hint(lit, rr == want)
        return sub

    def _repair(
        self, comp: Compiled, base: _Phase, starts: list[int], rooms: list[int | None]
    ) -> str:
        """Free the lessons the change disturbs and growing rings around
        them, everything else at its current time, until CP-SAT completes
        the timetable (fewest moved within the freed lessons). Returns
        "found", "optimal" (nothing had to stay fixed and the moved count is
        proved minimal), "infeasible" (proved with everything free) or
        "none"."""
        n = len(comp.activities)
        seeds = disturbed(comp, starts, rooms)
        unknown = 0
        for level, free in enumerate(widening(comp, starts, rooms, seeds)):
            if self.stopped() or self.remaining("search") <= 0.05:
                return "none"
            if len(free) > max(REPAIR_MAX_SHARE * n, len(seeds)):
                return "none"
            sub = self._fixed_copy(base, comp, free, starts, rooms)
            status = self.run_phase(
                base,
                {
                    "linearization_level": 0,
                    "random_seed": self.seed + level,
                    "max_deterministic_time": REPAIR_STEP_S,
                },
                model=sub,
            )
            if self.run.best is not None:
                return "optimal" if status == cp_model.OPTIMAL and len(free) == n else "found"
            if status == cp_model.INFEASIBLE and len(free) == n:
                return "infeasible"
            unknown = 0 if status == cp_model.INFEASIBLE else unknown + 1
            if unknown >= REPAIR_UNKNOWN_MAX:  # larger steps will not be easier
                return "none"
        return "none"

    def _fewer_moved(self, comp: Compiled, base: _Phase, bound: int, *, cold: bool) -> bool:
        """Move lessons back: a neighbourhood search around the moved lessons
        with the moved count as the objective, capped at the best so far, for
        `MOVED_SHARE` of the improvement time — or, after the cold search
        (`cold`: most lessons moved), of the time left in the limit, as part
        of the search. True when the count is proved minimal (it reached
        `bound`, or a step with nothing fixed was optimal)."""
        assert self.warm_starts is not None and base.moved_var is not None
        warm = self.warm_starts
        n = len(comp.activities)
        rng = random.Random(self.seed)
        size = MOVED_START_SIZE
        first = self.run.first_s or self.elapsed()
        window = self.time_limit_s - first
        if self.improve_s is not None and not cold:
            window = min(window, self.improve_s)
        until = first + MOVED_SHARE * window
        moved_ix = base.moved_var.index
        phase = "search" if cold else "improve"  # the improvement time applies from here
        base.name = phase
        self.keep_best = "moved"
        stall = 0
        it = 0
        proved = False
        try:
            while not self.stopped() and stall < MOVED_STALL:
                best = self.run.moved or 0
                if best <= bound:
                    proved = True
                    break
                if self.elapsed() >= until - 0.2 or self.remaining(phase) <= 0.2:
                    break
                it += 1
                assert self.run.best is not None
                cur, rooms = self.run.best
                keys = keys_by_activity(comp, rooms)
                by_key: dict[tuple[str, int], list[int]] = defaultdict(list)
                for a, ks in enumerate(keys):
                    for k in ks:
                        by_key[k].append(a)
                free = around_moved(comp, warm, cur, keys, by_key, rng, size)
                sub = self._fixed_copy(base, comp, free, cur, rooms)
                _set_domain(sub.proto.variables[moved_ix].domain, 0, best)
                status = self.run_phase(
                    base,
                    {
                        "linearization_level": 0,
                        "random_seed": self.seed + it,
                        "max_deterministic_time": LNS_STEP_S,
                    },
                    model=sub,
                )
                if status == cp_model.OPTIMAL and len(free) == n:
                    proved = True
                    break
                if (self.run.moved or 0) < best:
                    stall = 0
                else:
                    stall += 1
                if status == cp_model.OPTIMAL:
                    size = min(n, int(size * 1.5) + 1)
                elif status != cp_model.FEASIBLE:
                    size = max(LNS_MIN_SIZE, int(size * 0.8))
        finally:
            self.keep_best = ""
            base.name = "search"
        return proved

    def _search(self, ph: _Phase, extra: dict[str, object]) -> int:
        """A phase-1 run: the light try first (not with the moved count as
        the objective, and not after a light try ended undecided), then,
        when it ended undecided, the full search. On a relaxed model both
        stop at the first solution and `_descend` takes the penalty to 0."""
        ph.first_only = ph.relaxed
        if LIGHT_DET_S > 0 and ph.moved_var is None and self.light:
            status = self._run_search(
                ph, {**extra, **LIGHT_PARAMS, "max_deterministic_time": LIGHT_DET_S}
            )
            # not an easy school: no light try for the later attempts
            self.light = status != cp_model.UNKNOWN
            if (
                status != cp_model.UNKNOWN
                or ph.found is not None
                or ph.relaxed_best is not None
                or self.run.best is not None
                or self.stopped()
                or self.remaining(ph.name) <= 0.05
            ):
                return self._descend(ph, status, extra)
        return self._descend(ph, self._run_search(ph, extra), extra)

    def _run_search(self, ph: _Phase, extra: dict[str, object]) -> int:
        """`run_phase` for phase 1, its status in feasibility terms: on a
        relaxed model (`_Phase.relaxed`) a penalty above 0 is not a
        timetable (UNKNOWN when not proved, INFEASIBLE when proved)."""
        status = self.run_phase(ph, extra)
        if not ph.relaxed or ph.found is not None or self.run.best is not None:
            return status
        if status == cp_model.OPTIMAL:
            if all(ph.builder.penalty_hard):
                return int(cp_model.INFEASIBLE)  # the least penalty is above 0
            # some of the least penalty is soft min days: the best timetable
            # (none: not a proof, a spread may have been kept for a gap limit)
            return self._take_valid(ph)
        return int(cp_model.UNKNOWN) if status == cp_model.FEASIBLE else status

    def _record_valid(self, ph: _Phase) -> None:
        """Record the relaxed search's best solution with no hard penalty
        as a timetable (rooms chosen for it when the phase has times only;
        not recorded when they do not fit)."""
        assert ph.relaxed_valid is not None and self.comp is not None
        starts, rooms, penalty = ph.relaxed_valid
        if ph.times_only:
            chosen = assign_rooms(
                self.comp,
                starts,
                time_limit_s=max(0.01, min(10.0, self.remaining("search"))),
                seed=self.seed,
            )
            if chosen is None:
                return
            rooms = chosen
        self.record(starts, rooms, None, self.elapsed())
        self.report(ph.name)
        ph.valid_recorded = penalty

    def _take_valid(self, ph: _Phase) -> int:
        """The relaxed search's best solution with no hard penalty (only
        relaxed soft min days broken) as the timetable, recorded unless it
        already is: OPTIMAL; without one, UNKNOWN, and phase 1 no longer
        relaxes the soft min days."""
        if ph.relaxed_valid is None:
            self.relax_min_days_off = True
            return int(cp_model.UNKNOWN)
        if ph.valid_recorded != ph.relaxed_valid[2]:
            self._record_valid(ph)
        if ph.valid_recorded == ph.relaxed_valid[2]:
            ph.complete = True
        else:  # times only, and its rooms did not fit: the times as a hint
            ph.found = ph.relaxed_valid[0]
        return int(cp_model.OPTIMAL)

    def _descend(self, ph: _Phase, status: int, extra: dict[str, object]) -> int:
        """From a relaxed model's first solution, a neighbourhood search
        that takes the penalty to 0 (see `RELAX_LNS_STEP_S`): OPTIMAL when
        a timetable was found, INFEASIBLE when a step with nothing fixed
        proved the least penalty above 0, UNKNOWN when out of time. The
        first step fixes every lesson: it only settles the penalty's
        slack (the first solution's gap counts are upper bounds). With
        relaxed soft min days among the penalties, a solution with no hard
        penalty is a timetable: the search goes on while the penalty falls
        (`RELAX_VALID_STALL`) and ends with the best such timetable."""
        soft_terms = not all(ph.builder.penalty_hard)
        if (
            status != cp_model.UNKNOWN
            or ph.relaxed_best is None
            or ph.found is not None
            or self.run.best is not None
            or (soft_terms and self.relax_min_days_off)  # its least penalty is known
        ):
            return status
        assert self.comp is not None and ph.penalty_var is not None
        comp = self.comp
        ph.first_only = False
        n = len(comp.activities)
        rng = random.Random(self.seed)
        by_person = _by_person(comp)
        size = RELAX_LNS_START_SIZE
        it = 0
        stall = 0
        tried_record = False
        while not self.stopped() and self.remaining(ph.name) > 0.05:
            if ph.relaxed_valid is not None and (
                stall >= RELAX_VALID_STALL
                or (ph.valid_recorded is not None and self.should_stop("improve"))
            ):
                break
            starts, rooms, best, values = ph.relaxed_best
            over = sorted(
                {o for o, v in zip(ph.builder.penalty_owner, values, strict=True) if v > 0}
            )
            if not it:
                free: set[int] = set()
            elif size >= n:  # everything: a step that can prove the least penalty
                free = set(range(n))
            else:
                free = _person_neighbourhood(comp, starts, rng, size, by_person, over)
            sub = self._fixed_copy(ph, comp, free, starts, rooms)
            _set_domain(sub.proto.variables[ph.penalty_var.index].domain, 0, best)
            it += 1
            st = self.run_phase(
                ph,
                {
                    **extra,
                    **LNS_STEP_PARAMS,
                    "random_seed": self.seed + it,
                    "max_deterministic_time": RELAX_LNS_STEP_S,
                },
                model=sub,
            )
            if ph.found is not None or ph.complete:
                return int(cp_model.OPTIMAL)
            if ph.relaxed_valid is not None and not tried_record:
                # the first timetable, at once; the search goes on as
                # improvement time (`improve_s`)
                tried_record = True
                self._record_valid(ph)
            if st == cp_model.OPTIMAL and len(free) == n:
                if not soft_terms:
                    return int(cp_model.INFEASIBLE)  # the least penalty is above 0
                return self._take_valid(ph)  # some of it soft min days
            if ph.relaxed_valid is not None:
                stall = 0 if ph.relaxed_best[2] < best else stall + 1
            if it == 1:
                continue
            if st == cp_model.OPTIMAL and ph.relaxed_best[2] >= best:
                size = min(n, int(size * 1.5) + 1)
            elif st != cp_model.OPTIMAL:
                size = max(LNS_MIN_SIZE, int(size * 0.8))
        if ph.relaxed_valid is not None:  # only soft min days broken: a timetable
            return self._take_valid(ph)
        return int(cp_model.UNKNOWN)

    def _relax_min_days(self, min_days_hard: int) -> bool:
        return (
            RELAX_MIN_DAYS
            and not min_days_hard
            and not self.minimal_change
            and not self.relax_min_days_off
        )

    def _min_days_budget(self) -> float:
        lim = self.time_limit_s
        return min(0.5 * lim, max(MIN_DAYS_HARD_SHARE * lim, MIN_DAYS_HARD_S))

    def _phase1(
        self, comp: Compiled, symmetry: bool, ws: dict[int, Placement], *, min_days_hard: int
    ) -> tuple[str, bool]:
        """A complete timetable (soft constraints not costed; with minimal
        change, the fewest moved lessons). Returns ("found", optimal),
        ("infeasible", _), ("none", _) when out of time or stopped, or the
        reason the model is infeasible as built."""
        if self.remaining("search") <= 0.05:  # not worth building the model
            return "none", False
        # times first when rooms are to be chosen: rooms as capacity cuts,
        # then assigned for the times found
        hint_starts: list[int] | None = None
        if TIMES_FIRST and not ws and _has_room_choice(comp):
            outcome, hint_starts = self._times_first(comp, symmetry, min_days_hard)
            if outcome in ("infeasible", "found"):
                return outcome, True
            if self.stopped() or self.remaining("search") <= 0.05:
                return "none", False

        first = _Phase(
            "search",
            comp,
            soft=False,
            symmetry=symmetry,
            min_days_hard=min_days_hard,
            min_days_dropped=frozenset(self.min_days_dropped),
            relax_gaps=RELAX_GAPS and not self.minimal_change,
            relax_min_days=self._relax_min_days(min_days_hard),
        )
        if first.builder.infeasible_reason is not None:
            return first.builder.infeasible_reason, False
        if ws:
            starts, rooms = self._warm(comp, ws)
            first.hint(comp, starts, rooms)
        elif hint_starts is not None:
            first.hint(comp, hint_starts, [None] * len(hint_starts))
        if self.minimal_change:
            first.moved_var = self._moved(first, ws)
            first.builder.m.minimize(first.moved_var)
        status = self._search(first, {"linearization_level": 0})
        if status == cp_model.INFEASIBLE:
            return "infeasible", False
        if self.run.best is None:
            return "none", False
        return "found", status == cp_model.OPTIMAL

    def _times_first(
        self, comp: Compiled, symmetry: bool, min_days_hard: int
    ) -> tuple[str, list[int] | None]:
        """Times with rooms as capacity cuts, then rooms for those times.
        Returns ("found", None) with the timetable recorded, ("infeasible",
        None), or ("retry", starts) when no room assignment fits the times."""
        ph = _Phase(
            "search",
            comp,
            soft=False,
            symmetry=symmetry,
            room_choice=False,
            min_days_hard=min_days_hard,
            min_days_dropped=frozenset(self.min_days_dropped),
            relax_gaps=RELAX_GAPS and not self.minimal_change,
            relax_min_days=self._relax_min_days(min_days_hard),
        )
        if ph.builder.infeasible_reason is not None:
            return "retry", None
        status = self._search(ph, {"linearization_level": 0})
        if status == cp_model.INFEASIBLE:
            return "infeasible", None
        if ph.found is None:
            # a relaxed timetable breaking only soft min days, recorded with its rooms
            return ("found", None) if ph.complete else ("retry", None)
        rooms = assign_rooms(
            comp, ph.found, time_limit_s=min(10.0, self.remaining("search")), seed=self.seed
        )
        if rooms is None:
            return "retry", ph.found
        self.record(ph.found, rooms, None, self.elapsed())
        self.report("search")
        return "found", None

    def _improve(
        self,
        comp: Compiled,
        phase1_optimal: bool,
        ws: dict[int, Placement],
        symmetry: bool,
    ) -> SolveResult:
        # phase 2: improve the soft score from there
        second = _Phase("improve", comp, soft=True, symmetry=symmetry)
        if not second.builder.costs:
            return self.result("optimal" if phase1_optimal else "complete")
        if self.stopped() or self.remaining("improve") <= 0.05:
            return self.result("stopped" if self.stopped() else "complete")
        m = second.builder.m
        soft_ub = second.builder.soft_upper_bound()
        second.soft_var = m.new_int_var(0, max(0, soft_ub), "soft")
        m.add(second.soft_var == second.builder.soft_expr())
        if self.minimal_change:
            second.moved_var = self._moved(second, ws)
            m.add(second.moved_var <= (self.run.moved or 0))
        m.minimize(second.soft_var)
        if SPREADS_SHARE > 0 and self.swapping is not None and self.run.timetable is not None:
            # its share of the time as the soft min days' share of the score
            rep = check(self.instance, self.run.timetable)
            spread = rep.soft_by_type().get("MinDaysBetweenActivities", 0.0)
            if spread > 0:
                share = SPREADS_SHARE * spread / rep.soft
                self._spreads(comp, self.elapsed() + share * self.remaining("improve"))
                if self.stopped():
                    return self.result("stopped")
        assert self.run.best is not None
        second.hint(comp, *self.run.best)
        # CP-SAT's own search for a part of the time, then a neighbourhood
        # search (one worker runs no LNS of its own)
        left = self.remaining("improve")
        extra: dict[str, object] = {}
        if LNS and left > 2 * LNS_MAIN_MIN_S:
            extra["max_time_in_seconds"] = max(LNS_MAIN_MIN_S, LNS_MAIN_SHARE * left)
        status = self.run_phase(second, extra)
        if self.stopped():
            return self.result("stopped")
        if status == cp_model.OPTIMAL:
            return self.result("optimal")
        if extra and status in (cp_model.FEASIBLE, cp_model.UNKNOWN):
            assert self._solver is not None
            known = status == cp_model.FEASIBLE
            if self._lns(comp, second, round(self._solver.objective_value) if known else None):
                return self.result("optimal")
            if self.stopped():
                return self.result("stopped")
        return self.result("complete")

    def _spreads(self, comp: Compiled, end: float) -> None:
        """The soft min days broken by the best timetable, lowered by the
        recursive swapping (`solver_swap.Spreads`) until `end`, or until
        `SPREADS_STALL` attempts in a row have found nothing better: an
        attempt that places a lesson of a broken pair again with every
        lesson placed is kept when the checker counts no hard violation and
        a lower soft score (a lesson it moves breaks no pair, but other soft
        constraints may cost more)."""
        assert self.run.best is not None
        con = self.swapping.con if isinstance(self.swapping, Swapping) else None
        spreads = Spreads(comp, *self.run.best, seed=self.seed, con=con)
        self.keep_best = "soft"
        stall = 0
        # the timetable's broken pairs change only when an attempt is kept
        bad, cost = spreads.broken()
        while bad and not self.stopped() and self.elapsed() < end and stall < SPREADS_STALL:
            stall += 1
            found = spreads.attempt(bad, cost)
            if found is None:
                continue
            checked = self._checked(*found)
            rep = checked[1]
            if rep.hard or self.run.soft is None or rep.soft >= self.run.soft - 1e-9:
                spreads.undo()
                continue
            self.record(*found, None, self.elapsed(), checked)
            stall = 0
            bad, cost = spreads.broken()
            self.report("improve")
        self.keep_best = ""

    def _lns(self, comp: Compiled, ph: _Phase, best: int | None) -> bool:
        """Large neighbourhood search on the phase-2 model from the best
        timetable (objective `best`; None: not known yet): free the lessons of
        a few students and teachers on a few days around a violated soft min
        days pair (or a random lesson), fix the rest, and let CP-SAT re-place
        them no worse; until the improvement time is up. Each step is bounded
        by deterministic time, so the steps are reproducible for a seed. True
        when the soft score reached 0 or a step with nothing fixed proved the
        optimum."""
        assert ph.soft_var is not None
        rng = random.Random(self.seed)
        base = ph.builder.m
        soft_ix = ph.soft_var.index
        size = LNS_START_SIZE
        n = len(comp.activities)
        by_person = _by_person(comp)
        it = 0
        proved = False
        self.keep_best = "soft"
        while (best is None or best > 0) and not self.stopped():
            left = self.remaining("improve")
            if left <= 0.2:
                break
            it += 1
            assert self.run.best is not None
            starts, rooms = self.run.best
            free = self._neighbourhood(comp, starts, rng, size, by_person)
            sub = base.clone()
            proto = sub.proto
            for a in comp.activities:
                if a.index in free:
                    continue
                for t, lit in ph.builder.x[a.index].items():
                    v = 1 if t == starts[a.index] else 0
                    _set_domain(proto.variables[lit.index].domain, v, v)
            if best is not None:
                _set_domain(proto.variables[soft_ix].domain, 0, best)
            sub.clear_hints()  # type: ignore[no-untyped-call]
            for a, t, r in zip(comp.activities, starts, rooms, strict=True):
                for s, lit in ph.builder.x[a.index].items():
                    sub.add_hint(lit, s == t)
                zs = ph.builder.z[a.index]
                want = NO_ROOM if r is None else r
                if zs and want in zs:
                    for rr, lit in zs.items():
                        sub.add_hint(lit, rr == want)
            status = self.run_phase(
                ph,
                {
                    **LNS_STEP_PARAMS,
                    "random_seed": self.seed + it,
                    "max_deterministic_time": LNS_STEP_S,
                },
                model=sub,
            )
            assert self._solver is not None
            before = best
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                obj = round(self._solver.objective_value)
                best = obj if best is None else min(best, obj)
            if status == cp_model.OPTIMAL and len(free) == n:
                proved = True  # nothing was fixed: the whole model's optimum
                break
            if status == cp_model.OPTIMAL:
                size = min(n, int(size * 1.5) + 1)
            elif status != cp_model.FEASIBLE or best == before:
                size = max(LNS_MIN_SIZE, int(size * 0.8))
        self.keep_best = ""
        return proved or best == 0

    def _neighbourhood(
        self,
        comp: Compiled,
        starts: list[int],
        rng: random.Random,
        size: int,
        by_person: dict[tuple[str, int], list[int]],
    ) -> set[int]:
        """About `size` activities to free: those of the students and
        teachers of a violated soft min-days pair (or of a random activity),
        on those days and a random other one, widening to the people of the
        lessons taken in until there are enough."""
        H = comp.H
        bad = spread_breaks(comp, starts)[0]
        #: the broken pairs of a lesson that breaks more of a heavy soft min
        #: days than FET's reading gets past (`fet_reading_capped`)
        over: list[tuple[int, int]] = []
        days = [t // comp.MH for t in starts]
        for md in comp.min_days:
            if not md.cost:
                continue
            acts = md.activities
            if fet_reading_capped(md):
                for a, k in zip(acts, broken_pairs(md, days), strict=True):
                    if k > FET_READING_BROKEN_MAX:
                        over += [
                            (a, b) for b in acts if b != a and abs(days[a] - days[b]) < md.min_days
                        ]

        def seed() -> list[int]:
            if over and rng.random() < LNS_OVER_SHARE:
                return list(rng.choice(over))
            if bad and rng.random() < 0.7:
                return list(rng.choice(bad))
            return [rng.randrange(len(comp.activities))]

        free: set[int] = set()
        frontier: list[int] = []
        days_free: set[int] = set()
        seen: set[tuple[str, int]] = set()
        while len(free) < size:
            if not frontier:  # widen: another violation (or lesson) and a day
                if len(days_free) >= comp.D and len(seen) >= len(by_person):
                    break
                new = seed()
                days_free |= {starts[a] // H for a in new}
                days_free.add(rng.randrange(comp.D))
                free.update(new)
                frontier.extend(new)
            a = frontier.pop(0)
            _take_people_of(comp, a, starts, days_free, free, frontier, seen, by_person, rng)
        return free

    def _warm(self, comp: Compiled, ws: dict[int, Placement]) -> tuple[list[int], list[int | None]]:
        room_ix = {r.name: i for i, r in enumerate(self.instance.rooms)}
        starts: list[int] = []
        rooms: list[int | None] = []
        for a in comp.activities[: comp.lessons]:
            p = ws.get(a.id)
            starts.append(-1 if p is None else p.day * comp.H + p.hour)
            rooms.append(None if p is None or p.room is None else room_ix.get(p.room))
        starts += [-1] * (len(comp.activities) - comp.lessons)
        rooms += [None] * (len(comp.activities) - comp.lessons)
        for i, (v, stand_ins) in comp.virtual.items():
            # a virtual room's real rooms: its stand-ins', with the lesson
            p = ws.get(comp.activities[i].id)
            rooms[i] = None
            for k, j in enumerate(stand_ins):
                starts[j] = starts[i]
                if (
                    p is not None
                    and p.room == self.instance.rooms[v].name
                    and k < len(p.real_rooms)
                ):
                    rooms[j] = room_ix.get(p.real_rooms[k])
        return starts, rooms

    def _moved(self, ph: _Phase, ws: dict[int, Placement]) -> cp_model.IntVar:
        assert self.comp is not None
        b = ph.builder
        terms: list[cp_model.LinearExprT] = []
        for a in self.comp.activities:
            p = ws.get(a.id)
            if p is None:
                continue
            lit = b.x[a.index].get(p.day * self.comp.H + p.hour)
            terms.append(1 - lit if lit is not None else 1)
        v = b.m.new_int_var(0, len(terms), "moved")
        b.m.add(v == sum(terms))
        return v

    def _timetable(self, starts: list[int], rooms: list[int | None]) -> Timetable:
        assert self.comp is not None
        H = self.comp.H
        names = [r.name for r in self.instance.rooms]
        n = self.comp.lessons
        out = [
            Placement(activity=a.id, day=t // H, hour=t % H, room=None if r is None else names[r])
            for a, t, r in zip(self.comp.activities[:n], starts[:n], rooms[:n], strict=True)
        ]
        for i, (v, stand_ins) in self.comp.virtual.items():
            real = tuple("" if (r := rooms[j]) is None else names[r] for j in stand_ins)
            out[i] = msgspec.structs.replace(out[i], room=names[v], real_rooms=real)
        out.sort(key=lambda p: p.activity)
        return Timetable(placements=tuple(out))

    def result(self, status: str, *, message: str | None = None) -> SolveResult:
        tt = self.run.timetable
        moved = None
        if tt is not None and self.warm_start is not None:
            ws = self.warm_start.by_activity()
            moved = sum(
                1
                for p in tt.placements
                if p.activity in ws and (ws[p.activity].day, ws[p.activity].hour) != (p.day, p.hour)
            )
        self.report("done")
        return SolveResult(
            status=status,
            timetable=tt,
            soft=self.run.soft if tt is not None else None,
            wall_s=self.elapsed(),
            first_complete_s=self.run.first_s,
            workers=self.workers,
            seed=self.seed,
            moved=moved,
            solutions=self.run.solutions,
            message=message,
        )


def _try_end(began: float, budget: float, loop_end: float, longest: float | None = None) -> float:
    """When a try of phase 1 with the soft min days enforced, or a search for
    the ones to blame, that begins at `began` must end (elapsed seconds): after
    its `budget`, never past `loop_end`, and a retry after the longest proof so
    far (`longest`) after `MIN_DAYS_RETRY_FACTOR` times that."""
    if longest is not None:
        budget = min(budget, MIN_DAYS_RETRY_FACTOR * longest)
    return min(loop_end, began + budget)


def _set_domain(domain: object, lo: int, hi: int) -> None:
    """Set a variable's domain in a model proto to [lo, hi]."""
    domain.clear()  # type: ignore[attr-defined]
    domain.extend([lo, hi])  # type: ignore[attr-defined]


def _by_person(comp: Compiled) -> dict[tuple[str, int], list[int]]:
    """Each subgroup's ("s", i) and teacher's ("t", i) activities."""
    by_person: dict[tuple[str, int], list[int]] = defaultdict(list)
    for a in comp.activities:
        for sg in a.subgroups:
            by_person[("s", sg)].append(a.index)
        for t in a.teachers:
            by_person[("t", t)].append(a.index)
    return by_person


def _person_neighbourhood(
    comp: Compiled,
    starts: list[int],
    rng: random.Random,
    size: int,
    by_person: dict[tuple[str, int], list[int]],
    over: list[tuple[str, int, int]],
) -> set[int]:
    """About `size` activities to free around a person over a relaxed limit
    (`over`: person and day, -1 for a weekly limit): their lessons on that
    day or two of their days, and one more day, widening to the people of
    the lessons taken in, on those days (and one more day at a time when
    that is not enough)."""
    H = comp.H
    kind, who, day = rng.choice(over) if over else (*rng.choice(sorted(by_person)), -1)
    person = (kind, who)
    own = by_person[person]
    busy = sorted({starts[a] // H for a in own})
    if day >= 0:
        days = {day}
    else:
        days = set(rng.sample(busy, min(2, len(busy))))
    days.add(rng.randrange(comp.D))
    free = {a for a in own if starts[a] // H in days}
    frontier = sorted(free)
    seen = {person}
    while len(free) < size:
        if not frontier:
            if len(days) >= comp.D:
                break
            days.add(rng.choice([d for d in range(comp.D) if d not in days]))
            frontier = sorted(free)
            seen = set()
            continue
        a = frontier.pop(0)
        _take_people_of(comp, a, starts, days, free, frontier, seen, by_person, rng)
    return free


def _take_people_of(
    comp: Compiled,
    a: int,
    starts: list[int],
    days: set[int],
    free: set[int],
    frontier: list[int],
    seen: set[tuple[str, int]],
    by_person: dict[tuple[str, int], list[int]],
    rng: random.Random,
) -> None:
    """Widen a neighbourhood by activity `a`: the lessons on `days` of its
    students and teachers not taken in yet (in a seeded random order) join
    `free` and the `frontier`."""
    ca = comp.activities[a]
    people = [("s", sg) for sg in ca.subgroups] + [("t", t) for t in ca.teachers]
    rng.shuffle(people)
    for key in people:
        if key in seen:
            continue
        seen.add(key)
        for b in by_person[key]:
            if b not in free and starts[b] // comp.H in days:
                free.add(b)
                frontier.append(b)


def _has_room_choice(comp: Compiled) -> bool:
    return any(sum(1 for r in a.rooms if r != NO_ROOM) > 1 for a in comp.activities if a.rooms)


def solve(
    instance: Instance,
    *,
    time_limit_s: float = 60.0,
    seed: int = 0,
    workers: int = 1,
    warm_start: Timetable | None = None,
    minimal_change: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    improve_s: float | None = None,
    deterministic: bool = True,
    params: dict[str, object] | None = None,
) -> SolveResult:
    """Solve the instance; see the module docstring.

    Raises `UnsupportedConstraintError` when the instance has a constraint the
    solver cannot enforce (or, soft, cost), including those the reader listed
    in `Instance.unsupported`.
    """
    if instance.unsupported:
        u = instance.unsupported[0]
        raise UnsupportedConstraintError(
            u.type, f"{u.count} constraint(s) of this type in the source are not modelled"
        )
    return _Solver(
        instance,
        time_limit_s=time_limit_s,
        seed=seed,
        workers=workers,
        warm_start=warm_start,
        minimal_change=minimal_change,
        on_progress=on_progress,
        stop=stop,
        improve_s=improve_s,
        deterministic=deterministic,
        params=params,
    ).solve()
