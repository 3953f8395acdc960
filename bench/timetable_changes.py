"""Minimal-change re-solves: after a change, how many lessons move?

For a few fet-data schools: solve once (the "current" timetable), then make one
change at a time and solve again twice, side by side — from the current
timetable with `minimal_change` (lessons moved is minimised before the soft
score), and cold (no warm start, same seed). Changes:

- a teacher is unavailable for a whole day (the teacher with most lessons, on
  the day they teach most);
- a room is closed for a day (the room and day with most lessons; files with
  rooms only; closing the most used room for the whole week left no room for
  its lessons, a change proved infeasible);
- a lesson is added (one more single-hour lesson of a subject a class already
  has, same teacher; the class with the fewest lessons, as a full week has no
  room for one more).

Both results are counted by the checker; "moved" is the number of lessons
whose day or hour differs from the current timetable.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import msgspec

from scheduling.checker import check
from scheduling.fet import read_fet
from scheduling.model import (
    Activity,
    Instance,
    RoomNotAvailableTimes,
    TeacherNotAvailableTimes,
    Timetable,
)
from scheduling.solver import solve
from scheduling.solver_compile import compile_instance

FILES = (
    "FET-5-official/Romania/Pedagogic-High-School-Tg-Mures/2007-2008_sem1-a.fet",
    "FET-5-official/Spain/1-school/school.fet",
)
TIME_LIMIT_S = 120.0
IMPROVE_S = 10.0


def changes(instance: Instance, current: Timetable) -> list[tuple[str, Instance]]:
    acts = {a.id: a for a in instance.activities}
    placed = current.by_activity()
    out: list[tuple[str, Instance]] = []
    load: collections.Counter[tuple[str, int]] = collections.Counter()
    for p in current.placements:
        for t in acts[p.activity].teachers:
            load[(t, p.day)] += acts[p.activity].duration
    if load:
        (teacher, day), n = load.most_common(1)[0]
        slots = tuple((day, h) for h in range(len(instance.hours)))
        out.append(
            (
                f"{teacher} unavailable on {instance.days[day].name} ({n} lessons that day)",
                msgspec.structs.replace(
                    instance,
                    constraints=(
                        *instance.constraints,
                        TeacherNotAvailableTimes(teacher=teacher, slots=slots),
                    ),
                ),
            )
        )
    rooms = collections.Counter((p.room, p.day) for p in current.placements if p.room)
    if rooms:
        (room, day), n = rooms.most_common(1)[0]
        slots = tuple((day, h) for h in range(len(instance.hours)))
        out.append(
            (
                f"room {room} closed on {instance.days[day].name} ({n} lessons in it that day)",
                msgspec.structs.replace(
                    instance,
                    constraints=(
                        *instance.constraints,
                        RoomNotAvailableTimes(room=room, slots=slots),
                    ),
                ),
            )
        )
    # a lesson of the class with the most free time (a full class may have no
    # room for one more): the slots its lessons can take less its lesson hours
    comp = compile_instance(instance)

    def reachable(acts: set[int]) -> int:
        return len(
            {
                t + k
                for a in acts
                for t in comp.activities[a].starts
                for k in range(comp.activities[a].duration)
            }
        )

    free = [
        reachable(set(p.activities)) - sum(comp.activities[a].duration for a in set(p.activities))
        for p in comp.subgroups
    ]
    singles = [
        a
        for a in instance.activities
        if a.duration == 1 and a.group_id == 0 and a.id in placed and a.students
    ]
    single = max(
        singles,
        key=lambda a: (
            min(free[sg] for sg in comp.activities[comp.by_id[a.id]].subgroups),
            -a.id,
        ),
        default=None,
    )
    if single is not None:
        new = Activity(
            id=max(acts) + 1,
            subject=single.subject,
            teachers=single.teachers,
            students=single.students,
            tags=single.tags,
            duration=1,
            total_duration=1,
        )
        out.append(
            (
                f"one more {single.subject} lesson for {', '.join(single.students)}",
                msgspec.structs.replace(instance, activities=(*instance.activities, new)),
            )
        )
    return out


def _moved(before: Timetable, after: Timetable | None) -> int | None:
    if after is None:
        return None
    b = before.by_activity()
    return sum(
        1
        for p in after.placements
        if p.activity in b and (b[p.activity].day, b[p.activity].hour) != (p.day, p.hour)
    )


def section(examples: Path, workers: int) -> list[str]:
    lines = [
        "",
        "### Minimal-change re-solves (`bench/timetable_changes.py`)",
        "",
        f"Current timetable: one solve (seed 1, {workers} workers). Each change is then solved "
        "from it with minimal change, and cold with the same seed, side by side "
        f"(time limit {TIME_LIMIT_S:.0f} s, `improve_s` {IMPROVE_S:.0f} s). *time*: to the "
        "first complete timetable / in all (the improvement included); *moved*: lessons "
        "whose day or hour differs from the current timetable.",
        "",
        "| file | lessons | change | warm: moved | warm: time (s) | warm: hard / soft "
        "| cold: moved | cold: time (s) | cold: hard / soft |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for rel in FILES:
        path = examples / rel
        if not path.exists():
            continue
        instance = read_fet(path).instance
        base = solve(
            instance, time_limit_s=TIME_LIMIT_S, seed=1, workers=workers, improve_s=IMPROVE_S
        )
        if base.timetable is None:
            lines.append(f"| {path.name} | {len(instance.activities)} | (no first timetable) |")
            continue
        for what, changed in changes(instance, base.timetable):
            cells = []
            for warm in (True, False):
                t0 = time.perf_counter()
                r = solve(
                    changed,
                    time_limit_s=TIME_LIMIT_S,
                    seed=1,
                    workers=workers,
                    warm_start=base.timetable if warm else None,
                    minimal_change=warm,
                    improve_s=IMPROVE_S,
                )
                wall = time.perf_counter() - t0
                rep = check(changed, r.timetable) if r.timetable is not None else None
                moved = _moved(base.timetable, r.timetable)
                if r.status == "infeasible":
                    none = "infeasible (proved)"
                elif r.status == "stopped":
                    none = "stopped"
                else:
                    none = "none in time"
                first = "–" if r.first_complete_s is None else f"{r.first_complete_s:.1f}"
                cells += [
                    none if moved is None else str(moved),
                    f"{first} / {wall:.1f}",
                    "–" if rep is None else f"{rep.hard} / {rep.soft:.2f}",
                ]
            lines.append(
                f"| {path.name} | {len(instance.activities)} | {what} | " + " | ".join(cells) + " |"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(section(Path("/usr/share/doc/fet-data/examples"), 1)))
