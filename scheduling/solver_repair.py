"""Minimal-change repair: which lessons a change disturbs, and the
neighbourhoods freed around them (plain Python on the compiled model; the
solver drives CP-SAT on them).

A lesson is *disturbed* when its current placement is no longer allowed: it is
new (not in the current timetable), its (day, hour) is no longer an allowed
start (a teacher, students set or break made it unavailable; a fixed time),
or its room is no longer a candidate or is closed at that time. Everything
else keeps its (day, hour) in the first repair step; `widening` then frees
growing rings of lessons around the disturbed ones — the lessons of the same
teachers, subgroups and rooms on the same days, then on one more day at a
time, then the people of those — a deterministic schedule. `around_moved` picks the
neighbourhoods of the later search that moves lessons back.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator

from scheduling.solver_compile import NO_ROOM, Compiled

#: a person (teacher "t", subgroup "s") or a room ("r"), by index
Key = tuple[str, int]


def disturbed(comp: Compiled, starts: list[int], rooms: list[int | None]) -> list[int]:
    """The activities whose current placement (`starts[a]` is -1 when the
    activity is new) the changed instance no longer allows."""
    out: list[int] = []
    for a in comp.activities:
        t = starts[a.index]
        if t < 0 or t not in set(a.starts):
            out.append(a.index)
            continue
        if a.rooms is None:
            continue
        r = rooms[a.index]
        want = NO_ROOM if r is None else r
        if want not in a.rooms:
            out.append(a.index)
        elif want != NO_ROOM:
            closed = comp.rooms[want].unavailable
            if any(t + k in closed for k in range(a.duration)):
                out.append(a.index)
    return out


def must_move(comp: Compiled, starts: list[int]) -> int:
    """A lower bound on the lessons moved: those placed in the current
    timetable at a (day, hour) that is no longer an allowed start."""
    return sum(
        1 for a in comp.activities if starts[a.index] >= 0 and starts[a.index] not in set(a.starts)
    )


def keys_by_activity(comp: Compiled, rooms: list[int | None]) -> list[list[Key]]:
    """Each activity's teachers, subgroups and (current) room."""
    out: list[list[Key]] = []
    for a in comp.activities:
        keys: list[Key] = [("t", t) for t in a.teachers] + [("s", sg) for sg in a.subgroups]
        r = rooms[a.index]
        if r is not None:
            keys.append(("r", r))
        out.append(keys)
    return out


def _index(keys: list[list[Key]]) -> dict[Key, list[int]]:
    by_key: dict[Key, list[int]] = defaultdict(list)
    for a, ks in enumerate(keys):
        for k in ks:
            by_key[k].append(a)
    return by_key


def widening(
    comp: Compiled, starts: list[int], rooms: list[int | None], seeds: list[int]
) -> Iterator[frozenset[int]]:
    """The growing sets of activities to free, starting with `seeds`. Ring by
    ring (ring 1: the seeds' teachers, subgroups and rooms; ring k + 1: those
    of every lesson freed so far), their lessons on the seeds' days first,
    then one more day at a time, the days where the seeds' people have fewest
    lessons first. Deterministic; ends when a ring adds nothing."""
    H = comp.H
    keys = keys_by_activity(comp, rooms)
    by_key = _index(keys)

    def day(a: int) -> int:
        return starts[a] // H if starts[a] >= 0 else -1

    seed_days = {day(a) for a in seeds} - {-1}
    load = [0] * comp.D
    for k in sorted({k for a in seeds for k in keys[a]}):
        for b in by_key[k]:
            if day(b) >= 0:
                load[day(b)] += 1
    others = sorted((d for d in range(comp.D) if d not in seed_days), key=lambda d: (load[d], d))
    if not seed_days:  # only new lessons: start with their people's quietest day
        seed_days, others = {others[0]}, others[1:]
    free = set(seeds)
    yield frozenset(free)
    while True:
        people = sorted({k for a in free for k in keys[a]})
        grown = False
        days = set(seed_days)
        for extra in [None, *others]:
            if extra is not None:
                days.add(extra)
            add = {b for k in people for b in by_key[k] if b not in free and day(b) in days}
            if add:
                free |= add
                grown = True
                yield frozenset(free)
        if not grown:
            return


def around_moved(
    comp: Compiled,
    warm: list[int],
    current: list[int],
    keys: list[list[Key]],
    by_key: dict[Key, list[int]],
    rng: random.Random,
    size: int,
) -> set[int]:
    """About `size` activities to free for moving lessons back: a random moved
    lesson, the lessons of its teachers, subgroups and rooms on its old and
    its new day, widening to their people (and to other moved lessons) until
    there are enough. Empty when nothing moved."""
    H = comp.H
    moved = [a for a in range(len(current)) if warm[a] >= 0 and warm[a] != current[a]]
    if not moved:
        return set()
    free: set[int] = set()
    days: set[int] = set()
    frontier: list[int] = []
    seen: set[Key] = set()
    pool = list(moved)
    rng.shuffle(pool)
    while len(free) < size:
        if not frontier:
            if not pool:
                break
            a = pool.pop()
            if a in free:
                continue
            free.add(a)
            frontier.append(a)
            days |= {warm[a] // H, current[a] // H}
        a = frontier.pop(0)
        people = [k for k in keys[a] if k not in seen]
        rng.shuffle(people)
        for k in people:
            seen.add(k)
            for b in by_key[k]:
                if b not in free and current[b] // H in days:
                    free.add(b)
                    frontier.append(b)
    return free
