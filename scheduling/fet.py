"""Reading and writing FET files (https://lalescu.ro/liviu/fet/).

`read_fet` turns a `.fet` file into an `Instance` (plus, for a solved file, a
warm start); `read_activities_xml` / `write_activities_xml` read and write the
`<name>_activities.xml` timetable that `fet-cl` writes; `write_fet` writes a
FET-openable file holding a source file's data plus a timetable, the way FET
writes its own `<name>_data_and_timetable.fet`.

What is read
------------
Days and hours are referenced by name and become indices (hour names such as
"08:00-08:45" also give `Hour.start`/`end`). The students structure is Years >
Groups > Subgroups; every set lists the subgroups it contains, a year without
groups and a group without subgroups being their own single subgroup. FET lets
the same group or subgroup appear under several years: a name is one set, and
its subgroups are the union over its appearances.

Inactive activities (`<Active>false</Active>`) are left out, and so is every
reference to one: an activity list loses them, and a constraint left with too
few activities to mean anything (a single-activity constraint on an inactive
activity, a pair or a list constraint with fewer than two active activities)
is dropped, as FET itself does. Inactive constraints are skipped.

Every constraint element is accounted for in `FetFile.tally`: mapped into
`Instance.constraints`, implicit (`ConstraintBasicCompulsoryTime/Space`: the
model always has them), inactive, dropped for referring only to inactive
activities, taken into the warm start (see below), or unsupported. Unsupported
types are listed with their counts in `Instance.unsupported`, never dropped
silently. Three things that are not constraint elements but change what a
timetable must satisfy are listed there too: `Mode:Mornings_Afternoons`,
`Mode:Block_Planning`, `Mode:Terms` (FET's other modes; old files of its forks,
whose version ends in -ma…, -morocco…, -algeria… or -bp, open in those modes)
and `TeacherMorningsAfternoonsBehavior` (teachers restricted in that mode).

Virtual rooms (FET 6) are read as `Room.real_rooms`: a lesson in one takes a
real room of each of its sets (`Placement.real_rooms`, FET's `<Real_Room>`
in `activities.xml` and in a room lock).

Warm starts: telling FET's locks from the user's constraints
------------------------------------------------------------
When FET writes `<name>_data_and_timetable.fet` it copies the data and appends
to the time constraints, for every activity, a
`ConstraintActivityPreferredStartingTime` (weight 100, day and hour given,
`Permanently_Locked` false, empty comment) and to the space constraints, for
every activity that got a room, a `ConstraintActivityPreferredRoom` likewise;
an activity already fixed at that slot (or in that room) by a constraint of
its own gets no second one. The GUI's "lock" in the timetable views writes the
same constraints. So the XML does not mark FET's locks: they look exactly like
a user's hard "this activity at this time" constraint. What FET does keep
apart is `Permanently_Locked`: it never sets it for the timetable it writes;
the user does ("permanently locked" in the constraint dialog or the timetable
view), and FET's "unlock" commands leave such constraints alone. The rule:

1. A *lock* is an active `ConstraintActivityPreferredStartingTime` with weight
   100 and both day and hour, for an active activity.
2. A file is *solved* when every active activity has a lock; it then holds a
   complete timetable. A file where only some activities are locked holds the
   user's intent ("keep these lessons where they are"): constraints only, no
   warm start.
3. In a solved file each activity's last lock, and its last hard
   `ConstraintActivityPreferredRoom` if any, give its `Placement` in
   `FetFile.warm_start`. Locks that are not permanently locked are the
   timetable, not intent, and are *not* added to the constraints. Permanently
   locked ones stay constraints (`locked=True`) too.
4. A room lock is taken the same way, except when it is the only space
   constraint that asks a room for the activity (FET gives a room only to
   activities some space constraint asks one for: its preferred room(s), its
   subject's, tag's or subject-and-tag's preferred rooms, the home room of its
   only students set or only teacher). Such a one was there before FET placed
   anything: it is the user's and stays a constraint.

The price of rule 3: a user's own not permanently locked hard single-slot
constraint in a solved file cannot be told from FET's lock and is read as the
warm start. The fet-data examples that come with their solved
`_data_and_timetable.fet` (17 pairs) read back, with this rule, as exactly the
source's activities and constraints (a test checks it).

`write_fet` is the inverse: it removes what `read_fet` would take as the warm
start and appends one lock (and one room lock) per placement as FET does, so
`read_fet(write_fet(f, t))` has `f`'s constraints and `t` as its warm start.

Parsing uses the standard library's ElementTree: a `.fet` file has no DTD, so
files that declare entities or a DOCTYPE are refused before parsing (which is
what `defusedxml` would add), and no extra dependency is needed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from scheduling.model import (
    HARD,
    ActivitiesEndStudentsDay,
    ActivitiesMaxSimultaneousInSelectedTimeSlots,
    ActivitiesNotOverlapping,
    ActivitiesOccupyMaxDifferentRooms,
    ActivitiesOccupyMaxTimeSlotsFromSelection,
    ActivitiesPreferredStartingTimes,
    ActivitiesPreferredTimeSlots,
    ActivitiesSameRoomIfConsecutive,
    ActivitiesSameStartingDay,
    ActivitiesSameStartingHour,
    ActivitiesSameStartingTime,
    Activity,
    ActivityEndsStudentsDay,
    ActivityFilter,
    ActivityPreferredRooms,
    ActivityPreferredStartingTime,
    ActivityPreferredStartingTimes,
    ActivityPreferredTimeSlots,
    ActivityTagPreferredRooms,
    BreakTimes,
    Constraint,
    Day,
    Hour,
    Instance,
    MaxDaysBetweenActivities,
    MaxSpanPerDay,
    MinDaysBetweenActivities,
    MinGapsBetweenActivities,
    MinRestingHours,
    Placement,
    Room,
    RoomNotAvailableTimes,
    Slot,
    StudentsActivityTagMaxHoursContinuously,
    StudentsActivityTagMaxHoursDaily,
    StudentsEarlyMaxBeginningsAtSecondHour,
    StudentsIntervalMaxDaysPerWeek,
    StudentsMaxBuildingChanges,
    StudentsMaxGapsPerDay,
    StudentsMaxGapsPerWeek,
    StudentsMaxHoursContinuously,
    StudentsMaxHoursDaily,
    StudentsMaxHoursDailyRealDays,
    StudentsMinGapsBetweenBuildingChanges,
    StudentsMinHoursDaily,
    StudentsSet,
    StudentsSetHomeRooms,
    StudentsSetNotAvailableTimes,
    Subject,
    SubjectActivityTagPreferredRooms,
    SubjectPreferredRooms,
    Teacher,
    TeacherActivityTagMaxHoursContinuously,
    TeacherActivityTagMaxHoursDaily,
    TeacherHomeRooms,
    TeacherIntervalMaxDaysPerWeek,
    TeacherMaxBuildingChanges,
    TeacherMaxDaysPerWeek,
    TeacherMaxGapsPerDay,
    TeacherMaxGapsPerWeek,
    TeacherMaxHoursContinuously,
    TeacherMaxHoursDaily,
    TeacherMaxHoursDailyRealDays,
    TeacherMinDaysPerWeek,
    TeacherMinGapsBetweenBuildingChanges,
    TeacherMinHoursDaily,
    TeacherNotAvailableTimes,
    ThreeActivitiesGrouped,
    Timetable,
    TwoActivitiesConsecutive,
    TwoActivitiesGrouped,
    TwoActivitiesOrdered,
    TwoActivitiesOrderedIfSameDay,
    Unsupported,
)

__all__ = [
    "IMPLICIT",
    "SUPPORTED",
    "FetError",
    "FetFile",
    "Tally",
    "read_activities_xml",
    "read_fet",
    "write_activities_xml",
    "write_fet",
]


class FetError(ValueError):
    """The file is not a FET file this reader can make sense of."""


class Tally(msgspec.Struct, frozen=True, kw_only=True):
    """Where each constraint element of the file went; the counts add up to
    `elements` (checked by the tests on every fet-data example)."""

    elements: int = 0
    #: FET type → elements mapped into `Instance.constraints`
    mapped: dict[str, int] = {}
    #: ConstraintBasicCompulsoryTime/Space
    implicit: int = 0
    #: `<Active>false</Active>`
    inactive: int = 0
    #: dropped because every activity they name is inactive (or too few are left)
    inactive_activities: int = 0
    #: locks of a solved file taken as the warm start (not constraints)
    warm_start: int = 0
    #: elements of types listed in `Instance.unsupported`
    unsupported: int = 0
    #: a preferred starting time or min days identical to one before it:
    #: FET adds such a constraint once (`Rules::addTimeConstraint`)
    duplicates: int = 0

    def accounted(self) -> int:
        return (
            sum(self.mapped.values())
            + self.implicit
            + self.inactive
            + self.inactive_activities
            + self.warm_start
            + self.unsupported
            + self.duplicates
        )


class FetFile(msgspec.Struct, frozen=True, kw_only=True):
    instance: Instance
    #: the timetable a solved file holds (see the module docstring), else None
    warm_start: Timetable | None
    #: the path read
    source: str
    tally: Tally = msgspec.field(default_factory=Tally)


#: constraint types that are part of every timetable in the model
IMPLICIT = frozenset({"ConstraintBasicCompulsoryTime", "ConstraintBasicCompulsorySpace"})

_TIME = "Time_Constraints_List"
_SPACE = "Space_Constraints_List"
_LOCK_TIME = "ConstraintActivityPreferredStartingTime"
_LOCK_ROOM = "ConstraintActivityPreferredRoom"


# --- small XML helpers ----------------------------------------------------------


def _parse(data: bytes, what: str, comments: bool = False) -> ET.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FetError(f"{what}: refusing an XML file with a DOCTYPE or entity declarations")
    # no DTD, no entities (refused above); expat resolves no external entities
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=comments))  # noqa: S314
    try:
        parser.feed(data)
        return parser.close()
    except ET.ParseError as e:
        raise FetError(f"{what}: not well-formed XML ({e})") from None


def _text(e: ET.Element, tag: str) -> str | None:
    """A child's text as it is: names are not trimmed (FET does not trim
    them, and some files have names with spaces around them)."""
    c = e.find(tag)
    if c is None:
        return None
    return c.text or ""


def _texts(e: ET.Element, tag: str) -> tuple[str, ...]:
    return tuple(c.text or "" for c in e.findall(tag))


#: suffixes of the version attribute of old files written by FET's
#: mornings-afternoons and block-planning forks, which FET 6 opens in that mode
_FORK_MODES = (
    ("-ma", "Mornings_Afternoons"),
    ("-morocco", "Mornings_Afternoons"),
    ("-algeria", "Mornings_Afternoons"),
    ("-bp", "Block_Planning"),
)


def _mode(root: ET.Element) -> str:
    """FET's mode of the file: `<Mode>`, or for old fork files the suffix of
    their version (FET 6.8.5 opens `5.27.3-ma3` in mornings-afternoons mode)."""
    mode = _value(root, "Mode")
    if mode:
        return mode
    version = root.get("version", "")
    for suffix, fork in _FORK_MODES:
        if suffix in version:
            return fork
    return "Official"


def _value(e: ET.Element, tag: str) -> str | None:
    """A child's text trimmed, for numbers and flags."""
    t = _text(e, tag)
    return None if t is None else t.strip()


def _int(e: ET.Element, tag: str, default: int | None = None) -> int:
    t = _value(e, tag)
    if not t:
        if default is None:
            raise FetError(f"<{e.tag}> lacks <{tag}>")
        return default
    try:
        return int(t)
    except ValueError:
        try:
            return int(float(t))
        except ValueError:
            raise FetError(f"<{e.tag}>: <{tag}> is not a number: {t!r}") from None


def _bool(e: ET.Element, tag: str, default: bool) -> bool:
    t = _value(e, tag)
    if not t:
        return default
    return t.lower() in ("true", "1", "yes")


def _weight(e: ET.Element) -> float:
    t = _value(e, "Weight_Percentage")
    if not t:
        return HARD
    try:
        return float(t)
    except ValueError:
        raise FetError(f"<{e.tag}>: weight is not a number: {t!r}") from None


def _active(e: ET.Element) -> bool:
    return _value(e, "Active") != "false"


_HOUR_RE = re.compile(
    r"^\s*(\d{1,2})[:.h](\d{2})\s*(?:(?:-|–|—|to)\s*(\d{1,2})[:.h](\d{2})\s*)?$",
)


def _hour(name: str) -> Hour:
    m = _HOUR_RE.match(name)
    if m is None:
        return Hour(name=name)
    h1, m1, h2, m2 = m.groups()
    if int(h1) > 23 or int(m1) > 59:
        return Hour(name=name)
    start = f"{int(h1):02d}:{m1}"
    end = None
    if h2 is not None and m2 is not None and int(h2) <= 23 and int(m2) <= 59:
        end = f"{int(h2):02d}:{m2}"
    return Hour(name=name, start=start, end=end)


# --- the reader -------------------------------------------------------------------


@dataclass
class _Reader:
    days: dict[str, int] = field(default_factory=dict)
    hours: dict[str, int] = field(default_factory=dict)
    active_ids: set[int] = field(default_factory=set)
    all_ids: set[int] = field(default_factory=set)
    constraints: list[Constraint] = field(default_factory=list)
    mapped: Counter[str] = field(default_factory=Counter)
    unsupported: Counter[str] = field(default_factory=Counter)
    implicit: int = 0
    inactive: int = 0
    inactive_activities: int = 0
    duplicates: int = 0
    #: the constraints of the kinds FET adds once (`_ONCE`), to tell duplicates
    once: set[Constraint] = field(default_factory=set)
    #: a file of FET's old mornings-afternoons fork (`_FORK_MODES`), whose
    #: plural max hours daily FET 6 opens as max hours daily per real day
    fork_mornings_afternoons: bool = False

    # -- time references

    def day(self, name: str | None, where: str) -> int | None:
        if not name:
            return None
        try:
            return self.days[name]
        except KeyError:
            raise FetError(f"{where}: unknown day {name!r}") from None

    def hour(self, name: str | None, where: str) -> int | None:
        if not name:
            return None
        try:
            return self.hours[name]
        except KeyError:
            raise FetError(f"{where}: unknown hour {name!r}") from None

    def slots(self, e: ET.Element, item: str, day_tag: str, hour_tag: str) -> tuple[Slot, ...]:
        out: list[Slot] = []
        for s in e.findall(item):
            d = self.day(_text(s, day_tag), e.tag)
            h = self.hour(_text(s, hour_tag), e.tag)
            if d is None or h is None:
                raise FetError(f"<{e.tag}>: a time slot lacks its day or hour")
            out.append((d, h))
        return tuple(out)

    # -- activity references

    def ids(self, e: ET.Element, tag: str = "Activity_Id") -> tuple[int, ...]:
        out: list[int] = []
        for t in _texts(e, tag):
            try:
                out.append(int(t))
            except ValueError:
                raise FetError(f"<{e.tag}>: activity id is not a number: {t!r}") from None
        return tuple(out)

    def active(self, ids: Iterable[int]) -> tuple[int, ...]:
        return tuple(i for i in ids if i in self.active_ids)


def _filter(e: ET.Element, component: bool = False) -> ActivityFilter:
    def opt(tag: str) -> str | None:
        return _text(e, tag) or None

    duration = _int(e, "Duration", 0)
    return ActivityFilter(
        teacher=opt("Teacher_Name"),
        students=opt("Students_Name"),
        subject=opt("Subject_Name"),
        tag=opt("Activity_Tag_Name"),
        duration=duration or None,
        component=_int(e, "Component_Number", 1) if component else None,
    )


def _rooms(e: ET.Element) -> tuple[str, ...]:
    one = _text(e, "Room")
    if one is not None:
        return (one,)
    return _texts(e, "Preferred_Room")


#: a mapper returns the constraint, or None when it names no active activity
_Mapper = Callable[[_Reader, ET.Element, float], Constraint | None]


def _single_activity(r: _Reader, e: ET.Element) -> int | None:
    a = _int(e, "Activity_Id")
    return a if a in r.active_ids else None


def _m_break(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return BreakTimes(weight=w, slots=r.slots(e, "Break_Time", "Day", "Hour"))


def _m_teacher_na(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return TeacherNotAvailableTimes(
        weight=w,
        teacher=_text(e, "Teacher") or "",
        slots=r.slots(e, "Not_Available_Time", "Day", "Hour"),
    )


def _m_students_na(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return StudentsSetNotAvailableTimes(
        weight=w,
        students=_text(e, "Students") or "",
        slots=r.slots(e, "Not_Available_Time", "Day", "Hour"),
    )


def _m_room_na(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return RoomNotAvailableTimes(
        weight=w,
        room=_text(e, "Room") or "",
        slots=r.slots(e, "Not_Available_Time", "Day", "Hour"),
    )


def _m_preferred_starting_time(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    a = _single_activity(r, e)
    if a is None:
        return None
    return ActivityPreferredStartingTime(
        weight=w,
        activity=a,
        day=r.day(_text(e, "Preferred_Day"), e.tag),
        hour=r.hour(_text(e, "Preferred_Hour"), e.tag),
        locked=_bool(e, "Permanently_Locked", False),
    )


def _m_preferred_starting_times(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    a = _single_activity(r, e)
    if a is None:
        return None
    return ActivityPreferredStartingTimes(
        weight=w,
        activity=a,
        slots=r.slots(
            e, "Preferred_Starting_Time", "Preferred_Starting_Day", "Preferred_Starting_Hour"
        ),
    )


def _m_preferred_time_slots(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    a = _single_activity(r, e)
    if a is None:
        return None
    return ActivityPreferredTimeSlots(
        weight=w,
        activity=a,
        slots=r.slots(e, "Preferred_Time_Slot", "Preferred_Day", "Preferred_Hour"),
    )


def _m_activities_starting_times(component: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return ActivitiesPreferredStartingTimes(
            weight=w,
            filter=_filter(e, component),
            slots=r.slots(
                e, "Preferred_Starting_Time", "Preferred_Starting_Day", "Preferred_Starting_Hour"
            ),
        )

    return m


def _m_activities_time_slots(component: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return ActivitiesPreferredTimeSlots(
            weight=w,
            filter=_filter(e, component),
            slots=r.slots(e, "Preferred_Time_Slot", "Preferred_Day", "Preferred_Hour"),
        )

    return m


def _m_min_days(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if len(ids) < 2:
        return None
    return MinDaysBetweenActivities(
        weight=w,
        activities=ids,
        min_days=_int(e, "MinDays", 1),
        consecutive_if_same_day=_bool(e, "Consecutive_If_Same_Day", False),
    )


def _m_max_days(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if len(ids) < 2:
        return None
    return MaxDaysBetweenActivities(weight=w, activities=ids, max_days=_int(e, "MaxDays"))


def _m_min_gaps(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if len(ids) < 2:
        return None
    return MinGapsBetweenActivities(weight=w, activities=ids, min_gaps=_int(e, "MinGaps", 1))


def _m_activity_list(
    cls: type[ActivitiesSameStartingTime]
    | type[ActivitiesSameStartingDay]
    | type[ActivitiesSameStartingHour]
    | type[ActivitiesNotOverlapping]
    | type[ActivitiesSameRoomIfConsecutive],
) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
        ids = r.active(r.ids(e))
        if len(ids) < 2:
            return None
        return cls(weight=w, activities=ids)

    return m


def _m_max_rooms(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if len(ids) < 2:
        return None
    return ActivitiesOccupyMaxDifferentRooms(
        weight=w, activities=ids, max_rooms=_int(e, "Max_Number_of_Different_Rooms")
    )


def _m_occupy_max(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if not ids:
        return None
    return ActivitiesOccupyMaxTimeSlotsFromSelection(
        weight=w,
        activities=ids,
        slots=r.slots(e, "Selected_Time_Slot", "Selected_Day", "Selected_Hour"),
        max_occupied=_int(e, "Max_Number_of_Occupied_Time_Slots"),
    )


def _m_max_simultaneous(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = r.active(r.ids(e))
    if not ids:
        return None
    return ActivitiesMaxSimultaneousInSelectedTimeSlots(
        weight=w,
        activities=ids,
        slots=r.slots(e, "Selected_Time_Slot", "Selected_Day", "Selected_Hour"),
        max_simultaneous=_int(e, "Max_Number_of_Simultaneous_Activities"),
    )


def _m_ends_day(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    a = _single_activity(r, e)
    if a is None:
        return None
    return ActivityEndsStudentsDay(weight=w, activity=a)


def _m_activities_end_day(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return ActivitiesEndStudentsDay(weight=w, filter=_filter(e))


def _m_two(
    cls: type[TwoActivitiesConsecutive]
    | type[TwoActivitiesGrouped]
    | type[TwoActivitiesOrdered]
    | type[TwoActivitiesOrderedIfSameDay],
) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
        first = _int(e, "First_Activity_Id")
        second = _int(e, "Second_Activity_Id")
        if first not in r.active_ids or second not in r.active_ids:
            return None
        return cls(weight=w, first=first, second=second)

    return m


def _m_three_grouped(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    ids = [_int(e, f"{k}_Activity_Id") for k in ("First", "Second", "Third")]
    if any(i not in r.active_ids for i in ids):
        return None
    return ThreeActivitiesGrouped(weight=w, first=ids[0], second=ids[1], third=ids[2])


def _students(e: ET.Element, one: bool) -> str | None:
    return (_text(e, "Students") or "") if one else None


def _teacher(e: ET.Element, one: bool) -> str | None:
    return (_text(e, "Teacher_Name") or "") if one else None


def _m_students_gaps_week(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMaxGapsPerWeek(
            weight=w, students=_students(e, one), max_gaps=_int(e, "Max_Gaps")
        )

    return m


def _m_students_gaps_day(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMaxGapsPerDay(
            weight=w, students=_students(e, one), max_gaps=_int(e, "Max_Gaps")
        )

    return m


def _m_students_early(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsEarlyMaxBeginningsAtSecondHour(
            weight=w,
            students=_students(e, one),
            max_beginnings=_int(e, "Max_Beginnings_At_Second_Hour"),
        )

    return m


def _m_students_min_hours(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMinHoursDaily(
            weight=w,
            students=_students(e, one),
            min_hours=_int(e, "Minimum_Hours_Daily"),
            # FET's students form: empty days not allowed unless said so
            allow_empty_days=_bool(e, "Allow_Empty_Days", False),
        )

    return m


def _m_students_max_hours(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMaxHoursDaily(
            weight=w, students=_students(e, one), max_hours=_int(e, "Maximum_Hours_Daily")
        )

    return m


def _m_students_max_hours_real(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMaxHoursDailyRealDays(
            weight=w, students=_students(e, one), max_hours=_int(e, "Maximum_Hours_Daily")
        )

    return m


def _m_teacher_gaps_week(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxGapsPerWeek(
            weight=w, teacher=_teacher(e, one), max_gaps=_int(e, "Max_Gaps")
        )

    return m


def _m_teacher_gaps_day(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxGapsPerDay(
            weight=w, teacher=_teacher(e, one), max_gaps=_int(e, "Max_Gaps")
        )

    return m


def _m_teacher_max_days(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxDaysPerWeek(
            weight=w, teacher=_teacher(e, one), max_days=_int(e, "Max_Days_Per_Week")
        )

    return m


def _m_teacher_min_days(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMinDaysPerWeek(
            weight=w, teacher=_teacher(e, one), min_days=_int(e, "Minimum_Days_Per_Week")
        )

    return m


def _m_teacher_max_hours(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxHoursDaily(
            weight=w, teacher=_teacher(e, one), max_hours=_int(e, "Maximum_Hours_Daily")
        )

    return m


def _m_teacher_max_hours_real(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxHoursDailyRealDays(
            weight=w, teacher=_teacher(e, one), max_hours=_int(e, "Maximum_Hours_Daily")
        )

    return m


def _m_teacher_min_hours(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMinHoursDaily(
            weight=w,
            teacher=_teacher(e, one),
            min_hours=_int(e, "Minimum_Hours_Daily"),
            allow_empty_days=_bool(e, "Allow_Empty_Days", True),
        )

    return m


def _m_students_continuously(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsMaxHoursContinuously(
            weight=w, students=_students(e, one), max_hours=_int(e, "Maximum_Hours_Continuously")
        )

    return m


def _m_teacher_continuously(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherMaxHoursContinuously(
            weight=w, teacher=_teacher(e, one), max_hours=_int(e, "Maximum_Hours_Continuously")
        )

    return m


def _tag(e: ET.Element) -> str:
    """An activity-tag constraint's tag (teachers' forms: `Activity_Tag_Name`;
    students': `Activity_Tag`)."""
    return _text(e, "Activity_Tag_Name") or _text(e, "Activity_Tag") or ""


def _m_tag_limit(students: bool, one: bool, continuous: bool) -> _Mapper:
    """FET's activity-tag max hours daily (`continuous`: in a row), of one
    teacher (students set) or of all."""
    field = "Maximum_Hours_Continuously" if continuous else "Maximum_Hours_Daily"

    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        k, tag = _int(e, field), _tag(e)
        if students:
            cls = (
                StudentsActivityTagMaxHoursContinuously
                if continuous
                else StudentsActivityTagMaxHoursDaily
            )
            return cls(weight=w, students=_students(e, one), tag=tag, max_hours=k)
        kind = (
            TeacherActivityTagMaxHoursContinuously
            if continuous
            else TeacherActivityTagMaxHoursDaily
        )
        return kind(weight=w, teacher=_teacher(e, one), tag=tag, max_hours=k)

    return m


def _person(e: ET.Element, who: str) -> tuple[str | None, str | None, bool]:
    """The person of a span or resting-hours constraint (teacher, students
    set, all students): one teacher, every teacher, one students set, or all
    students."""
    return (
        (_text(e, "Teacher_Name") or "") if who == "Teacher" else None,
        (_text(e, "Students") or "") if who == "StudentsSet" else None,
        who == "Students",
    )


def _m_span(who: str) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        teacher, students, everyone = _person(e, who)
        return MaxSpanPerDay(
            weight=w,
            teacher=teacher,
            students=students,
            all_students=everyone,
            max_span=_int(e, "Max_Span"),
        )

    return m


def _m_resting(who: str) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        teacher, students, everyone = _person(e, who)
        return MinRestingHours(
            weight=w,
            teacher=teacher,
            students=students,
            all_students=everyone,
            min_hours=_int(e, "Minimum_Resting_Hours"),
            circular=_bool(e, "Circular", True),
        )

    return m


def _interval(r: _Reader, e: ET.Element) -> dict[str, int]:
    """An interval max days constraint's hours and days (an empty end: the
    end of the day)."""
    start = r.hour(_text(e, "Interval_Start_Hour"), e.tag)
    end = r.hour(_text(e, "Interval_End_Hour"), e.tag)
    return {
        "start_hour": start or 0,
        "end_hour": len(r.hours) if end is None else end,
        "max_days": _int(e, "Max_Days_Per_Week"),
    }


def _m_teacher_interval(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return TeacherIntervalMaxDaysPerWeek(weight=w, teacher=_teacher(e, one), **_interval(r, e))

    return m


def _m_students_interval(one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        return StudentsIntervalMaxDaysPerWeek(
            weight=w, students=_students(e, one), **_interval(r, e)
        )

    return m


def _m_building_changes(students: bool, one: bool, per_week: bool) -> _Mapper:
    """FET's max building changes per day (week): `<Teacher>` or `<Students>`
    names the one person of the singular forms."""
    field = "Max_Building_Changes_Per_Week" if per_week else "Max_Building_Changes_Per_Day"

    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        if students:
            return StudentsMaxBuildingChanges(
                weight=w, students=_students(e, one), max_changes=_int(e, field), per_week=per_week
            )
        return TeacherMaxBuildingChanges(
            weight=w,
            teacher=(_text(e, "Teacher") or "") if one else None,
            max_changes=_int(e, field),
            per_week=per_week,
        )

    return m


def _m_building_gaps(students: bool, one: bool) -> _Mapper:
    def m(r: _Reader, e: ET.Element, w: float) -> Constraint:
        gaps = _int(e, "Min_Gaps_Between_Building_Changes")
        if students:
            return StudentsMinGapsBetweenBuildingChanges(
                weight=w, students=_students(e, one), min_gaps=gaps
            )
        return TeacherMinGapsBetweenBuildingChanges(
            weight=w, teacher=(_text(e, "Teacher") or "") if one else None, min_gaps=gaps
        )

    return m


def _m_activity_rooms(r: _Reader, e: ET.Element, w: float) -> Constraint | None:
    a = _single_activity(r, e)
    if a is None:
        return None
    return ActivityPreferredRooms(
        weight=w,
        activity=a,
        rooms=_rooms(e),
        locked=_bool(e, "Permanently_Locked", False),
        real_rooms=_texts(e, "Real_Room"),
    )


def _m_subject_rooms(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return SubjectPreferredRooms(weight=w, subject=_text(e, "Subject") or "", rooms=_rooms(e))


def _m_tag_rooms(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return ActivityTagPreferredRooms(weight=w, tag=_text(e, "Activity_Tag") or "", rooms=_rooms(e))


def _m_subject_tag_rooms(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return SubjectActivityTagPreferredRooms(
        weight=w,
        subject=_text(e, "Subject") or "",
        tag=_text(e, "Activity_Tag") or "",
        rooms=_rooms(e),
    )


def _m_students_home(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return StudentsSetHomeRooms(weight=w, students=_text(e, "Students") or "", rooms=_rooms(e))


def _m_teacher_home(r: _Reader, e: ET.Element, w: float) -> Constraint:
    return TeacherHomeRooms(weight=w, teacher=_text(e, "Teacher") or "", rooms=_rooms(e))


#: FET constraint element → how it maps into the model
_MAPPERS: dict[str, _Mapper] = {
    "ConstraintBreakTimes": _m_break,
    "ConstraintTeacherNotAvailableTimes": _m_teacher_na,
    "ConstraintStudentsSetNotAvailableTimes": _m_students_na,
    "ConstraintRoomNotAvailableTimes": _m_room_na,
    "ConstraintActivityPreferredStartingTime": _m_preferred_starting_time,
    "ConstraintActivityPreferredStartingTimes": _m_preferred_starting_times,
    "ConstraintActivityPreferredTimeSlots": _m_preferred_time_slots,
    "ConstraintActivitiesPreferredStartingTimes": _m_activities_starting_times(False),
    "ConstraintSubactivitiesPreferredStartingTimes": _m_activities_starting_times(True),
    "ConstraintActivitiesPreferredTimeSlots": _m_activities_time_slots(False),
    "ConstraintSubactivitiesPreferredTimeSlots": _m_activities_time_slots(True),
    "ConstraintMinDaysBetweenActivities": _m_min_days,
    "ConstraintActivitiesSameStartingTime": _m_activity_list(ActivitiesSameStartingTime),
    "ConstraintActivitiesSameStartingDay": _m_activity_list(ActivitiesSameStartingDay),
    "ConstraintActivitiesNotOverlapping": _m_activity_list(ActivitiesNotOverlapping),
    "ConstraintActivitiesSameStartingHour": _m_activity_list(ActivitiesSameStartingHour),
    "ConstraintActivitiesMaxSimultaneousInSelectedTimeSlots": _m_max_simultaneous,
    "ConstraintMinGapsBetweenActivities": _m_min_gaps,
    "ConstraintMaxDaysBetweenActivities": _m_max_days,
    "ConstraintActivitiesOccupyMaxTimeSlotsFromSelection": _m_occupy_max,
    "ConstraintActivityEndsStudentsDay": _m_ends_day,
    "ConstraintActivitiesEndStudentsDay": _m_activities_end_day,
    "ConstraintTwoActivitiesConsecutive": _m_two(TwoActivitiesConsecutive),
    "ConstraintTwoActivitiesGrouped": _m_two(TwoActivitiesGrouped),
    "ConstraintTwoActivitiesOrdered": _m_two(TwoActivitiesOrdered),
    "ConstraintTwoActivitiesOrderedIfSameDay": _m_two(TwoActivitiesOrderedIfSameDay),
    "ConstraintThreeActivitiesGrouped": _m_three_grouped,
    "ConstraintStudentsSetMaxGapsPerWeek": _m_students_gaps_week(True),
    "ConstraintStudentsMaxGapsPerWeek": _m_students_gaps_week(False),
    "ConstraintStudentsSetMaxGapsPerDay": _m_students_gaps_day(True),
    "ConstraintStudentsMaxGapsPerDay": _m_students_gaps_day(False),
    "ConstraintStudentsSetEarlyMaxBeginningsAtSecondHour": _m_students_early(True),
    "ConstraintStudentsEarlyMaxBeginningsAtSecondHour": _m_students_early(False),
    "ConstraintStudentsSetMinHoursDaily": _m_students_min_hours(True),
    "ConstraintStudentsMinHoursDaily": _m_students_min_hours(False),
    "ConstraintStudentsSetMaxHoursDaily": _m_students_max_hours(True),
    "ConstraintStudentsMaxHoursDaily": _m_students_max_hours(False),
    "ConstraintStudentsSetMaxHoursContinuously": _m_students_continuously(True),
    "ConstraintStudentsMaxHoursContinuously": _m_students_continuously(False),
    "ConstraintStudentsSetMaxHoursDailyRealDays": _m_students_max_hours_real(True),
    "ConstraintStudentsMaxHoursDailyRealDays": _m_students_max_hours_real(False),
    "ConstraintTeacherMaxGapsPerWeek": _m_teacher_gaps_week(True),
    "ConstraintTeachersMaxGapsPerWeek": _m_teacher_gaps_week(False),
    "ConstraintTeacherMaxGapsPerDay": _m_teacher_gaps_day(True),
    "ConstraintTeachersMaxGapsPerDay": _m_teacher_gaps_day(False),
    "ConstraintTeacherMaxDaysPerWeek": _m_teacher_max_days(True),
    "ConstraintTeachersMaxDaysPerWeek": _m_teacher_max_days(False),
    "ConstraintTeacherMinDaysPerWeek": _m_teacher_min_days(True),
    "ConstraintTeachersMinDaysPerWeek": _m_teacher_min_days(False),
    "ConstraintTeacherMaxHoursDaily": _m_teacher_max_hours(True),
    "ConstraintTeachersMaxHoursDaily": _m_teacher_max_hours(False),
    "ConstraintTeacherMaxHoursDailyRealDays": _m_teacher_max_hours_real(True),
    "ConstraintTeachersMaxHoursDailyRealDays": _m_teacher_max_hours_real(False),
    "ConstraintTeacherMinHoursDaily": _m_teacher_min_hours(True),
    "ConstraintTeachersMinHoursDaily": _m_teacher_min_hours(False),
    "ConstraintTeacherMaxHoursContinuously": _m_teacher_continuously(True),
    "ConstraintTeachersMaxHoursContinuously": _m_teacher_continuously(False),
    "ConstraintTeacherIntervalMaxDaysPerWeek": _m_teacher_interval(True),
    "ConstraintTeachersIntervalMaxDaysPerWeek": _m_teacher_interval(False),
    "ConstraintStudentsSetIntervalMaxDaysPerWeek": _m_students_interval(True),
    "ConstraintStudentsIntervalMaxDaysPerWeek": _m_students_interval(False),
    **{
        f"Constraint{who}ActivityTagMaxHours{what}": _m_tag_limit(
            who.startswith("Students"), who in ("Teacher", "StudentsSet"), what == "Continuously"
        )
        for who in ("Teacher", "Teachers", "StudentsSet", "Students")
        for what in ("Daily", "Continuously")
    },
    **{
        f"Constraint{who}MaxBuildingChangesPer{per}": _m_building_changes(
            who.startswith("Students"), who in ("Teacher", "StudentsSet"), per == "Week"
        )
        for who in ("Teacher", "Teachers", "StudentsSet", "Students")
        for per in ("Day", "Week")
    },
    **{
        f"Constraint{who}MinGapsBetweenBuildingChanges": _m_building_gaps(
            who.startswith("Students"), who in ("Teacher", "StudentsSet")
        )
        for who in ("Teacher", "Teachers", "StudentsSet", "Students")
    },
    "ConstraintActivitiesOccupyMaxDifferentRooms": _m_max_rooms,
    "ConstraintActivitiesSameRoomIfConsecutive": _m_activity_list(ActivitiesSameRoomIfConsecutive),
    **{
        f"Constraint{who}MaxSpanPerDay": _m_span(who)
        for who in ("Teacher", "Teachers", "StudentsSet", "Students")
    },
    **{
        f"Constraint{who}MinRestingHours": _m_resting(who)
        for who in ("Teacher", "Teachers", "StudentsSet", "Students")
    },
    "ConstraintActivityPreferredRoom": _m_activity_rooms,
    "ConstraintActivityPreferredRooms": _m_activity_rooms,
    "ConstraintSubjectPreferredRoom": _m_subject_rooms,
    "ConstraintSubjectPreferredRooms": _m_subject_rooms,
    "ConstraintActivityTagPreferredRoom": _m_tag_rooms,
    "ConstraintActivityTagPreferredRooms": _m_tag_rooms,
    "ConstraintSubjectActivityTagPreferredRoom": _m_subject_tag_rooms,
    "ConstraintSubjectActivityTagPreferredRooms": _m_subject_tag_rooms,
    "ConstraintStudentsSetHomeRoom": _m_students_home,
    "ConstraintStudentsSetHomeRooms": _m_students_home,
    "ConstraintTeacherHomeRoom": _m_teacher_home,
    "ConstraintTeacherHomeRooms": _m_teacher_home,
}

#: every FET constraint type the reader maps into the model
SUPPORTED = frozenset(_MAPPERS)


# --- the parts of a file ----------------------------------------------------------


def _names(root: ET.Element, lst: str, item: str) -> list[ET.Element]:
    e = root.find(lst)
    return [] if e is None else e.findall(item)


def _read_students(root: ET.Element) -> tuple[StudentsSet, ...]:
    """Years > Groups > Subgroups, a name being one set wherever it appears."""
    kinds: dict[str, str] = {}
    counts: dict[str, int] = {}
    explicit: dict[str, list[str]] = {}  # group → its subgroups, over every year
    year_groups: dict[str, list[str]] = {}

    def seen(name: str, kind: str, n: int) -> None:
        kinds.setdefault(name, kind)
        if not counts.get(name):
            counts[name] = n

    for year in _names(root, "Students_List", "Year"):
        yname = _text(year, "Name") or ""
        seen(yname, "year", _int(year, "Number_of_Students", 0))
        groups = year_groups.setdefault(yname, [])
        for g in year.findall("Group"):
            gname = _text(g, "Name") or ""
            seen(gname, "group", _int(g, "Number_of_Students", 0))
            groups.append(gname)
            subs = explicit.setdefault(gname, [])
            for sg in g.findall("Subgroup"):
                sname = _text(sg, "Name") or ""
                seen(sname, "subgroup", _int(sg, "Number_of_Students", 0))
                subs.append(sname)

    def of_group(name: str) -> list[str]:
        return explicit.get(name) or [name]

    def subgroups(name: str) -> tuple[str, ...]:
        kind = kinds[name]
        if kind == "year":
            out = [s for g in year_groups.get(name, ()) for s in of_group(g)]
            return tuple(dict.fromkeys(out)) or (name,)
        if kind == "group":
            return tuple(dict.fromkeys(of_group(name)))
        return (name,)

    return tuple(
        StudentsSet(name=n, kind=k, students=counts.get(n, 0), subgroups=subgroups(n))
        for n, k in kinds.items()
    )


def _read_activities(root: ET.Element, r: _Reader) -> tuple[Activity, ...]:
    out: list[Activity] = []
    for a in _names(root, "Activities_List", "Activity"):
        # one pass over the children: there are tens of thousands of these
        one: dict[str, str] = {}
        many: dict[str, list[str]] = {"Teacher": [], "Students": [], "Activity_Tag": []}
        for c in a:
            if not isinstance(c.tag, str):
                continue
            text = c.text or ""
            if c.tag in many:
                many[c.tag].append(text)
            else:
                one[c.tag] = text

        def number(tag: str, default: int | None, one: dict[str, str] = one) -> int:
            t = one.get(tag, "").strip()
            if not t:
                if default is None:
                    raise FetError(f"an activity lacks <{tag}>")
                return default
            try:
                return int(t)
            except ValueError:
                raise FetError(f"activity: <{tag}> is not a number: {t!r}") from None

        aid = number("Id", None)
        r.all_ids.add(aid)
        if one.get("Active", "").strip() == "false":
            continue
        r.active_ids.add(aid)
        duration = number("Duration", 1)
        count = one.get("Number_Of_Students")
        out.append(
            Activity(
                id=aid,
                subject=one.get("Subject", ""),
                teachers=tuple(many["Teacher"]),
                students=tuple(many["Students"]),
                tags=tuple(many["Activity_Tag"]),
                duration=duration,
                group_id=number("Activity_Group_Id", 0),
                total_duration=number("Total_Duration", duration),
                students_count=number("Number_Of_Students", 0) if count else None,
            )
        )
    return tuple(out)


def _read_teachers(root: ET.Element) -> tuple[Teacher, ...]:
    out: list[Teacher] = []
    for t in _names(root, "Teachers_List", "Teacher"):
        qs = t.find("Qualified_Subjects")
        subjects = () if qs is None else tuple(c.text or "" for c in qs)
        target = _int(t, "Target_Number_of_Hours", 0)
        out.append(
            Teacher(name=_text(t, "Name") or "", subjects=subjects, target_hours=target or None)
        )
    return tuple(out)


def _read_rooms(root: ET.Element) -> tuple[Room, ...]:
    out: list[Room] = []
    for room in _names(root, "Rooms_List", "Room"):
        capacity = _int(room, "Capacity", 0)
        real: tuple[tuple[str, ...], ...] = ()
        if _bool(room, "Virtual", False):
            real = tuple(_texts(s, "Real_Room") for s in room.findall("Set_of_Real_Rooms"))
        out.append(
            Room(
                name=_text(room, "Name") or "",
                capacity=capacity or None,
                building=_text(room, "Building") or None,
                real_rooms=real,
            )
        )
    names = {r.name: r for r in out}
    for r in out:
        # FET refuses such a file; so does this reader, naming the room
        if r.virtual and (
            len(r.real_rooms) < 2
            or any(
                not s or len(set(s)) < len(s) or any(x not in names or names[x].virtual for x in s)
                for s in r.real_rooms
            )
        ):
            raise FetError(
                f"virtual room {r.name!r}: needs 2 or more sets, each of distinct, known, "
                "real rooms"
            )
    return tuple(out)


def _is_lock(e: ET.Element) -> bool:
    return (
        e.tag == _LOCK_TIME
        and _active(e)
        and _weight(e) >= HARD
        and bool(_text(e, "Preferred_Day"))
        and bool(_text(e, "Preferred_Hour"))
    )


def _is_room_lock(e: ET.Element) -> bool:
    return e.tag == _LOCK_ROOM and _active(e) and _weight(e) >= HARD


def _activity_id(e: ET.Element) -> int | None:
    t = _value(e, "Activity_Id")
    try:
        return int(t) if t else None
    except ValueError:
        return None


@dataclass
class _WarmStart:
    """Which elements of a solved file are the timetable (see the docstring)."""

    #: activity → (day, hour, room, real rooms)
    placements: dict[int, tuple[int, int, str | None, tuple[str, ...]]]
    consumed: set[int]  # id() of the elements not to read as constraints


def _room_sources(space_list: Iterable[ET.Element], activities: Iterable[Activity]) -> Counter[int]:
    """How many active space constraints give each activity a room, as FET
    decides which activities get one: its own preferred room(s), its
    subject's, its tags', and the home room of its only students set or its
    only teacher."""
    by_subject: dict[str, list[int]] = {}
    by_tag: dict[str, list[int]] = {}
    by_students: dict[str, list[int]] = {}
    by_teacher: dict[str, list[int]] = {}
    by_subject_tag: dict[tuple[str, str], list[int]] = {}
    for a in activities:
        by_subject.setdefault(a.subject, []).append(a.id)
        for t in a.tags:
            by_tag.setdefault(t, []).append(a.id)
            by_subject_tag.setdefault((a.subject, t), []).append(a.id)
        if len(a.students) == 1:
            by_students.setdefault(a.students[0], []).append(a.id)
        if len(a.teachers) == 1:
            by_teacher.setdefault(a.teachers[0], []).append(a.id)
    count: Counter[int] = Counter()
    for e in space_list:
        if not isinstance(e.tag, str) or not _active(e):
            continue
        tag = e.tag.removesuffix("s")
        if tag == "ConstraintActivityPreferredRoom":
            aid = _activity_id(e)
            if aid is not None:
                count[aid] += 1
        elif tag == "ConstraintSubjectPreferredRoom":
            count.update(by_subject.get(_text(e, "Subject") or "", ()))
        elif tag == "ConstraintActivityTagPreferredRoom":
            count.update(by_tag.get(_text(e, "Activity_Tag") or "", ()))
        elif tag == "ConstraintSubjectActivityTagPreferredRoom":
            key = (_text(e, "Subject") or "", _text(e, "Activity_Tag") or "")
            count.update(by_subject_tag.get(key, ()))
        elif tag == "ConstraintStudentsSetHomeRoom":
            count.update(by_students.get(_text(e, "Students") or "", ()))
        elif tag == "ConstraintTeacherHomeRoom":
            count.update(by_teacher.get(_text(e, "Teacher") or "", ()))
    return count


def _warm_start(root: ET.Element, r: _Reader, activities: Iterable[Activity]) -> _WarmStart | None:
    time_list = root.find(_TIME)
    space_list = root.find(_SPACE)
    last_time: dict[int, ET.Element] = {}
    for e in [] if time_list is None else time_list:
        if _is_lock(e):
            a = _activity_id(e)
            if a in r.active_ids and a is not None:
                last_time[a] = e
    if not r.active_ids or set(last_time) != r.active_ids:
        return None
    last_room: dict[int, ET.Element] = {}
    for e in [] if space_list is None else space_list:
        if _is_room_lock(e) and _text(e, "Room"):
            a = _activity_id(e)
            if a is not None and a in r.active_ids:
                last_room[a] = e
    sources = _room_sources([] if space_list is None else space_list, activities)
    placements: dict[int, tuple[int, int, str | None, tuple[str, ...]]] = {}
    consumed: set[int] = set()
    for a, e in last_time.items():
        d = r.day(_text(e, "Preferred_Day"), e.tag)
        h = r.hour(_text(e, "Preferred_Hour"), e.tag)
        assert d is not None and h is not None
        room_e = last_room.get(a)
        placements[a] = (
            (d, h, None, ())
            if room_e is None
            else (d, h, _text(room_e, "Room"), _texts(room_e, "Real_Room"))
        )
        if not _bool(e, "Permanently_Locked", False):
            consumed.add(id(e))
        # FET gives an activity a room only when some space constraint asks
        # for one: a room lock that is the activity's only such constraint
        # was not added by FET for the timetable; it is the user's own
        if room_e is not None and not _bool(room_e, "Permanently_Locked", False) and sources[a] > 1:
            consumed.add(id(room_e))
    return _WarmStart(placements=placements, consumed=consumed)


#: the kinds FET adds only once when identical (weights too): a duplicate
#: counts once in its soft conflicts (Sharif softened to 50 %: two
#: preferred starting times of activity 124, one conflict in FET's report)
_ONCE = (ActivityPreferredStartingTime, MinDaysBetweenActivities)


def _once_key(c: Constraint) -> Constraint:
    """What FET compares (its `operator==`): every field and the weight, not
    "permanently locked"."""
    if isinstance(c, ActivityPreferredStartingTime):
        return msgspec.structs.replace(c, locked=False)
    return c


def _read_constraints(root: ET.Element, r: _Reader, warm: _WarmStart | None) -> int:
    taken = 0
    for lst in (_TIME, _SPACE):
        container = root.find(lst)
        for e in [] if container is None else container:
            if not isinstance(e.tag, str):  # a comment
                continue
            if not _active(e):
                r.inactive += 1
                continue
            if e.tag in IMPLICIT:
                r.implicit += 1
                continue
            if warm is not None and id(e) in warm.consumed:
                taken += 1
                continue
            tag = e.tag
            if r.fork_mornings_afternoons and tag in _FORK_REAL_DAYS:
                tag += "RealDays"  # as FET 6 opens an old fork file
            mapper = _MAPPERS.get(tag)
            if mapper is None:
                r.unsupported[e.tag] += 1
                continue
            if tag.endswith("MaxSpanPerDay") and _bool(
                e, "Allow_One_Day_Exception_of_Plus_One", False
            ):
                # FET 6's one day of the max span plus one: not in the model
                r.unsupported[f"{e.tag} with one day exception"] += 1
                continue
            c = mapper(r, e, _weight(e))
            if c is None:
                r.inactive_activities += 1
            elif isinstance(c, _ONCE) and _once_key(c) in r.once:
                r.duplicates += 1
            else:
                if isinstance(c, _ONCE):
                    r.once.add(_once_key(c))
                r.constraints.append(c)
                r.mapped[e.tag] += 1
    return taken


def _elements(root: ET.Element) -> int:
    n = 0
    for lst in (_TIME, _SPACE):
        container = root.find(lst)
        if container is not None:
            n += sum(1 for e in container if isinstance(e.tag, str))
    return n


def _root(path: str | Path, comments: bool = False) -> ET.Element:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise FetError(f"{p}: cannot read ({e.strerror})") from None
    root = _parse(data, str(p), comments)
    if root.tag != "fet":
        raise FetError(f"{p}: not a FET file (the root element is <{root.tag}>, not <fet>)")
    return root


def read_fet(path: str | Path) -> FetFile:
    """Read a `.fet` file; raises `FetError` for a file that is not one."""
    try:
        return _read_fet(path)
    except FetError as e:
        if str(e).startswith(f"{path}:"):
            raise
        raise FetError(f"{path}: {e}") from None


#: the constraint types read in FET's mornings-afternoons mode: each either
#: works on slots and rooms alone, or was checked on fet-data's files in that
#: mode (FET 6.8.5's own timetables counted by the checker as FET counts
#: them, and FET's reading of Reppu's timetables): a rule of a day is a rule
#: of a half day there, but min days count real days (`Instance.days_per_real_day`).
#: Any other type in that mode is reported unsupported with the mode: FET 6
#: has its own real-day, morning and afternoon variants, and what their plain
#: forms mean in that mode was not checked; the max hours daily per real day
#: are read (`TeacherMaxHoursDailyRealDays`). Max hours daily and max days a
#: week are left out: FET 6 opens the old mornings-afternoons fork files
#: (version `5.27.3-ma3`, `-morocco`, `-algeria`) with those turned into
#: their real-day forms (its own `_data_and_timetable.fet` of
#: sample_algeria_2, sample-morocco, College_test1 in fet-data has
#: `ConstraintTeachersMaxHoursDailyRealDays`, `ConstraintTeacherMaxRealDaysPerWeek`
#: and `ConstraintStudentsMaxHoursDailyRealDays` in their place). The plural
#: max hours daily of such a file are read as those (`_FORK_REAL_DAYS`); max
#: real days a week are not in the model
MORNINGS_AFTERNOONS_TYPES = frozenset(
    {
        "ConstraintBreakTimes",
        "ConstraintTeacherNotAvailableTimes",
        "ConstraintStudentsSetNotAvailableTimes",
        "ConstraintRoomNotAvailableTimes",
        "ConstraintActivityPreferredStartingTime",
        "ConstraintActivityPreferredStartingTimes",
        "ConstraintActivityPreferredTimeSlots",
        "ConstraintActivitiesPreferredStartingTimes",
        "ConstraintSubactivitiesPreferredStartingTimes",
        "ConstraintActivitiesPreferredTimeSlots",
        "ConstraintSubactivitiesPreferredTimeSlots",
        "ConstraintMinDaysBetweenActivities",
        "ConstraintActivitiesSameStartingTime",
        "ConstraintActivitiesSameStartingDay",
        "ConstraintActivitiesNotOverlapping",
        "ConstraintActivitiesOccupyMaxTimeSlotsFromSelection",
        "ConstraintStudentsSetMaxGapsPerWeek",
        "ConstraintStudentsMaxGapsPerWeek",
        "ConstraintStudentsMinHoursDaily",
        "ConstraintStudentsSetMaxHoursDailyRealDays",
        "ConstraintStudentsMaxHoursDailyRealDays",
        "ConstraintTeacherMaxHoursDailyRealDays",
        "ConstraintTeachersMaxHoursDailyRealDays",
        "ConstraintTeacherMaxGapsPerWeek",
        "ConstraintTeachersMaxGapsPerWeek",
        "ConstraintTeachersMaxGapsPerDay",
        "ConstraintTeachersMinHoursDaily",
        "ConstraintTeacherMaxHoursContinuously",
        "ConstraintTeachersMaxHoursContinuously",
        "ConstraintActivityPreferredRoom",
        "ConstraintActivityPreferredRooms",
        "ConstraintSubjectPreferredRoom",
        "ConstraintSubjectPreferredRooms",
        "ConstraintActivityTagPreferredRoom",
        "ConstraintActivityTagPreferredRooms",
        "ConstraintSubjectActivityTagPreferredRoom",
        "ConstraintSubjectActivityTagPreferredRooms",
        "ConstraintStudentsSetHomeRoom",
        "ConstraintStudentsSetHomeRooms",
        "ConstraintTeacherHomeRoom",
        "ConstraintTeacherHomeRooms",
    }
)


#: the plural max hours daily of an old fork file: read as their real-day
#: forms (`_Reader.fork_mornings_afternoons`), as FET 6 opens them
_FORK_REAL_DAYS = frozenset({"ConstraintTeachersMaxHoursDaily", "ConstraintStudentsMaxHoursDaily"})


def _fork_behaviour(root: ET.Element) -> str:
    """A teacher's mornings-afternoons behaviour where the file gives none:
    FET 6 opens the old `-morocco` fork files with every teacher "Exclusive"
    (mornings or afternoons of a real day, not both; one "One day exception"
    in sample-morocco), as its own `_data_and_timetable.fet` of them shows,
    and the other files "Unrestricted". (College_test1's timetable by Reppu
    went through FET's reading by chance; modified's did not.)"""
    return "Exclusive" if "-morocco" in root.get("version", "") else "Unrestricted"


def _mornings_afternoons_unchecked(r: _Reader) -> Counter[str]:
    """The constraint types of a mornings-afternoons file not checked in that
    mode (`MORNINGS_AFTERNOONS_TYPES`; in an old fork file also
    `_FORK_REAL_DAYS`, read as their real-day forms), with their counts."""
    checked = MORNINGS_AFTERNOONS_TYPES | (
        _FORK_REAL_DAYS if r.fork_mornings_afternoons else frozenset()
    )
    return Counter({tag: n for tag, n in r.mapped.items() if tag not in checked})


def _read_fet(path: str | Path) -> FetFile:
    root = _root(path)
    r = _Reader()
    mode = _mode(root)
    r.fork_mornings_afternoons = mode == "Mornings_Afternoons" and not _value(root, "Mode")
    day_names = [
        _text(d, "Name") or (d.text or "").strip() for d in _names(root, "Days_List", "Day")
    ]
    hour_names = [
        _text(h, "Name") or (h.text or "").strip() for h in _names(root, "Hours_List", "Hour")
    ]
    if not day_names or not hour_names:
        raise FetError(f"{path}: no days or no hours")
    r.days = {n: i for i, n in reversed(list(enumerate(day_names)))}
    r.hours = {n: i for i, n in reversed(list(enumerate(hour_names)))}

    activities = _read_activities(root, r)
    warm = _warm_start(root, r, activities)
    taken = _read_constraints(root, r, warm)

    rooms = _read_rooms(root)
    teachers = _read_teachers(root)
    extra: Counter[str] = Counter()
    days_per_real_day = 1
    unchecked = _mornings_afternoons_unchecked(r)
    if mode == "Mornings_Afternoons" and len(day_names) % 2 == 0 and not unchecked:
        days_per_real_day = 2  # a morning and an afternoon a real day
    elif mode != "Official":
        extra[f"Mode:{mode}"] = 1
        if mode == "Mornings_Afternoons":
            for tag, n in unchecked.items():
                extra[f"Mode:Mornings_Afternoons with {tag}"] = n
    default_behaviour = _fork_behaviour(root)
    behaviour = sum(
        1
        for t in _names(root, "Teachers_List", "Teacher")
        if (_value(t, "Mornings_Afternoons_Behavior") or default_behaviour) != "Unrestricted"
    )
    if behaviour and mode == "Mornings_Afternoons":
        extra["TeacherMorningsAfternoonsBehavior"] = behaviour

    unsupported = tuple(
        Unsupported(type=t, count=n) for t, n in sorted((r.unsupported + extra).items())
    )
    instance = Instance(
        name=_text(root, "Institution_Name") or Path(path).stem,
        days=tuple(Day(name=n) for n in day_names),
        hours=tuple(_hour(n) for n in hour_names),
        subjects=tuple(
            Subject(name=_text(s, "Name") or "") for s in _names(root, "Subjects_List", "Subject")
        ),
        teachers=teachers,
        rooms=rooms,
        students=_read_students(root),
        activities=activities,
        constraints=tuple(r.constraints),
        unsupported=unsupported,
        days_per_real_day=days_per_real_day,
    )
    warm_start = None
    if warm is not None:
        warm_start = Timetable(
            placements=tuple(
                Placement(activity=a.id, day=d, hour=h, room=room, real_rooms=real)
                for a in activities
                for d, h, room, real in (warm.placements[a.id],)
            )
        )
    tally = Tally(
        elements=_elements(root),
        mapped=dict(r.mapped),
        implicit=r.implicit,
        inactive=r.inactive,
        inactive_activities=r.inactive_activities,
        duplicates=r.duplicates,
        warm_start=taken,
        unsupported=sum(r.unsupported.values()),
    )
    return FetFile(instance=instance, warm_start=warm_start, source=str(path), tally=tally)


# --- activities.xml -----------------------------------------------------------------


def _protect(s: str) -> str:
    """FET's escaping of text in its XML output."""
    return (
        s.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def read_activities_xml(path_or_text: str | Path, instance: Instance) -> Timetable:
    """Read FET's `<name>_activities.xml` (a path, or the XML text itself).

    Unplaced activities (empty `<Day>`, as in FET's partial results) are left
    out; an empty `<Room>` is no room."""
    if isinstance(path_or_text, Path) or not path_or_text.lstrip("\ufeff \t\r\n").startswith("<"):
        p = Path(path_or_text)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise FetError(f"{p}: cannot read ({e.strerror})") from None
        what = str(p)
    else:
        data = path_or_text.encode("utf-8")
        what = "activities XML"
    root = _parse(data, what)
    if root.tag != "Activities_Timetable":
        raise FetError(f"{what}: not a FET activities timetable (root <{root.tag}>)")
    days = {d.name: i for i, d in reversed(list(enumerate(instance.days)))}
    hours = {h.name: i for i, h in reversed(list(enumerate(instance.hours)))}
    out: list[Placement] = []
    for a in root.findall("Activity"):
        aid = _int(a, "Id")
        day, hour = _text(a, "Day"), _text(a, "Hour")
        if not day or not hour:
            continue
        if day not in days or hour not in hours:
            raise FetError(f"{what}: activity {aid} at unknown day/hour {day!r}/{hour!r}")
        out.append(
            Placement(
                activity=aid,
                day=days[day],
                hour=hours[hour],
                room=_text(a, "Room") or None,
                real_rooms=_texts(a, "Real_Room"),
            )
        )
    return Timetable(placements=tuple(out))


def write_activities_xml(instance: Instance, timetable: Timetable) -> str:
    """The timetable as `fet-cl` writes `<name>_activities.xml` (with its BOM):
    every activity of the instance in order, unplaced ones with empty fields."""
    placed = timetable.by_activity()
    lines = ['\ufeff<?xml version="1.0" encoding="UTF-8"?>', "<Activities_Timetable>"]
    for a in instance.activities:
        p = placed.get(a.id)
        day = hour = room = ""
        real: tuple[str, ...] = ()
        if p is not None:
            day = instance.days[p.day].name
            hour = instance.hours[p.hour].name
            room = p.room or ""
            real = p.real_rooms
        lines += [
            "<Activity>",
            f"\t<Id>{a.id}</Id>",
            f"\t<Day>{_protect(day)}</Day>",
            f"\t<Hour>{_protect(hour)}</Hour>",
            f"\t<Room>{_protect(room)}</Room>",
            *(f"\t<Real_Room>{_protect(x)}</Real_Room>" for x in real),
            "</Activity>",
        ]
    lines.append("</Activities_Timetable>")
    return "\n".join(lines) + "\n"


# --- writing a solved .fet ----------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str) -> None:
    c = ET.SubElement(parent, tag)
    c.text = text
    c.tail = "\n\t"


def _constraint_element(tag: str, fields: list[tuple[str, str]]) -> ET.Element:
    e = ET.Element(tag)
    e.text = "\n\t"
    for name, value in fields:
        _sub(e, name, value)
    e[-1].tail = "\n"
    e.tail = "\n"
    return e


def _append(container: ET.Element, elements: list[ET.Element]) -> None:
    if not elements:
        return
    if len(container):
        container[-1].tail = "\n"
    else:
        container.text = "\n"
    container.extend(elements)


def write_fet(source_path: str | Path, timetable: Timetable) -> str:
    """The source file's data with `timetable` locked in, as FET writes
    `<name>_data_and_timetable.fet`: one hard, not permanently locked
    `ConstraintActivityPreferredStartingTime` per placement appended to the
    time constraints and one `ConstraintActivityPreferredRoom` per placement
    with a room appended to the space constraints, skipping those already
    there. A solved source's own timetable locks (what `read_fet` reads as the
    warm start) are removed first, so the file holds exactly `timetable`."""
    root = _root(source_path, comments=True)  # kept in the copy
    r = _Reader()
    day_names = [_text(d, "Name") or "" for d in _names(root, "Days_List", "Day")]
    hour_names = [_text(h, "Name") or "" for h in _names(root, "Hours_List", "Hour")]
    r.days = {n: i for i, n in reversed(list(enumerate(day_names)))}
    r.hours = {n: i for i, n in reversed(list(enumerate(hour_names)))}
    activities = _read_activities(root, r)
    order = [a.id for a in activities]

    time_list = root.find(_TIME)
    if time_list is None:
        time_list = ET.SubElement(root, _TIME)
    space_list = root.find(_SPACE)
    if space_list is None:
        space_list = ET.SubElement(root, _SPACE)

    warm = _warm_start(root, r, activities)
    if warm is not None:
        for container in (time_list, space_list):
            for e in [e for e in container if id(e) in warm.consumed]:
                container.remove(e)

    have_time: set[tuple[int, str, str]] = set()
    for e in time_list:
        a = _activity_id(e) if _is_lock(e) else None
        if a is not None:
            have_time.add((a, _text(e, "Preferred_Day") or "", _text(e, "Preferred_Hour") or ""))
    have_room: set[tuple[int, str, tuple[str, ...]]] = set()
    for e in space_list:
        a = _activity_id(e) if _is_room_lock(e) else None
        if a is not None:
            have_room.add((a, _text(e, "Room") or "", _texts(e, "Real_Room")))

    placed = timetable.by_activity()
    unknown = sorted(set(placed) - r.active_ids)
    if unknown:
        raise FetError(f"{source_path}: the timetable places activities it has not: {unknown[:10]}")
    times: list[ET.Element] = []
    rooms: list[ET.Element] = []
    for aid in order:
        p = placed.get(aid)
        if p is None:
            continue
        if not (0 <= p.day < len(day_names) and 0 <= p.hour < len(hour_names)):
            raise FetError(f"activity {aid} placed outside the week: day {p.day}, hour {p.hour}")
        day, hour = day_names[p.day], hour_names[p.hour]
        if (aid, day, hour) not in have_time:
            times.append(
                _constraint_element(
                    _LOCK_TIME,
                    [
                        ("Weight_Percentage", "100"),
                        ("Activity_Id", str(aid)),
                        ("Preferred_Day", day),
                        ("Preferred_Hour", hour),
                        ("Permanently_Locked", "false"),
                        ("Active", "true"),
                        ("Comments", ""),
                    ],
                )
            )
        if p.room is not None and (aid, p.room, p.real_rooms) not in have_room:
            real = [("Number_of_Real_Rooms", str(len(p.real_rooms)))] if p.real_rooms else []
            rooms.append(
                _constraint_element(
                    _LOCK_ROOM,
                    [
                        ("Weight_Percentage", "100"),
                        ("Activity_Id", str(aid)),
                        ("Room", p.room),
                        *real,
                        *(("Real_Room", x) for x in p.real_rooms),
                        ("Permanently_Locked", "false"),
                        ("Active", "true"),
                        ("Comments", ""),
                    ],
                )
            )
    _append(time_list, times)
    _append(space_list, rooms)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n\n' + body + "\n"
