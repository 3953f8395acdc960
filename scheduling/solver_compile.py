"""Compile an `Instance` into index-level data for the CP-SAT model.

Everything here is plain Python: names become indices, constraints with
filters become lists of activity indices, per-activity time restrictions
become the list of allowed start slots (hard) and per-start costs (soft),
room constraints become each activity's candidate rooms.

Time: slot `t = day * H + hour`; an activity of duration `d` starting at `t`
covers `t … t+d-1`, all on one day.

FET's semantics followed here (from FET's generate_pre/timeconstraint sources):
* gaps and "beginnings at the second hour" of a subgroup or teacher ignore
  break slots and that subgroup's / teacher's (hard) not-available slots;
* an activity needs a room only when a room constraint applies to it; home
  rooms apply to activities with exactly that one teacher / students set and
  are satisfied by any room of the activity's preferred-room constraints;
* min days between activities cost `weight/100 × (min_days − distance)` per
  pair; with `consecutive_if_same_day` two of them on one day must be adjacent.

Soft variants (weight < 100) are costed for the constraint types listed in
`SOFT_SUPPORTED`; a soft variant of any other type raises
`UnsupportedConstraintError` naming it, as does any unknown type.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from scheduling import model as m

#: cost unit: a weight of 100 % costs `SCALE` per violation (weights with two
#: decimals of a percent stay exact)
SCALE = 100 * 100

#: the room "index" of no room (an activity with only soft room constraints)
NO_ROOM = -1


class UnsupportedConstraintError(ValueError):
    """The instance has a constraint the solver cannot enforce or cost."""

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(f"{type_name}: {reason}")
        self.type_name = type_name
        self.reason = reason


def cost_of(weight: float) -> int:
    """Integer cost of one violation of a soft constraint of this weight."""
    return round(weight * 100)


def is_hard(c: object) -> bool:
    return float(getattr(c, "weight", m.HARD)) >= m.HARD


@dataclass
class CActivity:
    index: int
    id: int
    duration: int
    teachers: list[int]
    subgroups: list[int]  # subgroup classes (deduplicated)
    #: allowed start slots (hard restrictions applied)
    starts: list[int]
    #: soft cost per start slot (only non-zero entries)
    start_cost: dict[int, int] = field(default_factory=dict)
    #: candidate rooms; None = needs no room
    rooms: list[int] | None = None
    #: soft cost per room (only non-zero entries)
    room_cost: dict[int, int] = field(default_factory=dict)
    group_id: int = 0


def fixed_room(a: CActivity) -> int | None:
    """The one room the activity always takes (None: it needs none, may go
    without, or has a choice)."""
    return a.rooms[0] if a.rooms and len(a.rooms) == 1 and a.rooms[0] != NO_ROOM else None


@dataclass
class CPerson:
    """A teacher or a subgroup class: what limits its days."""

    name: str
    activities: list[int]
    #: per day, the hours that count for gaps (not break, not not-available)
    counted_hours: list[list[int]]
    max_gaps_week: tuple[int, int] | None = None  # (max, cost or 0=hard)
    max_gaps_day: tuple[int, int] | None = None
    early_max: int | None = None  # hard only (FET requires 100 %)
    min_hours_daily: tuple[int, bool, int] | None = None  # (min, allow_empty, cost)
    max_hours_daily: tuple[int, int] | None = None
    #: more daily-hours limits of the same person, each costed on its own: a
    #: soft limit below a hard one (FET files often pair "at most 7 hours"
    #: with "at most 6, 99.9 %"), or a second soft limit
    more_hours_daily: list[tuple[int, int]] = field(default_factory=list)
    max_days: tuple[int, int] | None = None
    max_hours_cont: list[tuple[int, int]] = field(default_factory=list)
    interval_max_days: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: (max hours on a real day, cost): `Compiled.R` days together
    max_hours_real: list[tuple[int, int]] = field(default_factory=list)
    #: (min days a week, cost): busy on at least that many days
    min_days: list[tuple[int, int]] = field(default_factory=list)
    #: hard: the most hours from a day's first lesson to its last, inclusive
    max_span: int | None = None
    #: hard: (min free hours from a day's last lesson to the next day's first,
    #: circular: the last day's to the first's too)
    min_rest: list[tuple[int, bool]] = field(default_factory=list)
    #: building changes: the building of each of the person's activities
    #: that has one (its rooms' building; set only with 2+ buildings), at
    #: most so many changes a day or week (max, per week, cost), at least so
    #: many free hours before a change (min gaps, cost)
    building_of: dict[int, int] = field(default_factory=dict)
    building_max: list[tuple[int, bool, int]] = field(default_factory=list)
    building_gaps: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class CMinDays:
    activities: list[int]
    min_days: int
    consecutive: bool
    cost: int  # 0 = hard
    #: its lessons can keep to `FET_READING_BROKEN_MAX` broken pairs each
    #: (False: more of them than that allows on the days they can take,
    #: `_fet_cap_possible`)
    cap_possible: bool = True


@dataclass
class CRoom:
    name: str
    #: slots where the room cannot be used (hard)
    unavailable: set[int]
    #: what a lesson costs per slot it takes of the room there (soft not
    #: available: FET counts each lesson's hours in those slots)
    unavailable_soft: dict[int, int] = field(default_factory=dict)

    def soft_cost(self, start: int, duration: int) -> int:
        """The soft not-available cost of a lesson in this room at `start`."""
        return sum(self.unavailable_soft.get(t, 0) for t in range(start, start + duration))


@dataclass
class Compiled:
    instance: m.Instance
    D: int
    H: int
    activities: list[CActivity]
    subgroups: list[CPerson]
    teachers: list[CPerson]
    rooms: list[CRoom]
    min_days: list[CMinDays] = field(default_factory=list)
    #: activities of a weightless (0 %) min-days constraint with "consecutive
    #: if same day": the distance costs nothing, but two of them on one day
    #: must still be back to back (FET's generator enforces it whatever the
    #: weight; the checker counts it as hard)
    same_day_adjacent: list[list[int]] = field(default_factory=list)
    same_start: list[list[int]] = field(default_factory=list)
    same_day: list[list[int]] = field(default_factory=list)
    #: (activities, min gaps): two on one day that far apart at least (hard)
    min_gaps: list[tuple[list[int], int]] = field(default_factory=list)
    #: activities starting at one hour, on any days (hard; soft: with cost)
    same_hour: list[list[int]] = field(default_factory=list)
    same_hour_soft: list[tuple[list[int], int]] = field(default_factory=list)
    #: (activities, slots, k): at most k of them at each of the slots (hard)
    max_simultaneous: list[tuple[list[int], list[int], int]] = field(default_factory=list)
    #: (first, second): second starts after first ends (`ordered_same_day`:
    #: when on one day); three grouped: back to back in some order (hard)
    ordered: list[tuple[int, int]] = field(default_factory=list)
    ordered_same_day: list[tuple[int, int]] = field(default_factory=list)
    grouped3: list[tuple[int, int, int]] = field(default_factory=list)
    occupy_max: list[tuple[list[int], list[int], int]] = field(default_factory=list)
    #: (activities, k, cost): each pair at most k days apart (soft: per day
    #: too far)
    max_days_between: list[tuple[list[int], int, int]] = field(default_factory=list)
    #: (activities, k): at most k different rooms between them (hard)
    max_rooms: list[tuple[list[int], int]] = field(default_factory=list)
    ends_day: list[int] = field(default_factory=list)
    consecutive: list[tuple[int, int]] = field(default_factory=list)
    #: soft same starting times (activities, cost: per pair apart) and soft
    #: consecutive pairs (first, second, cost): phase 2's, costed only
    same_start_soft: list[tuple[list[int], int]] = field(default_factory=list)
    consecutive_soft: list[tuple[int, int, int]] = field(default_factory=list)
    grouped: list[tuple[int, int]] = field(default_factory=list)
    #: classes of interchangeable activities (same everything), for symmetry breaking
    symmetric: list[list[int]] = field(default_factory=list)
    breaks: set[int] = field(default_factory=set)
    by_id: dict[int, int] = field(default_factory=dict)
    #: days per real day (`Instance.days_per_real_day`): min days count
    #: real days, `MH` slots each, `MD` of them
    R: int = 1
    #: the instance's activities are `activities[:lessons]`; after them, the
    #: stand-ins booking a virtual room's real rooms (`_virtual_rooms`)
    lessons: int = 0
    #: lesson index → (its virtual room, its stand-ins: one per set, in order)
    virtual: dict[int, tuple[int, list[int]]] = field(default_factory=dict)

    @property
    def S(self) -> int:
        return self.D * self.H

    @property
    def MH(self) -> int:
        """Slots per real day: a start's real day is `t // MH`."""
        return self.H * self.R

    @property
    def MD(self) -> int:
        return self.D // self.R

    def next_start(self, a: int, start: int) -> int | None:
        """Where an activity right after `a` (started at `start`) starts: the
        first non-break slot after it on its day (FET's "consecutive")."""
        t = start + self.activities[a].duration
        day_end = (start // self.H + 1) * self.H
        while t < day_end and t in self.breaks:
            t += 1
        return t if t < day_end else None


SOFT_SUPPORTED = (
    "MinDaysBetweenActivities",
    "ActivityPreferredStartingTime",
    "ActivityPreferredStartingTimes",
    "ActivityPreferredTimeSlots",
    "ActivitiesPreferredStartingTimes",
    "ActivitiesPreferredTimeSlots",
    "TeacherNotAvailableTimes",
    "StudentsSetNotAvailableTimes",
    "BreakTimes",
    "RoomNotAvailableTimes",
    "ActivityPreferredRooms",
    "SubjectPreferredRooms",
    "ActivityTagPreferredRooms",
    "SubjectActivityTagPreferredRooms",
    "StudentsSetHomeRooms",
    "TeacherHomeRooms",
    "TeacherMaxHoursContinuously",
    "StudentsMaxHoursContinuously",
    "TeacherMaxGapsPerWeek",
    "TeacherMaxGapsPerDay",
    "TeacherMaxHoursDaily",
    "StudentsMaxHoursDaily",
    "TeacherMaxHoursDailyRealDays",
    "StudentsMaxHoursDailyRealDays",
    "TeacherIntervalMaxDaysPerWeek",
    "StudentsIntervalMaxDaysPerWeek",
    "ActivitiesSameStartingTime",
    "ActivitiesSameStartingHour",
    "MaxDaysBetweenActivities",
    "TwoActivitiesConsecutive",
    "TeacherMinDaysPerWeek",
    "TeacherActivityTagMaxHoursDaily",
    "StudentsActivityTagMaxHoursDaily",
    "TeacherActivityTagMaxHoursContinuously",
    "StudentsActivityTagMaxHoursContinuously",
)


#: FET's reading of a timetable rolls each broken pair of a soft min-days
#: constraint with its weight as it places the later lesson of the pair, so a
#: lesson breaking two pairs of one constraint of 95 % passes one try in 400,
#: and FET gave up on such a lesson of Collegiate Junior School (fet-data),
#: where its own timetables have at most two lessons of a set on a day. The
#: lessons of a soft min days of at least this weight (and more than two
#: lessons) should break at most `FET_READING_BROKEN_MAX` of its pairs each:
#: phase 2 costs each pair beyond at `FET_READING_COST` (`fet_reading_excess`)
FET_READING_FROM = 90.0
FET_READING_BROKEN_MAX = 1
#: … a cost above any soft score a school reaches (FET's weights sum per
#: violation to at most 100 each), so that phase 2 removes them first
FET_READING_COST = 1000 * SCALE


def fet_reading_capped(md: CMinDays) -> bool:
    """Whether `md`'s lessons may break at most `FET_READING_BROKEN_MAX` of
    its pairs each (`FET_READING_FROM`), where they can."""
    return (
        md.cost >= cost_of(FET_READING_FROM)
        and len(md.activities) > FET_READING_BROKEN_MAX + 1
        and md.cap_possible
    )


def _fet_cap_possible(comp: Compiled, md: CMinDays) -> bool:
    """False when a one-day spread has more lessons than the days its lessons
    can take allow at `FET_READING_BROKEN_MAX` broken pairs each (two a day):
    then no timetable keeps to it, and FET cannot read the file itself
    (ACHILES-MANHA: six lessons of a teacher available on two days;
    EEBLJ-Diurno: five fixed to one day). Such a spread is not capped (the
    swapping's repair and phase 2 would spend their time on it)."""
    if md.min_days != 1:
        return True
    days = {t // comp.MH for a in md.activities for t in comp.activities[a].starts}
    return len(md.activities) <= (FET_READING_BROKEN_MAX + 1) * len(days)


def broken_pairs(md: CMinDays, days: list[int]) -> list[int]:
    """Per lesson of `md` (in its order), how many of its pairs it breaks
    (closer than `md.min_days` days) on these days (by activity index;
    -1: unplaced, breaking nothing)."""
    ds = [days[a] for a in md.activities]
    return [
        sum(1 for j, e in enumerate(ds) if j != i and e >= 0 and abs(d - e) < md.min_days)
        if d >= 0
        else 0
        for i, d in enumerate(ds)
    ]


def spread_breaks(comp: Compiled, starts: Sequence[int]) -> tuple[list[tuple[int, int]], int]:
    """The pairs of lessons that break a soft min days with these starts,
    and what they cost (per pair its weight times the days missing, scaled
    as `CMinDays.cost`)."""
    out: list[tuple[int, int]] = []
    cost = 0
    for md in comp.min_days:
        if not md.cost:
            continue
        acts = md.activities
        days = [starts[a] // comp.MH for a in acts]
        for i, d in enumerate(days):
            for j in range(i + 1, len(days)):
                gap = abs(d - days[j])
                if gap < md.min_days:
                    out.append((acts[i], acts[j]))
                    cost += md.cost * (md.min_days - gap)
    return out, cost


def fet_reading_excess(comp: Compiled, starts: list[int]) -> int:
    """The pairs broken beyond `FET_READING_BROKEN_MAX`, summed over the
    lessons of the capped soft min days (`fet_reading_capped`)."""
    days = [t // comp.MH if t >= 0 else -1 for t in starts]
    return sum(
        max(0, n - FET_READING_BROKEN_MAX)
        for md in comp.min_days
        if fet_reading_capped(md)
        for n in broken_pairs(md, days)
    )


def _slot(H: int, s: m.Slot) -> int:
    return s[0] * H + s[1]


def _start_slots(D: int, H: int, slots: tuple[m.Slot, ...]) -> set[int]:
    """Starting times; a negative day or hour is FET's "any"."""
    out: set[int] = set()
    for d, h in slots:
        for dd in range(D) if d < 0 else (d,):
            for hh in range(H) if h < 0 else (h,):
                out.add(dd * H + hh)
    return out


def component_number(a: m.Activity) -> int:
    """1-based part number within its split activity (FET: parts have consecutive ids)."""
    return a.id - a.group_id + 1 if a.group_id else 1


def matches(f: m.ActivityFilter, a: m.Activity, inst: m.Instance) -> bool:
    """FET's activity filter: students match when they share a subgroup."""
    if f.teacher is not None and f.teacher not in a.teachers:
        return False
    if f.students is not None:
        want = set(inst.subgroups_of(f.students))
        if not any(want.intersection(inst.subgroups_of(s)) for s in a.students):
            return False
    if f.subject is not None and f.subject != a.subject:
        return False
    if f.tag is not None and f.tag not in a.tags:
        return False
    if f.duration is not None and f.duration != a.duration:
        return False
    return f.component is None or component_number(a) == f.component


def compile_instance(inst: m.Instance) -> Compiled:
    D, H = len(inst.days), len(inst.hours)
    S = D * H
    acts = inst.activities
    by_id = {a.id: i for i, a in enumerate(acts)}
    teacher_ix = {t.name: i for i, t in enumerate(inst.teachers)}
    for a in acts:  # teachers named only on activities
        for t in a.teachers:
            if t not in teacher_ix:
                teacher_ix[t] = len(teacher_ix)
    room_ix = {r.name: i for i, r in enumerate(inst.rooms)}
    sets = {s.name: s for s in inst.students}

    def subgroups_of(name: str) -> tuple[str, ...]:
        return inst.subgroups_of(name)

    # --- per-slot restrictions --------------------------------------------------
    break_hard: set[int] = set()
    break_soft: dict[int, int] = defaultdict(int)
    teacher_na: dict[str, set[int]] = defaultdict(set)
    teacher_na_soft: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sub_na: dict[str, set[int]] = defaultdict(set)
    sub_na_soft: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    room_na: dict[int, set[int]] = defaultdict(set)
    room_na_soft: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    allowed: list[set[int]] = []  # allowed start slots per activity
    for a in acts:
        starts = {d * H + h for d in range(D) for h in range(H - a.duration + 1)}
        allowed.append(starts)
    start_cost: list[dict[int, int]] = [defaultdict(int) for _ in acts]

    def restrict_starts(i: int, ok: set[int], cost: int) -> None:
        if cost == 0:
            allowed[i] &= ok
        else:
            for t in allowed[i] - ok:
                start_cost[i][t] += cost

    def restrict_slots(i: int, ok: set[int], cost: int) -> None:
        dur = acts[i].duration
        if cost == 0:
            allowed[i] = {t for t in allowed[i] if all(t + k in ok for k in range(dur))}
        else:
            for t in allowed[i]:
                n = sum(1 for k in range(dur) if t + k not in ok)
                if n:
                    start_cost[i][t] += n * cost

    hard_cs: list[m.Constraint] = []
    weightless_adjacent: list[m.MinDaysBetweenActivities] = []
    for c in inst.constraints:
        tname = type(c).__name__
        hard = is_hard(c)
        if float(c.weight) <= 0:
            # FET never enforces nor counts a constraint of weight 0 (its
            # generator skips it with probability 1), whatever its type; but
            # a min days' "consecutive if same day" holds whatever the weight
            if (
                isinstance(c, m.MinDaysBetweenActivities)
                and c.consecutive_if_same_day
                and c.min_days >= 1
            ):
                weightless_adjacent.append(c)
            continue
        if not hard and tname not in SOFT_SUPPORTED:
            raise UnsupportedConstraintError(tname, f"soft ({c.weight}%) variant not supported")
        cost = 0 if hard else cost_of(c.weight)
        if isinstance(c, m.BreakTimes):
            for s in c.slots:
                if hard:
                    break_hard.add(_slot(H, s))
                else:
                    break_soft[_slot(H, s)] += cost
        elif isinstance(c, m.TeacherNotAvailableTimes):
            for s in c.slots:
                if hard:
                    teacher_na[c.teacher].add(_slot(H, s))
                else:
                    teacher_na_soft[c.teacher][_slot(H, s)] += cost
        elif isinstance(c, m.StudentsSetNotAvailableTimes):
            for sg in subgroups_of(c.students):
                for s in c.slots:
                    if hard:
                        sub_na[sg].add(_slot(H, s))
                    else:
                        sub_na_soft[sg][_slot(H, s)] += cost
        elif isinstance(c, m.RoomNotAvailableTimes):
            if c.room in room_ix:
                if hard:
                    room_na[room_ix[c.room]].update(_slot(H, s) for s in c.slots)
                else:
                    for s in c.slots:
                        room_na_soft[room_ix[c.room]][_slot(H, s)] += cost
        else:
            hard_cs.append(c)

    # not-available and break slots restrict the activities' occupied slots
    for i, a in enumerate(acts):
        bad: set[int] = set(break_hard)
        for t in a.teachers:
            bad |= teacher_na.get(t, set())
        subs = {sg for st in a.students for sg in subgroups_of(st)}
        for sg in subs:
            bad |= sub_na.get(sg, set())
        if bad:
            restrict_slots(i, set(range(S)) - bad, 0)
        soft: dict[int, int] = defaultdict(int)
        for t_, c_ in break_soft.items():
            soft[t_] += c_
        for t in a.teachers:
            for t_, c_ in teacher_na_soft.get(t, {}).items():
                soft[t_] += c_
        for sg in subs:
            for t_, c_ in sub_na_soft.get(sg, {}).items():
                soft[t_] += c_
        for t_start in allowed[i]:
            extra = sum(soft.get(t_start + k, 0) for k in range(a.duration))
            if extra:
                start_cost[i][t_start] += extra

    # --- the rest, by type ------------------------------------------------------
    comp = Compiled(
        instance=inst,
        D=D,
        H=H,
        activities=[],
        subgroups=[],
        teachers=[],
        rooms=[],
        by_id=by_id,
        breaks=break_hard,
        R=inst.days_per_real_day,
    )
    pref_rooms: list[list[tuple[set[int], int]]] = [[] for _ in acts]  # (rooms, cost)
    #: the real rooms a hard preferred virtual room gives an activity
    real_given: dict[int, tuple[str, ...]] = {}
    home_rooms: list[list[tuple[set[int], int]]] = [[] for _ in acts]
    t_limits: dict[str, list[m.Constraint]] = defaultdict(list)
    s_limits: dict[str, list[m.Constraint]] = defaultdict(list)
    all_teachers = list(teacher_ix)
    all_subgroups = sorted({sg for a in acts for st in a.students for sg in subgroups_of(st)})

    def ids(seq: tuple[int, ...]) -> list[int]:
        return [by_id[x] for x in seq if x in by_id]

    def filtered(f: m.ActivityFilter) -> list[int]:
        return [i for i, a in enumerate(acts) if matches(f, a, inst)]

    def room_set(names: tuple[str, ...]) -> set[int]:
        return {room_ix[r] for r in names if r in room_ix}

    #: virtual people (not-overlapping lists here, tag limits from
    #: `_tag_people`): (name, activities, their limits)
    together: list[tuple[str, list[int], list[tuple[m.Constraint, int]]]] = []
    tag_cs: list[m.Constraint] = []
    for md in weightless_adjacent:
        members = ids(md.activities)
        if len(members) >= 2:
            comp.same_day_adjacent.append(members)
    for c in hard_cs:
        cost = 0 if is_hard(c) else cost_of(c.weight)
        if isinstance(c, m.ActivityPreferredStartingTime):
            if c.activity in by_id:
                i = by_id[c.activity]
                ok = {
                    d * H + h
                    for d in range(D)
                    for h in range(H)
                    if (c.day is None or d == c.day) and (c.hour is None or h == c.hour)
                }
                restrict_starts(i, ok, cost)
        elif isinstance(c, m.ActivityPreferredStartingTimes):
            if c.activity in by_id:
                restrict_starts(by_id[c.activity], _start_slots(D, H, c.slots), cost)
        elif isinstance(c, m.ActivityPreferredTimeSlots):
            if c.activity in by_id:
                restrict_slots(by_id[c.activity], {_slot(H, s) for s in c.slots}, cost)
        elif isinstance(c, m.ActivitiesPreferredStartingTimes):
            ok = _start_slots(D, H, c.slots)
            for i in filtered(c.filter):
                restrict_starts(i, ok, cost)
        elif isinstance(c, m.ActivitiesPreferredTimeSlots):
            ok = {_slot(H, s) for s in c.slots}
            for i in filtered(c.filter):
                restrict_slots(i, ok, cost)
        elif isinstance(c, m.MinDaysBetweenActivities):
            members = ids(c.activities)
            if len(members) >= 2 and c.min_days >= 1:
                comp.min_days.append(CMinDays(members, c.min_days, c.consecutive_if_same_day, cost))
        elif isinstance(c, m.ActivitiesSameStartingTime):
            if cost == 0:
                comp.same_start.append(ids(c.activities))
            else:
                comp.same_start_soft.append((ids(c.activities), cost))
        elif isinstance(c, m.ActivitiesSameStartingDay):
            comp.same_day.append(ids(c.activities))
        elif isinstance(c, m.ActivitiesNotOverlapping):
            together.append((f"not overlapping {len(together)}", ids(c.activities), []))
        elif isinstance(c, m.MinGapsBetweenActivities):
            comp.min_gaps.append((ids(c.activities), c.min_gaps))
        elif isinstance(c, m.ActivitiesSameStartingHour):
            if cost == 0:
                comp.same_hour.append(ids(c.activities))
            else:
                comp.same_hour_soft.append((ids(c.activities), cost))
        elif isinstance(c, m.ActivitiesMaxSimultaneousInSelectedTimeSlots):
            comp.max_simultaneous.append(
                (ids(c.activities), sorted({_slot(H, s) for s in c.slots}), c.max_simultaneous)
            )
        elif isinstance(c, m.TwoActivitiesOrdered | m.TwoActivitiesOrderedIfSameDay):
            if c.first in by_id and c.second in by_id:
                pair = (by_id[c.first], by_id[c.second])
                if isinstance(c, m.TwoActivitiesOrdered):
                    comp.ordered.append(pair)
                else:
                    comp.ordered_same_day.append(pair)
        elif isinstance(c, m.ThreeActivitiesGrouped):
            if all(x in by_id for x in (c.first, c.second, c.third)):
                comp.grouped3.append((by_id[c.first], by_id[c.second], by_id[c.third]))
        elif isinstance(c, m.MaxDaysBetweenActivities):
            comp.max_days_between.append((ids(c.activities), c.max_days, cost))
        elif isinstance(c, m.ActivitiesOccupyMaxDifferentRooms):
            comp.max_rooms.append((ids(c.activities), c.max_rooms))
        elif isinstance(c, m.ActivitiesOccupyMaxTimeSlotsFromSelection):
            comp.occupy_max.append(
                (ids(c.activities), sorted({_slot(H, s) for s in c.slots}), c.max_occupied)
            )
        elif isinstance(c, m.ActivityEndsStudentsDay):
            if c.activity in by_id:
                comp.ends_day.append(by_id[c.activity])
        elif isinstance(c, m.ActivitiesEndStudentsDay):
            comp.ends_day.extend(filtered(c.filter))
        elif isinstance(c, m.TwoActivitiesConsecutive):
            if c.first in by_id and c.second in by_id:
                pair = (by_id[c.first], by_id[c.second])
                if cost == 0:
                    comp.consecutive.append(pair)
                else:
                    comp.consecutive_soft.append((*pair, cost))
        elif isinstance(c, m.TwoActivitiesGrouped):
            if c.first in by_id and c.second in by_id:
                comp.grouped.append((by_id[c.first], by_id[c.second]))
        elif isinstance(
            c,
            m.StudentsMaxGapsPerWeek
            | m.StudentsMaxGapsPerDay
            | m.StudentsEarlyMaxBeginningsAtSecondHour
            | m.StudentsMinHoursDaily
            | m.StudentsMaxHoursDaily
            | m.StudentsMaxHoursDailyRealDays
            | m.StudentsMaxHoursContinuously
            | m.StudentsIntervalMaxDaysPerWeek
            | m.StudentsMaxBuildingChanges
            | m.StudentsMinGapsBetweenBuildingChanges,
        ):
            targets = all_subgroups if c.students is None else list(subgroups_of(c.students))
            for sg in targets:
                s_limits[sg].append(c)
        elif isinstance(
            c,
            m.TeacherMaxGapsPerWeek
            | m.TeacherMaxGapsPerDay
            | m.TeacherMaxDaysPerWeek
            | m.TeacherMaxHoursDaily
            | m.TeacherMaxHoursDailyRealDays
            | m.TeacherMinHoursDaily
            | m.TeacherMaxHoursContinuously
            | m.TeacherIntervalMaxDaysPerWeek
            | m.TeacherMinDaysPerWeek
            | m.TeacherMaxBuildingChanges
            | m.TeacherMinGapsBetweenBuildingChanges,
        ):
            targets = all_teachers if c.teacher is None else [c.teacher]
            for t in targets:
                t_limits[t].append(c)
        elif isinstance(
            c,
            m.TeacherActivityTagMaxHoursDaily
            | m.StudentsActivityTagMaxHoursDaily
            | m.TeacherActivityTagMaxHoursContinuously
            | m.StudentsActivityTagMaxHoursContinuously,
        ):
            tag_cs.append(c)
        elif isinstance(c, m.MaxSpanPerDay | m.MinRestingHours):
            if c.students is not None or c.all_students:
                for sg in all_subgroups if c.students is None else subgroups_of(c.students):
                    s_limits[sg].append(c)
            else:
                for t in all_teachers if c.teacher is None else [c.teacher]:
                    t_limits[t].append(c)
        elif isinstance(c, m.ActivityPreferredRooms):
            if c.activity in by_id:
                pref_rooms[by_id[c.activity]].append((room_set(c.rooms), cost))
                if c.real_rooms and cost == 0:
                    real_given[by_id[c.activity]] = c.real_rooms
        elif isinstance(c, m.SubjectPreferredRooms):
            for i, a in enumerate(acts):
                if a.subject == c.subject:
                    pref_rooms[i].append((room_set(c.rooms), cost))
        elif isinstance(c, m.ActivityTagPreferredRooms):
            for i, a in enumerate(acts):
                if c.tag in a.tags:
                    pref_rooms[i].append((room_set(c.rooms), cost))
        elif isinstance(c, m.SubjectActivityTagPreferredRooms):
            for i, a in enumerate(acts):
                if a.subject == c.subject and c.tag in a.tags:
                    pref_rooms[i].append((room_set(c.rooms), cost))
        elif isinstance(c, m.StudentsSetHomeRooms):
            for i, a in enumerate(acts):
                if a.students == (c.students,):
                    home_rooms[i].append((room_set(c.rooms), cost))
        elif isinstance(c, m.TeacherHomeRooms):
            for i, a in enumerate(acts):
                if a.teachers == (c.teacher,):
                    home_rooms[i].append((room_set(c.rooms), cost))
        elif isinstance(c, m.ActivitiesSameRoomIfConsecutive):
            raise UnsupportedConstraintError(
                type(c).__name__,
                "the solver does not keep back-to-back lessons in one room yet "
                "(read and checked only)",
            )
        else:
            raise UnsupportedConstraintError(type(c).__name__, "constraint type not supported")

    # --- rooms ----------------------------------------------------------------
    comp.rooms = [
        CRoom(r.name, room_na.get(i, set()), dict(room_na_soft.get(i, {})))
        for i, r in enumerate(inst.rooms)
    ]
    n_students = {s.name: s.students for s in sets.values()}
    room_lists: list[list[int] | None] = []
    room_costs: list[dict[int, int]] = []
    all_rooms = set(range(len(inst.rooms)))
    for i, a in enumerate(acts):
        if not pref_rooms[i] and not home_rooms[i]:
            room_lists.append(None)
            room_costs.append({})
            continue
        any_pref: set[int] = set()
        for rs, _ in pref_rooms[i]:
            any_pref |= rs
        needs = any(cst == 0 for _, cst in pref_rooms[i] + home_rooms[i])
        if needs:
            cand = set(all_rooms)
        else:  # soft only: a preferred room, or none (another room costs as much)
            cand = set(any_pref)
            for rs, _ in home_rooms[i]:
                cand |= rs
        for rs, cst in pref_rooms[i]:
            if cst == 0:
                cand &= rs
        for rs, cst in home_rooms[i]:
            if cst == 0:
                cand &= rs | any_pref
        count = a.students_count
        if count is None:
            count = sum(n_students.get(s, 0) for s in a.students if s in n_students)
        cand = {
            r
            for r in cand
            if inst.rooms[r].capacity is None or count <= (inst.rooms[r].capacity or 0)
        }
        if not needs:
            cand.add(NO_ROOM)
        virtual = {r for r in cand if r != NO_ROOM and inst.rooms[r].virtual}
        if virtual and len(cand) > 1:
            if len(virtual) == len(cand):
                raise UnsupportedConstraintError(
                    "VirtualRoom", "an activity's choice between virtual rooms"
                )
            # a choice between a virtual room and others: one of the others
            # (never a worse breach of a hard constraint; soft costs counted)
            cand -= virtual
        rc: dict[int, int] = defaultdict(int)
        for r in cand:
            for rs, cst in pref_rooms[i]:
                if cst and r not in rs:
                    rc[r] += cst
            for rs, cst in home_rooms[i]:
                if cst and r not in rs and r not in any_pref:
                    rc[r] += cst
        room_lists.append(sorted(cand))
        room_costs.append({r: v for r, v in rc.items() if v})

    # the building each activity's rooms are in: -1 none (no room, or rooms
    # without one), VARIES when it depends on the room chosen
    building_ix: dict[str, int] = {}
    act_building: list[int] = []
    for listed in room_lists:
        names = {None if r == NO_ROOM else inst.rooms[r].building or None for r in listed or []}
        if len(names) > 1:
            act_building.append(VARIES)
        else:
            name = next(iter(names), None)
            act_building.append(
                -1 if name is None else building_ix.setdefault(name, len(building_ix))
            )

    # --- subgroup classes (FET's "equivalent subgroups") ------------------------
    acts_of_sub: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(acts):
        for sg in sorted({sg for st in a.students for sg in subgroups_of(st)}):
            acts_of_sub[sg].append(i)
    class_of: dict[tuple[object, ...], int] = {}
    sub_class: dict[str, int] = {}
    keys = {
        sg: (
            tuple(acts_of_sub[sg]),
            tuple(sorted(sub_na.get(sg, set()))),
            tuple(sorted(repr(c) for c in s_limits.get(sg, []))),
        )
        for sg in all_subgroups
    }
    # a class stands for its equivalent subgroups, and FET (and the checker)
    # counts a soft limit's break once per subgroup: so many times its cost
    class_size = Counter(keys.values())
    for sg in all_subgroups:
        key = keys[sg]
        if key not in class_of:
            class_of[key] = len(comp.subgroups)
            lim = s_limits.get(sg, [])
            comp.subgroups.append(
                _person(
                    sg,
                    acts_of_sub[sg],
                    lim,
                    sub_na.get(sg, set()),
                    break_hard,
                    D,
                    H,
                    act_building,
                    scales=[class_size[key]] * len(lim),
                )
            )
        sub_class[sg] = class_of[key]

    acts_of_teacher: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(acts):
        for t in a.teachers:
            acts_of_teacher[t].append(i)
    teacher_class: dict[str, int] = {}
    for t in all_teachers:
        if not acts_of_teacher.get(t):
            continue
        teacher_class[t] = len(comp.teachers)
        comp.teachers.append(
            _person(
                t,
                acts_of_teacher[t],
                t_limits.get(t, []),
                teacher_na.get(t, set()),
                break_hard,
                D,
                H,
                act_building,
            )
        )

    virtual_of: dict[int, list[int]] = defaultdict(list)
    tagged = _tag_people(tag_cs, inst, acts_of_teacher, comp.subgroups, sub_class, all_subgroups)
    for name, members, limits in together + tagged:
        if len(members) < 2:
            continue
        for i in members:
            virtual_of[i].append(len(comp.teachers))
        comp.teachers.append(
            _person(
                name,
                members,
                [c for c, _ in limits],
                set(),
                break_hard,
                D,
                H,
                act_building,
                scales=[k for _, k in limits],
            )
        )

    in_virtual: dict[int, int] = {}
    for i, a in enumerate(acts):
        fixed = room_lists[i]
        if (
            fixed
            and len(fixed) == 1
            and fixed[0] != NO_ROOM
            and comp.rooms[fixed[0]].unavailable_soft
        ):
            # the one room it takes: its soft closed hours cost as a start's
            for start in allowed[i]:
                extra = comp.rooms[fixed[0]].soft_cost(start, a.duration)
                if extra:
                    start_cost[i][start] += extra
        if fixed and len(fixed) == 1 and fixed[0] != NO_ROOM and inst.rooms[fixed[0]].virtual:
            # its real rooms are what is booked (`_virtual_rooms`); the
            # virtual room's own closed hours are closed to it
            in_virtual[i] = fixed[0]
            closed = comp.rooms[fixed[0]].unavailable
            allowed[i] = {t for t in allowed[i] if closed.isdisjoint(range(t, t + a.duration))}
        classes = sorted({sub_class[sg] for st in a.students for sg in subgroups_of(st)})
        comp.activities.append(
            CActivity(
                index=i,
                id=a.id,
                duration=a.duration,
                teachers=sorted({teacher_class[t] for t in a.teachers} | set(virtual_of[i])),
                subgroups=classes,
                starts=sorted(allowed[i]),
                start_cost={t: v for t, v in start_cost[i].items() if v and t in allowed[i]},
                rooms=None if i in in_virtual else room_lists[i],
                room_cost={} if i in in_virtual else room_costs[i],
                group_id=a.group_id,
            )
        )
    comp.symmetric = _symmetry_classes(comp, inst)
    for cmd in comp.min_days:
        cmd.cap_possible = _fet_cap_possible(comp, cmd)
    comp.lessons = len(comp.activities)
    _virtual_rooms(comp, inst, in_virtual, real_given, room_ix)
    return comp


def _virtual_rooms(
    comp: Compiled,
    inst: m.Instance,
    in_virtual: dict[int, int],
    real_given: dict[int, tuple[str, ...]],
    room_ix: dict[str, int],
) -> None:
    """A lesson in a virtual room books one real room of each of its sets:
    one stand-in activity per set (no teachers, no students, the set's rooms
    as candidates, or those of them given), starting with the lesson. Two
    stand-ins at one time never share a room, so the real rooms differ."""
    for i, v in sorted(in_virtual.items()):
        lesson = comp.activities[i]
        sets = inst.rooms[v].real_rooms
        given = real_given.get(i, ())
        stand_ins: list[int] = []
        for names in sets:
            if len(given) == len(sets):
                # the given real rooms, each to a set it is in (FET reads
                # them as a set: its own reading may list them in another order)
                names = tuple(x for x in names if x in given)
            unknown = [x for x in names if x not in room_ix or inst.rooms[room_ix[x]].virtual]
            if unknown or not names:
                raise UnsupportedConstraintError(
                    "VirtualRoom", f"{inst.rooms[v].name}: not a set of real rooms: {list(names)}"
                )
            j = len(comp.activities)
            comp.activities.append(
                CActivity(
                    index=j,
                    id=-j - 1,
                    duration=lesson.duration,
                    teachers=[],
                    subgroups=[],
                    starts=list(lesson.starts),
                    rooms=sorted(room_ix[x] for x in names),
                )
            )
            stand_ins.append(j)
        comp.same_start.append([i, *stand_ins])
        comp.virtual[i] = (v, stand_ins)


def _person(
    name: str,
    activities: list[int],
    limits: list[m.Constraint],
    na: set[int],
    breaks: set[int],
    D: int,
    H: int,
    act_building: list[int],
    *,
    scales: Sequence[int] | None = None,
) -> CPerson:
    """`scales` (one per limit; None: 1 each): how many times one break of
    a soft limit counts (the subgroups of a class it names)."""
    counted = [
        [h for h in range(H) if d * H + h not in na and d * H + h not in breaks] for d in range(D)
    ]
    p = CPerson(name, activities, counted)

    def tighter(old: tuple[int, int] | None, new: tuple[int, int]) -> tuple[int, int]:
        # two constraints of one kind: keep both semantics only when hard
        if old is None:
            return new
        if old[1] == 0 and new[1] == 0:
            return (min(old[0], new[0]), 0)
        if old[1] == 0:
            return old if old[0] <= new[0] else _both(old, new)
        if new[1] == 0:
            return new if new[0] <= old[0] else _both(old, new)
        return _both(old, new)

    hours: list[tuple[int, int]] = []
    for j, c in enumerate(limits):
        cost = 0 if is_hard(c) else cost_of(c.weight) * (1 if scales is None else scales[j])
        if isinstance(c, m.StudentsMaxGapsPerWeek | m.TeacherMaxGapsPerWeek):
            p.max_gaps_week = tighter(p.max_gaps_week, (c.max_gaps, cost))
        elif isinstance(c, m.StudentsMaxGapsPerDay | m.TeacherMaxGapsPerDay):
            p.max_gaps_day = tighter(p.max_gaps_day, (c.max_gaps, cost))
        elif isinstance(c, m.StudentsEarlyMaxBeginningsAtSecondHour):
            if cost:
                raise UnsupportedConstraintError(type(c).__name__, "FET requires weight 100")
            p.early_max = (
                c.max_beginnings if p.early_max is None else min(p.early_max, c.max_beginnings)
            )
        elif isinstance(c, m.StudentsMinHoursDaily | m.TeacherMinHoursDaily):
            if cost:
                raise UnsupportedConstraintError(type(c).__name__, "soft variant not supported")
            old = p.min_hours_daily
            if old is None:
                p.min_hours_daily = (c.min_hours, c.allow_empty_days, 0)
            else:
                p.min_hours_daily = (max(old[0], c.min_hours), old[1] and c.allow_empty_days, 0)
        elif isinstance(c, m.StudentsMaxHoursDaily | m.TeacherMaxHoursDaily):
            hours.append((c.max_hours, cost))
        elif isinstance(c, m.StudentsMaxHoursDailyRealDays | m.TeacherMaxHoursDailyRealDays):
            p.max_hours_real.append((c.max_hours, cost))
        elif isinstance(c, m.TeacherMaxDaysPerWeek):
            p.max_days = tighter(p.max_days, (c.max_days, cost))
        elif isinstance(c, m.TeacherMaxHoursContinuously | m.StudentsMaxHoursContinuously):
            p.max_hours_cont.append((c.max_hours, cost))
        elif isinstance(c, m.TeacherIntervalMaxDaysPerWeek | m.StudentsIntervalMaxDaysPerWeek):
            end = c.end_hour if c.end_hour > c.start_hour else H
            p.interval_max_days.append((c.start_hour, end, c.max_days, cost))
        elif isinstance(c, m.TeacherMinDaysPerWeek):
            p.min_days.append((c.min_days, cost))
        elif isinstance(c, m.MaxSpanPerDay):
            p.max_span = c.max_span if p.max_span is None else min(p.max_span, c.max_span)
        elif isinstance(c, m.MinRestingHours):
            p.min_rest.append((c.min_hours, c.circular))
        elif isinstance(
            c,
            m.TeacherMaxBuildingChanges
            | m.StudentsMaxBuildingChanges
            | m.TeacherMinGapsBetweenBuildingChanges
            | m.StudentsMinGapsBetweenBuildingChanges,
        ):
            if not p.building_of:
                p.building_of = _buildings_of(type(c).__name__, activities, act_building)
            if not p.building_of:
                continue  # one building or none: no change possible
            if isinstance(c, m.TeacherMaxBuildingChanges | m.StudentsMaxBuildingChanges):
                p.building_max.append((c.max_changes, c.per_week, cost))
            else:
                p.building_gaps.append((c.min_gaps, cost))
    if hours:
        # the tightest hard limit, and each soft one below it on its own
        hard = min((k for k, cost in hours if cost == 0), default=None)
        soft = sorted(x for x in hours if x[1] and (hard is None or x[0] < hard))
        first = (hard, 0) if hard is not None else soft.pop(0)
        p.max_hours_daily, p.more_hours_daily = first, soft
    return p


def _tag_people(
    tag_cs: list[m.Constraint],
    inst: m.Instance,
    acts_of_teacher: dict[str, list[int]],
    subgroups: list[CPerson],
    sub_class: dict[str, int],
    all_subgroups: list[str],
) -> list[tuple[str, list[int], list[tuple[m.Constraint, int]]]]:
    """Virtual people for the activity-tag limits: a teacher's (a subgroup
    class's) lessons with the tag, which never overlap, as one more person
    whose max hours a day (in a row) is the tag's. The CP-SAT model and the
    swapping then keep them as they keep a teacher's own; the checker counts
    them as FET does, on the real people (a class's limit once per subgroup
    it names: its scale)."""
    limits: dict[tuple[str, int | str, str], list[tuple[m.Constraint, int]]] = defaultdict(list)
    owners: dict[tuple[str, int | str, str], list[int]] = {}
    for c in tag_cs:
        assert isinstance(
            c,
            m.TeacherActivityTagMaxHoursDaily
            | m.StudentsActivityTagMaxHoursDaily
            | m.TeacherActivityTagMaxHoursContinuously
            | m.StudentsActivityTagMaxHoursContinuously,
        )
        plain: m.Constraint
        w = c.weight
        if (
            isinstance(
                c, m.StudentsActivityTagMaxHoursDaily | m.StudentsActivityTagMaxHoursContinuously
            )
            and w >= FET_READING_FROM
        ):
            # kept as hard: FET's generator tries a students' limit once per
            # subgroup of the lesson it places, with its weight, so a
            # year's lesson that breaks it for six subgroups at 98 % passes
            # one try in 50^6, and FET's reading refuses such a timetable
            # (Dakahlia's input_Lectures_40 and institution-2012-2013,
            # where FET's own timetables break none)
            w = m.HARD
        if "Continuously" in type(c).__name__:
            plain = m.TeacherMaxHoursContinuously(weight=w, max_hours=c.max_hours)
        else:
            plain = m.TeacherMaxHoursDaily(weight=w, max_hours=c.max_hours)
        people: list[tuple[int | str, list[int], int]]
        if isinstance(
            c, m.TeacherActivityTagMaxHoursDaily | m.TeacherActivityTagMaxHoursContinuously
        ):
            names = list(acts_of_teacher) if c.teacher is None else [c.teacher]
            people = [(t, acts_of_teacher.get(t, []), 1) for t in names]
        else:
            targets = all_subgroups if c.students is None else inst.subgroups_of(c.students)
            named = Counter(sub_class[sg] for sg in set(targets) if sg in sub_class)
            people = [(k, subgroups[k].activities, named[k]) for k in sorted(named)]
        for who, theirs, times in people:
            key = ("t" if isinstance(who, str) else "s", who, c.tag)
            owners[key] = [i for i in theirs if c.tag in inst.activities[i].tags]
            limits[key].append((plain, times))
    return [
        (
            f"{who if isinstance(who, str) else subgroups[who].name} ({tag})",
            owners[(kind, who, tag)],
            limits[(kind, who, tag)],
        )
        for kind, who, tag in limits
    ]


#: an activity whose rooms are in more than one building
VARIES = -2


def _buildings_of(kind: str, activities: list[int], act_building: list[int]) -> dict[int, int]:
    """The building of each of these activities that has one, when there
    are two or more (else empty: a building change cannot happen). The
    solver takes building changes only where the rooms fix the building."""
    found = {a: act_building[a] for a in activities if act_building[a] != -1}
    if any(b == VARIES for b in found.values()):
        raise UnsupportedConstraintError(
            kind, "an activity's building depends on the room it is given (its rooms differ)"
        )
    return found if len(set(found.values())) > 1 else {}


def _both(old: tuple[int, int], new: tuple[int, int]) -> tuple[int, int]:
    raise UnsupportedConstraintError(
        "limit", f"two limits of one kind for one person, one soft ({old}, {new})"
    )


def _symmetry_classes(comp: Compiled, inst: m.Instance) -> list[list[int]]:
    """Activities that can be swapped without changing the problem."""
    refs: dict[int, list[tuple[object, ...]]] = defaultdict(list)
    by_id = comp.by_id
    for ci, c in enumerate(inst.constraints):
        if isinstance(
            c,
            m.MinDaysBetweenActivities
            | m.ActivitiesSameStartingTime
            | m.ActivitiesSameStartingDay
            | m.ActivitiesNotOverlapping
            | m.MinGapsBetweenActivities
            | m.ActivitiesSameStartingHour
            | m.ActivitiesMaxSimultaneousInSelectedTimeSlots
            | m.ActivitiesOccupyMaxDifferentRooms
            | m.MaxDaysBetweenActivities
            | m.ActivitiesOccupyMaxTimeSlotsFromSelection,
        ):
            for x in c.activities:
                if x in by_id:
                    refs[by_id[x]].append(("set", ci))
        elif isinstance(
            c,
            m.TwoActivitiesConsecutive
            | m.TwoActivitiesGrouped
            | m.TwoActivitiesOrdered
            | m.TwoActivitiesOrderedIfSameDay
            | m.ThreeActivitiesGrouped,
        ):
            roles = [("first", c.first), ("second", c.second)]
            if isinstance(c, m.ThreeActivitiesGrouped):
                roles.append(("third", c.third))
            for role, x in roles:
                if x in by_id:
                    refs[by_id[x]].append((role, ci))
        elif hasattr(c, "activity"):
            x = c.activity
            if x in by_id:
                # per-activity constraint: the content without the id
                content = msgspec_repr_without_activity(c)
                refs[by_id[x]].append(("own", content))
    # filters with a component number distinguish parts
    uses_component = any(
        getattr(getattr(c, "filter", None), "component", None) is not None for c in inst.constraints
    )
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for ca in comp.activities:
        a = inst.activities[ca.index]
        if not a.teachers and not a.students:
            continue
        key = (
            a.subject,
            a.teachers,
            a.students,
            a.tags,
            a.duration,
            a.students_count,
            tuple(ca.starts),
            tuple(sorted(ca.start_cost.items())),
            tuple(ca.rooms) if ca.rooms is not None else None,
            tuple(sorted(ca.room_cost.items())),
            tuple(sorted(map(repr, refs.get(ca.index, [])))),
            component_number(a) if uses_component else None,
            ca.index in comp.ends_day,
        )
        groups[key].append(ca.index)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def msgspec_repr_without_activity(c: object) -> tuple[object, ...]:
    fields = getattr(c, "__struct_fields__", ())
    return (type(c).__name__, *tuple((f, getattr(c, f)) for f in fields if f != "activity"))


def pairs(seq: list[int]) -> list[tuple[int, int]]:
    return list(itertools.combinations(seq, 2))
