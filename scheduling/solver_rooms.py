"""Rooms for fixed times: the second half of the times-first search.

When the time search models rooms only as per-slot capacity cuts, the rooms
are chosen afterwards with the start slots fixed: a small CP-SAT model with
one boolean per activity and candidate room, at most one activity per room
and slot (fixed-room activities included), and a room's unavailable slots
excluded. Any assignment is found first (as fast as feasibility allows); then,
hinted with it and for at most `ROOM_COST_S`, one that lowers the soft room
costs (a room outside an activity's preferred rooms, or none; a room at its
soft not-available hours) — never at the price of the first.
"""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from scheduling.solver_compile import NO_ROOM, Compiled

#: the most time spent lowering the room costs once rooms fit
ROOM_COST_S = 2.0


def assign_rooms(
    comp: Compiled, starts: list[int], *, time_limit_s: float, seed: int = 0
) -> list[int | None] | None:
    """Each activity's room (None: needs none) for the given starts, or None
    when no assignment exists (or none was found in time)."""
    rooms: list[int | None] = [None] * len(comp.activities)
    taken: dict[tuple[int, int], int] = {}
    m = cp_model.CpModel()
    z: dict[int, dict[int, cp_model.IntVar]] = {}
    by_room_slot: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    costs: list[cp_model.LinearExprT] = []
    for a in comp.activities:
        if not a.rooms:
            continue
        span = range(starts[a.index], starts[a.index] + a.duration)
        if len(a.rooms) == 1:
            r = a.rooms[0]
            if r == NO_ROOM:
                continue
            rooms[a.index] = r
            for t in span:
                if (r, t) in taken or t in comp.rooms[r].unavailable:
                    return None
                taken[(r, t)] = a.index
    for a in comp.activities:
        if not a.rooms or len(a.rooms) == 1:
            continue
        span = range(starts[a.index], starts[a.index] + a.duration)
        zs: dict[int, cp_model.IntVar] = {}
        for r in a.rooms:
            if r != NO_ROOM and any(
                (r, t) in taken or t in comp.rooms[r].unavailable for t in span
            ):
                continue
            v = m.new_bool_var("")
            zs[r] = v
            cost = a.room_cost.get(r, 0)
            if r != NO_ROOM:
                cost += comp.rooms[r].soft_cost(starts[a.index], a.duration)
            if cost:
                costs.append(cost * v)
            if r != NO_ROOM:
                for t in span:
                    by_room_slot[(r, t)].append(v)
        if not zs:
            return None
        m.add_exactly_one(zs.values())
        z[a.index] = zs
    for lits in by_room_slot.values():
        if len(lits) > 1:
            m.add_at_most_one(lits)
    for group, k in comp.max_rooms:
        # at most k rooms between them, the fixed ones counted
        fixed = {rooms[ai] for ai in group if rooms[ai] is not None and ai not in z}
        flags = []
        for r in {r for ai in group for r in z.get(ai, {}) if r != NO_ROOM} - fixed:
            u = m.new_bool_var("")
            for ai in group:
                if r in z.get(ai, {}):
                    m.add_implication(z[ai][r], u)
            flags.append(u)
        if len(fixed) > k:
            return None
        m.add(sum(flags) <= k - len(fixed))
    if z:
        # first any assignment (as fast as feasibility is), then, from it and
        # for at most ROOM_COST_S, one that lowers the soft room costs
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = seed
        solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        chosen = {
            ai: next(r for r, v in zs.items() if solver.boolean_value(v)) for ai, zs in z.items()
        }
        if costs:
            for ai, zs in z.items():
                for r, v in zs.items():
                    m.add_hint(v, r == chosen[ai])
            m.minimize(sum(costs))
            better = cp_model.CpSolver()
            better.parameters.num_workers = 1
            better.parameters.random_seed = seed
            better.parameters.max_time_in_seconds = max(0.01, min(ROOM_COST_S, time_limit_s))
            if better.solve(m) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                chosen = {
                    ai: next(r for r, v in zs.items() if better.boolean_value(v))
                    for ai, zs in z.items()
                }
        for ai, r in chosen.items():
            rooms[ai] = None if r == NO_ROOM else r
    return rooms
