"""scheduling/fet.py and scheduling/cli.py: reading, writing and round trips
through FET.

The fet-data examples are read from the installed Debian package (AGPL; never
copied here); the small document below is written for these tests."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from scheduling import cli
from scheduling.checker import check
from scheduling.fet import (
    IMPLICIT,
    SUPPORTED,
    FetError,
    FetFile,
    read_activities_xml,
    read_fet,
    write_activities_xml,
    write_fet,
)
from scheduling.model import (
    ActivitiesMaxSimultaneousInSelectedTimeSlots,
    ActivitiesNotOverlapping,
    ActivitiesOccupyMaxDifferentRooms,
    ActivitiesPreferredStartingTimes,
    ActivitiesSameRoomIfConsecutive,
    ActivitiesSameStartingHour,
    ActivitiesSameStartingTime,
    ActivityFilter,
    ActivityPreferredRooms,
    ActivityPreferredStartingTime,
    BreakTimes,
    Instance,
    MaxSpanPerDay,
    MinDaysBetweenActivities,
    MinGapsBetweenActivities,
    MinRestingHours,
    Placement,
    StudentsActivityTagMaxHoursContinuously,
    StudentsActivityTagMaxHoursDaily,
    StudentsEarlyMaxBeginningsAtSecondHour,
    StudentsIntervalMaxDaysPerWeek,
    StudentsMaxBuildingChanges,
    StudentsMaxGapsPerWeek,
    StudentsMaxHoursContinuously,
    StudentsSetHomeRooms,
    SubjectPreferredRooms,
    TeacherActivityTagMaxHoursContinuously,
    TeacherActivityTagMaxHoursDaily,
    TeacherIntervalMaxDaysPerWeek,
    TeacherMaxBuildingChanges,
    TeacherMaxDaysPerWeek,
    TeacherMinDaysPerWeek,
    TeacherMinGapsBetweenBuildingChanges,
    TeacherNotAvailableTimes,
    ThreeActivitiesGrouped,
    Timetable,
    TwoActivitiesOrdered,
    TwoActivitiesOrderedIfSameDay,
    Unsupported,
)
from tests.scheduling import fetdata

# --- a small school of our own -------------------------------------------------------

_SNIPPET = """<?xml version="1.0" encoding="UTF-8"?>
<fet version="6.8.5">
<Mode>Official</Mode>
<Institution_Name>Pikkukoulu</Institution_Name>
<Comments>written for test_fet.py</Comments>
<Days_List>
<Number_of_Days>3</Number_of_Days>
<Day><Name>ma</Name></Day>
<Day><Name>ti</Name></Day>
<Day><Name>ke</Name></Day>
</Days_List>
<Hours_List>
<Number_of_Hours>4</Number_of_Hours>
<Hour><Name>08:15-09:00</Name></Hour>
<Hour><Name>9.10 - 9.55</Name></Hour>
<Hour><Name>10:30</Name></Hour>
<Hour><Name>iltapäivä</Name></Hour>
</Hours_List>
<Subjects_List>
<Subject><Name>MA</Name></Subject>
<Subject><Name>ÄI</Name></Subject>
<Subject><Name>RU</Name></Subject>
</Subjects_List>
<Activity_Tags_List>
<Activity_Tag><Name>teoria</Name><Printable>true</Printable></Activity_Tag>
</Activity_Tags_List>
<Teachers_List>
<Teacher><Name>Aho</Name><Target_Number_of_Hours>12</Target_Number_of_Hours>
<Qualified_Subjects><Qualified_Subject>MA</Qualified_Subject></Qualified_Subjects></Teacher>
<Teacher><Name>Berg &amp; Co</Name></Teacher>
</Teachers_List>
<Students_List>
<Year><Name>7</Name><Number_of_Students>40</Number_of_Students>
  <Group><Name>7A</Name><Number_of_Students>20</Number_of_Students>
    <Subgroup><Name>7A-ru</Name><Number_of_Students>8</Number_of_Students></Subgroup>
    <Subgroup><Name>7A-sv</Name><Number_of_Students>12</Number_of_Students></Subgroup>
  </Group>
  <Group><Name>7B</Name><Number_of_Students>20</Number_of_Students></Group>
  <Group><Name>valinnainen</Name><Number_of_Students>9</Number_of_Students>
    <Subgroup><Name>val-1</Name><Number_of_Students>5</Number_of_Students></Subgroup>
    <Subgroup><Name>val-2</Name><Number_of_Students>4</Number_of_Students></Subgroup>
  </Group>
</Year>
<Year><Name>8</Name><Number_of_Students>15</Number_of_Students>
  <Group><Name>8A</Name><Number_of_Students>15</Number_of_Students></Group>
  <Group><Name>valinnainen</Name><Number_of_Students>9</Number_of_Students>
    <Subgroup><Name>val-1</Name><Number_of_Students>5</Number_of_Students></Subgroup>
    <Subgroup><Name>val-2</Name><Number_of_Students>4</Number_of_Students></Subgroup>
  </Group>
</Year>
<Year><Name>9</Name><Number_of_Students>18</Number_of_Students></Year>
</Students_List>
<Activities_List>
<Activity><Teacher>Aho</Teacher><Subject>MA</Subject><Activity_Tag>teoria</Activity_Tag>
  <Students>7A</Students><Students>7B</Students><Duration>1</Duration><Total_Duration>3</Total_Duration>
  <Id>1</Id><Activity_Group_Id>1</Activity_Group_Id><Active>true</Active></Activity>
<Activity><Teacher>Aho</Teacher><Subject>MA</Subject><Activity_Tag>teoria</Activity_Tag>
  <Students>7A</Students><Students>7B</Students><Duration>1</Duration><Total_Duration>3</Total_Duration>
  <Id>2</Id><Activity_Group_Id>1</Activity_Group_Id><Active>true</Active></Activity>
<Activity><Teacher>Aho</Teacher><Subject>MA</Subject><Activity_Tag>teoria</Activity_Tag>
  <Students>7A</Students><Students>7B</Students><Duration>1</Duration><Total_Duration>3</Total_Duration>
  <Id>3</Id><Activity_Group_Id>1</Activity_Group_Id><Active>true</Active></Activity>
<Activity><Teacher>Aho</Teacher><Teacher>Berg &amp; Co</Teacher><Subject>ÄI</Subject>
  <Students>9</Students><Duration>2</Duration><Total_Duration>2</Total_Duration><Id>4</Id>
  <Activity_Group_Id>0</Activity_Group_Id><Number_Of_Students>18</Number_Of_Students>
  <Active>true</Active></Activity>
<Activity><Teacher>Berg &amp; Co</Teacher><Subject>RU</Subject><Students>7A-ru</Students>
  <Duration>1</Duration><Total_Duration>1</Total_Duration><Id>5</Id>
  <Activity_Group_Id>0</Activity_Group_Id><Active>false</Active></Activity>
<Activity><Teacher>Berg &amp; Co</Teacher><Subject>RU</Subject><Students>valinnainen</Students>
  <Duration>1</Duration><Total_Duration>1</Total_Duration><Id>6</Id>
  <Activity_Group_Id>0</Activity_Group_Id><Active>true</Active></Activity>
</Activities_List>
<Buildings_List><Building><Name>A</Name></Building></Buildings_List>
<Rooms_List>
<Room><Name>Luokka 1</Name><Building>A</Building><Capacity>30</Capacity>
  <Virtual>false</Virtual></Room>
<Room><Name>Luokka 2</Name><Building></Building><Capacity>25</Capacity>
  <Virtual>false</Virtual></Room>
</Rooms_List>
<Time_Constraints_List>
<ConstraintBasicCompulsoryTime><Weight_Percentage>100</Weight_Percentage><Active>true</Active>
  </ConstraintBasicCompulsoryTime>
<ConstraintBreakTimes><Weight_Percentage>100</Weight_Percentage><Number_of_Break_Times>1</Number_of_Break_Times>
  <Break_Time><Day>ke</Day><Hour>iltapäivä</Hour></Break_Time><Active>true</Active></ConstraintBreakTimes>
<ConstraintTeacherNotAvailableTimes><Weight_Percentage>100</Weight_Percentage>
  <Teacher>Berg &amp; Co</Teacher>
  <Number_of_Not_Available_Times>1</Number_of_Not_Available_Times>
  <Not_Available_Time><Day>ma</Day><Hour>08:15-09:00</Hour></Not_Available_Time><Active>true</Active>
  </ConstraintTeacherNotAvailableTimes>
<ConstraintMinDaysBetweenActivities><Weight_Percentage>95</Weight_Percentage>
  <Consecutive_If_Same_Day>true</Consecutive_If_Same_Day><Number_of_Activities>3</Number_of_Activities>
  <Activity_Id>1</Activity_Id><Activity_Id>2</Activity_Id><Activity_Id>3</Activity_Id><MinDays>1</MinDays>
  <Active>true</Active></ConstraintMinDaysBetweenActivities>
<ConstraintMinDaysBetweenActivities><Weight_Percentage>100</Weight_Percentage>
  <Consecutive_If_Same_Day>false</Consecutive_If_Same_Day><Number_of_Activities>2</Number_of_Activities>
  <Activity_Id>5</Activity_Id><Activity_Id>6</Activity_Id><MinDays>1</MinDays><Active>true</Active>
  </ConstraintMinDaysBetweenActivities>
<ConstraintActivityPreferredStartingTime><Weight_Percentage>100</Weight_Percentage><Activity_Id>5</Activity_Id>
  <Preferred_Day>ma</Preferred_Day><Preferred_Hour>10:30</Preferred_Hour>
  <Permanently_Locked>true</Permanently_Locked><Active>true</Active></ConstraintActivityPreferredStartingTime>
<ConstraintActivityPreferredStartingTime><Weight_Percentage>80</Weight_Percentage><Activity_Id>4</Activity_Id>
  <Preferred_Day>ti</Preferred_Day><Preferred_Hour></Preferred_Hour>
  <Permanently_Locked>false</Permanently_Locked><Active>true</Active></ConstraintActivityPreferredStartingTime>
<ConstraintTwoActivitiesConsecutive><Weight_Percentage>100</Weight_Percentage>
  <First_Activity_Id>1</First_Activity_Id><Second_Activity_Id>5</Second_Activity_Id><Active>true</Active>
  </ConstraintTwoActivitiesConsecutive>
<ConstraintActivitiesSameStartingTime><Weight_Percentage>100</Weight_Percentage>
  <Number_of_Activities>3</Number_of_Activities><Activity_Id>4</Activity_Id><Activity_Id>5</Activity_Id>
  <Activity_Id>6</Activity_Id><Active>true</Active></ConstraintActivitiesSameStartingTime>
<ConstraintActivitiesNotOverlapping><Weight_Percentage>100</Weight_Percentage>
  <Number_of_Activities>2</Number_of_Activities><Activity_Id>2</Activity_Id><Activity_Id>6</Activity_Id>
  <Active>true</Active></ConstraintActivitiesNotOverlapping>
<ConstraintTeacherMaxDaysPerWeek><Weight_Percentage>100</Weight_Percentage><Teacher_Name>Aho</Teacher_Name>
  <Max_Days_Per_Week>2</Max_Days_Per_Week><Active>true</Active></ConstraintTeacherMaxDaysPerWeek>
<ConstraintTeachersMaxDaysPerWeek><Weight_Percentage>100</Weight_Percentage>
  <Max_Days_Per_Week>3</Max_Days_Per_Week><Active>true</Active></ConstraintTeachersMaxDaysPerWeek>
<ConstraintStudentsSetMaxGapsPerWeek><Weight_Percentage>100</Weight_Percentage><Max_Gaps>0</Max_Gaps>
  <Students>7</Students><Active>true</Active></ConstraintStudentsSetMaxGapsPerWeek>
<ConstraintStudentsMaxGapsPerWeek><Weight_Percentage>50</Weight_Percentage><Max_Gaps>1</Max_Gaps>
  <Active>true</Active></ConstraintStudentsMaxGapsPerWeek>
<ConstraintStudentsSetEarlyMaxBeginningsAtSecondHour><Weight_Percentage>100</Weight_Percentage>
  <Max_Beginnings_At_Second_Hour>1</Max_Beginnings_At_Second_Hour><Students>7A</Students>
  <Active>true</Active></ConstraintStudentsSetEarlyMaxBeginningsAtSecondHour>
<ConstraintTeachersIntervalMaxDaysPerWeek><Weight_Percentage>100</Weight_Percentage>
  <Interval_Start_Hour>10:30</Interval_Start_Hour><Interval_End_Hour></Interval_End_Hour>
  <Max_Days_Per_Week>2</Max_Days_Per_Week><Active>true</Active></ConstraintTeachersIntervalMaxDaysPerWeek>
<ConstraintSubactivitiesPreferredStartingTimes><Weight_Percentage>100</Weight_Percentage>
  <Component_Number>2</Component_Number><Teacher_Name></Teacher_Name><Students_Name></Students_Name>
  <Subject_Name>MA</Subject_Name><Activity_Tag_Name></Activity_Tag_Name><Duration></Duration>
  <Number_of_Preferred_Starting_Times>2</Number_of_Preferred_Starting_Times>
  <Preferred_Starting_Time><Preferred_Starting_Day>ti</Preferred_Starting_Day>
    <Preferred_Starting_Hour>08:15-09:00</Preferred_Starting_Hour></Preferred_Starting_Time>
  <Preferred_Starting_Time><Preferred_Starting_Day>ti</Preferred_Starting_Day>
    <Preferred_Starting_Hour>9.10 - 9.55</Preferred_Starting_Hour></Preferred_Starting_Time>
  <Active>true</Active></ConstraintSubactivitiesPreferredStartingTimes>
<ConstraintTeacherMaxRoomChangesPerDay><Weight_Percentage>100</Weight_Percentage><Teacher_Name>Aho</Teacher_Name>
  <Max_Span>3</Max_Span><Allow_One_Day_Exception_Of_Plus_One>false</Allow_One_Day_Exception_Of_Plus_One>
  <Active>true</Active></ConstraintTeacherMaxRoomChangesPerDay>
<ConstraintTeacherMaxRoomChangesPerDay><Weight_Percentage>100</Weight_Percentage>
  <Teacher_Name>Berg &amp; Co</Teacher_Name>
  <Max_Span>3</Max_Span><Allow_One_Day_Exception_Of_Plus_One>false</Allow_One_Day_Exception_Of_Plus_One>
  <Active>true</Active></ConstraintTeacherMaxRoomChangesPerDay>
<ConstraintTeacherMaxRoomChangesPerDay><Weight_Percentage>100</Weight_Percentage><Teacher_Name>Aho</Teacher_Name>
  <Max_Span>2</Max_Span><Allow_One_Day_Exception_Of_Plus_One>false</Allow_One_Day_Exception_Of_Plus_One>
  <Active>false</Active></ConstraintTeacherMaxRoomChangesPerDay>
<ConstraintTeacherMaxHoursDaily><Weight_Percentage>100</Weight_Percentage><Teacher_Name>Aho</Teacher_Name>
  <Maximum_Hours_Daily>1</Maximum_Hours_Daily><Active>false</Active></ConstraintTeacherMaxHoursDaily>
</Time_Constraints_List>
<Space_Constraints_List>
<ConstraintBasicCompulsorySpace><Weight_Percentage>100</Weight_Percentage><Active>true</Active>
  </ConstraintBasicCompulsorySpace>
<ConstraintActivityPreferredRoom><Weight_Percentage>100</Weight_Percentage><Activity_Id>4</Activity_Id>
  <Room>Luokka 1</Room><Permanently_Locked>false</Permanently_Locked><Active>true</Active>
  </ConstraintActivityPreferredRoom>
<ConstraintSubjectPreferredRoom><Weight_Percentage>90</Weight_Percentage><Subject>MA</Subject>
  <Room>Luokka 2</Room><Active>true</Active></ConstraintSubjectPreferredRoom>
<ConstraintStudentsSetHomeRoom><Weight_Percentage>100</Weight_Percentage><Students>7B</Students>
  <Room>Luokka 1</Room><Active>true</Active></ConstraintStudentsSetHomeRoom>
<ConstraintActivitiesSameRoomIfConsecutive><Weight_Percentage>100</Weight_Percentage>
  <Number_of_Activities>2</Number_of_Activities><Activity_Id>1</Activity_Id><Activity_Id>2</Activity_Id>
  <Active>true</Active></ConstraintActivitiesSameRoomIfConsecutive>
</Space_Constraints_List>
</fet>
"""

#: a timetable of the snippet (every active activity placed)
_TIMETABLE = Timetable(
    placements=(
        Placement(activity=1, day=0, hour=1, room="Luokka 2"),
        Placement(activity=2, day=1, hour=1, room="Luokka 2"),
        Placement(activity=3, day=2, hour=0),
        Placement(activity=4, day=1, hour=2, room="Luokka 1"),
        Placement(activity=6, day=1, hour=2),  # nothing asks a room for it
    )
)


@pytest.fixture
def snippet(tmp_path: Path) -> Path:
    path = tmp_path / "pikkukoulu.fet"
    path.write_text(_SNIPPET, encoding="utf-8")
    return path


def test_snippet_grid_people_and_rooms(snippet: Path) -> None:
    inst = read_fet(snippet).instance
    assert inst.name == "Pikkukoulu"
    assert [d.name for d in inst.days] == ["ma", "ti", "ke"]
    assert [(h.name, h.start, h.end) for h in inst.hours] == [
        ("08:15-09:00", "08:15", "09:00"),
        ("9.10 - 9.55", "09:10", "09:55"),
        ("10:30", "10:30", None),
        ("iltapäivä", None, None),
    ]
    assert [s.name for s in inst.subjects] == ["MA", "ÄI", "RU"]
    assert [(t.name, t.subjects, t.target_hours) for t in inst.teachers] == [
        ("Aho", ("MA",), 12),
        ("Berg & Co", (), None),
    ]
    assert [(r.name, r.capacity, r.building) for r in inst.rooms] == [
        ("Luokka 1", 30, "A"),
        ("Luokka 2", 25, None),
    ]


def test_snippet_students_structure(snippet: Path) -> None:
    inst = read_fet(snippet).instance
    sets = {s.name: s for s in inst.students}
    # the same group under two years is one set
    assert [s.name for s in inst.students].count("valinnainen") == 1
    assert sets["7"].subgroups == ("7A-ru", "7A-sv", "7B", "val-1", "val-2")
    assert sets["8"].subgroups == ("8A", "val-1", "val-2")
    assert sets["9"].subgroups == ("9",)  # a year without groups is its own subgroup
    assert sets["7B"].subgroups == ("7B",)  # likewise a group without subgroups
    assert sets["7A"].subgroups == ("7A-ru", "7A-sv")
    assert sets["valinnainen"].subgroups == ("val-1", "val-2")
    assert sets["7A-ru"].subgroups == ("7A-ru",)
    assert (sets["7"].kind, sets["7A"].kind, sets["7A-ru"].kind) == ("year", "group", "subgroup")
    assert (sets["7"].students, sets["7A"].students, sets["val-2"].students) == (40, 20, 4)
    assert inst.subgroups_of("8") == ("8A", "val-1", "val-2")


def test_snippet_activities(snippet: Path) -> None:
    inst = read_fet(snippet).instance
    acts = {a.id: a for a in inst.activities}
    assert sorted(acts) == [1, 2, 3, 4, 6]  # 5 is inactive
    assert acts[2].teachers == ("Aho",)
    assert acts[2].students == ("7A", "7B")
    assert acts[2].tags == ("teoria",)
    assert (acts[2].group_id, acts[2].duration, acts[2].total_duration) == (1, 1, 3)
    assert acts[4].teachers == ("Aho", "Berg & Co")
    assert (acts[4].duration, acts[4].group_id, acts[4].students_count) == (2, 0, 18)
    assert acts[6].students_count is None


def test_snippet_constraints(snippet: Path) -> None:
    fet = read_fet(snippet)
    cons = fet.instance.constraints
    assert fet.warm_start is None  # one lock only, and on an inactive activity
    assert BreakTimes(slots=((2, 3),)) in cons
    assert TeacherNotAvailableTimes(teacher="Berg & Co", slots=((0, 0),)) in cons
    assert (
        MinDaysBetweenActivities(
            weight=95, activities=(1, 2, 3), min_days=1, consecutive_if_same_day=True
        )
        in cons
    )
    # the second MinDays is left with one active activity: dropped, as FET does
    assert sum(isinstance(c, MinDaysBetweenActivities) for c in cons) == 1
    assert ActivityPreferredStartingTime(weight=80, activity=4, day=1, hour=None) in cons
    assert ActivitiesSameStartingTime(activities=(4, 6)) in cons  # 5 removed
    assert ActivitiesNotOverlapping(activities=(2, 6)) in cons
    assert TeacherMaxDaysPerWeek(teacher="Aho", max_days=2) in cons
    assert TeacherMaxDaysPerWeek(teacher=None, max_days=3) in cons
    assert StudentsMaxGapsPerWeek(students="7", max_gaps=0) in cons
    assert StudentsMaxGapsPerWeek(weight=50, students=None, max_gaps=1) in cons
    assert StudentsEarlyMaxBeginningsAtSecondHour(students="7A", max_beginnings=1) in cons
    assert TeacherIntervalMaxDaysPerWeek(teacher=None, start_hour=2, end_hour=4, max_days=2) in cons
    assert (
        ActivitiesPreferredStartingTimes(
            filter=ActivityFilter(subject="MA", component=2), slots=((1, 0), (1, 1))
        )
        in cons
    )
    assert ActivityPreferredRooms(activity=4, rooms=("Luokka 1",)) in cons
    assert SubjectPreferredRooms(weight=90, subject="MA", rooms=("Luokka 2",)) in cons
    assert StudentsSetHomeRooms(students="7B", rooms=("Luokka 1",)) in cons
    assert ActivitiesSameRoomIfConsecutive(activities=(1, 2)) in cons
    assert fet.instance.unsupported == (
        Unsupported(type="ConstraintTeacherMaxRoomChangesPerDay", count=2),
    )
    t = fet.tally
    assert (t.elements, t.implicit, t.inactive, t.inactive_activities, t.unsupported) == (
        26,
        2,
        2,
        3,  # MinDays(5, 6), the lock of 5, Consecutive(1, 5)
        2,
    )
    assert sum(t.mapped.values()) == len(cons) == 17
    assert t.accounted() == t.elements


def test_solved_snippet_is_a_warm_start(snippet: Path, tmp_path: Path) -> None:
    source = read_fet(snippet)
    solved = tmp_path / "solved.fet"
    solved.write_text(write_fet(snippet, _TIMETABLE), encoding="utf-8")
    fet = read_fet(solved)
    assert fet.warm_start == _TIMETABLE
    # the locks are not intent: the instance is the source's
    assert fet.instance == source.instance
    # five time locks and the room locks of 1 and 2 (MA asks for a room);
    # activity 4's room is its own constraint, which FET does not repeat
    assert fet.tally.warm_start == 5 + 2
    assert ActivityPreferredRooms(activity=4, rooms=("Luokka 1",)) in fet.instance.constraints
    assert fet.tally.accounted() == fet.tally.elements

    # writing another timetable onto the solved file replaces the old one
    other = Timetable(
        placements=tuple(
            Placement(activity=p.activity, day=(p.day + 1) % 3, hour=p.hour)
            for p in _TIMETABLE.placements
        )
    )
    again = tmp_path / "again.fet"
    again.write_text(write_fet(solved, other), encoding="utf-8")
    fet = read_fet(again)
    assert fet.instance == source.instance
    assert fet.warm_start == Timetable(
        placements=tuple(
            Placement(activity=4, day=p.day, hour=p.hour, room="Luokka 1") if p.activity == 4 else p
            for p in other.placements
        )
    )


def test_permanently_locked_stays_intent(snippet: Path, tmp_path: Path) -> None:
    text = _SNIPPET.replace(
        "<Activity_Id>5</Activity_Id>\n  <Preferred_Day>ma</Preferred_Day>",
        "<Activity_Id>6</Activity_Id>\n  <Preferred_Day>ti</Preferred_Day>",
    )
    pinned = tmp_path / "pinned.fet"
    pinned.write_text(text, encoding="utf-8")
    lock = ActivityPreferredStartingTime(activity=6, day=1, hour=2, locked=True)
    assert lock in read_fet(pinned).instance.constraints
    solved = tmp_path / "pinned-solved.fet"
    solved.write_text(write_fet(pinned, _TIMETABLE), encoding="utf-8")
    fet = read_fet(solved)
    assert fet.warm_start == _TIMETABLE  # 6 is placed by its own lock
    assert fet.tally.warm_start == 4 + 2  # FET adds no lock next to a permanent one
    assert lock in fet.instance.constraints  # still the user's


def test_partly_locked_file_is_intent(snippet: Path, tmp_path: Path) -> None:
    partial = Timetable(placements=_TIMETABLE.placements[:2])
    path = tmp_path / "partial.fet"
    path.write_text(write_fet(snippet, partial), encoding="utf-8")
    fet = read_fet(path)
    assert fet.warm_start is None
    assert ActivityPreferredStartingTime(activity=1, day=0, hour=1) in fet.instance.constraints
    assert ActivityPreferredRooms(activity=2, rooms=("Luokka 2",)) in fet.instance.constraints


def test_activities_xml_round_trip(snippet: Path) -> None:
    inst = read_fet(snippet).instance
    text = write_activities_xml(inst, _TIMETABLE)
    assert text.startswith('\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<Activities_Timetable>\n')
    assert (
        "<Activity>\n\t<Id>3</Id>\n\t<Day>ke</Day>\n\t<Hour>08:15-09:00</Hour>\n\t<Room></Room>\n"
        in text
    )
    assert read_activities_xml(text, inst) == _TIMETABLE
    partial = Timetable(placements=_TIMETABLE.placements[1:])
    text = write_activities_xml(inst, partial)
    assert "<Id>1</Id>\n\t<Day></Day>\n\t<Hour></Hour>" in text
    assert read_activities_xml(text, inst) == partial


def test_bad_files(tmp_path: Path) -> None:
    cases = {
        "not-xml.fet": "this is not xml",
        "wrong-root.fet": "<html></html>",
        "entities.fet": '<!DOCTYPE fet [<!ENTITY a "aaaa">]><fet>&a;</fet>',
        "no-days.fet": "<fet><Days_List/><Hours_List/></fet>",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(FetError):
            read_fet(path)
    with pytest.raises(FetError):
        read_fet(tmp_path / "missing.fet")
    bad_day = _SNIPPET.replace("<Day>ke</Day><Hour>iltapäivä</Hour>", "<Day>su</Day><Hour>1</Hour>")
    path = tmp_path / "bad-day.fet"
    path.write_text(bad_day, encoding="utf-8")
    with pytest.raises(FetError, match="unknown day 'su'"):
        read_fet(path)


# --- the command line ---------------------------------------------------------------


def _supported_only(text: str) -> bytes:
    """The file without the constraint types the reader cannot map."""
    root = ET.fromstring(text)  # noqa: S314 - our own text
    for lst in root.findall("*"):
        for e in [e for e in lst if e.tag.startswith("Constraint")]:
            if e.tag not in SUPPORTED | IMPLICIT:
                lst.remove(e)
    return ET.tostring(root, encoding="utf-8")


def test_cli_import_fet(snippet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "instance.json"
    assert cli.main(["import-fet", str(snippet), "--json", str(out)]) == cli.UNSUPPORTED
    printed = capsys.readouterr().out
    assert "3 days × 4 hours" in printed
    assert "5 activities" in printed and "2 teachers" in printed and "2 rooms" in printed
    assert "MinDaysBetweenActivities" in printed
    assert "UNSUPPORTED" in printed and "ConstraintTeacherMaxRoomChangesPerDay" in printed
    inst = msgspec.json.decode(out.read_bytes(), type=Instance)
    assert inst == read_fet(snippet).instance

    supported = tmp_path / "supported.fet"
    supported.write_bytes(_supported_only(_SNIPPET))
    capsys.readouterr()
    assert cli.main(["import-fet", str(supported)]) == cli.OK
    assert "everything in the file is supported" in capsys.readouterr().out


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.fet"
    bad.write_text("<fet><oops></fet>", encoding="utf-8")
    assert cli.main(["import-fet", str(bad)]) == cli.BAD_INPUT
    err = capsys.readouterr().err
    assert "not well-formed" in err and "Traceback" not in err
    assert cli.main(["import-fet", str(tmp_path / "nope.fet")]) == cli.BAD_INPUT
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["export-fet", str(bad), str(bad), "--out", str(tmp_path / "x")]) == 2


def test_cli_export_fet(snippet: Path, tmp_path: Path) -> None:
    inst = read_fet(snippet).instance
    activities = tmp_path / "activities.xml"
    activities.write_text(write_activities_xml(inst, _TIMETABLE), encoding="utf-8")
    out = tmp_path / "out.fet"
    assert cli.main(["export-fet", str(snippet), str(activities), "--out", str(out)]) == cli.OK
    assert read_fet(out).warm_start == _TIMETABLE


# --- every fet-data example ----------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> Iterator[dict[Path, FetFile]]:
    paths = fetdata.all_examples()
    if not paths:
        pytest.skip(f"fet-data is not installed ({fetdata.EXAMPLES}): apt-get install fet-data")
    # millions of small objects kept: without this the cyclic GC's passes
    # over them take longer than the reading itself
    gc.disable()
    try:
        read = {p: read_fet(p) for p in paths}
    finally:
        gc.enable()
    gc.freeze()
    yield read
    gc.unfreeze()


def test_every_example_is_read_and_nothing_is_lost(examples: dict[Path, FetFile]) -> None:
    unsupported: Counter[str] = Counter()
    files_with: Counter[str] = Counter()
    for path, fet in examples.items():
        t = fet.tally
        assert t.accounted() == t.elements, path
        assert sum(
            u.count for u in fet.instance.unsupported if u.type.startswith("Constraint")
        ) == (t.unsupported), path
        assert sum(t.mapped.values()) == len(fet.instance.constraints), path
        assert set(t.mapped) <= SUPPORTED, path
        assert fet.instance.activities and fet.instance.days and fet.instance.hours, path
        if fet.warm_start is not None:
            ids = [p.activity for p in fet.warm_start.placements]
            assert ids == [a.id for a in fet.instance.activities], path
        for u in fet.instance.unsupported:
            unsupported[u.type] += u.count
            files_with[u.type] += 1
    clean = sum(1 for f in examples.values() if not f.instance.unsupported)
    print(f"\n{len(examples)} fet-data files read; {clean} with no unsupported type")
    for name, n in unsupported.most_common():
        print(f"  {n:6d} in {files_with[name]:3d} files  {name}")


_ELEMENT = re.compile(rb"<(Constraint\w+)>(.*?)</\1>", re.S)
_MODE = re.compile(rb"<Mode>([^<]*)</Mode>")


def _active_types(path: Path) -> tuple[str | None, Counter[str]]:
    """The file's mode and its active constraint elements by type, counted
    straight from the text (not by the reader under test)."""
    data = path.read_bytes()
    found: Counter[str] = Counter()
    for m in _ELEMENT.finditer(data):
        if b"<Active>false</Active>" not in m.group(2):
            found[m.group(1).decode()] += 1
    mode = _MODE.search(data)
    return (None if mode is None else mode.group(1).decode()), found


def test_the_30_most_used_constraint_types_are_supported(
    examples: dict[Path, FetFile],
) -> None:
    """Frequency = in how many example files a type is used. Files in FET's
    Mornings-Afternoons mode (half-day "days", read as such only with the
    types of `fet.MORNINGS_AFTERNOONS_TYPES`) are left out of the count."""
    in_files: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    for path, fet in examples.items():
        mode, found = _active_types(path)
        assert sum(found.values()) == fet.tally.elements - fet.tally.inactive, path
        elements.update(found)
        if mode in (None, "Official", "Terms", "Block_Planning"):
            in_files.update(found.keys())
    top = [t for t, _ in in_files.most_common(30)]
    missing = [t for t in top if t not in SUPPORTED | IMPLICIT]
    assert not missing, missing
    gaps = [(t, n) for t, n in elements.most_common(30) if t not in SUPPORTED | IMPLICIT]
    print(f"\nby number of elements, top-30 types not in the model: {gaps}")


def test_solved_examples_read_back_to_their_source(examples: dict[Path, FetFile]) -> None:
    """fet-data has FET's own `_data_and_timetable.fet` next to some sources:
    with the locks taken as the warm start, the two are the same instance."""
    pairs = 0
    for path, fet in examples.items():
        if not path.stem.endswith("_data_and_timetable"):
            continue
        assert fet.warm_start is not None, path
        source = path.with_name(path.name.replace("_data_and_timetable", ""))
        if source in examples:
            pairs += 1
            assert examples[source].warm_start is None, source
            assert fet.instance.constraints == examples[source].instance.constraints, path
            assert fet.instance.activities == examples[source].instance.activities, path
    assert pairs >= 10


def test_public_set(examples: dict[Path, FetFile]) -> None:
    for rel in fetdata.PUBLIC_SET:
        fet = examples[fetdata.example(rel)]
        inst = fet.instance
        print(
            f"\n{rel}: {len(inst.activities)} activities, {len(inst.constraints)} constraints, "
            f"unsupported {[(u.type, u.count) for u in inst.unsupported]}"
        )
        assert inst.activities and inst.constraints


# --- through fet-cl ---------------------------------------------------------------------

_TG_MURES = "FET-5-official/Romania/Pedagogic-High-School-Tg-Mures/2007-2008_sem1-a.fet"


def _run_fet(fet_cl: str, inputfile: Path, outdir: Path, seconds: int) -> tuple[str, Path]:
    """Run fet-cl; the result line and the activities.xml path."""
    subprocess.run(
        [
            fet_cl,
            f"--inputfile={inputfile}",
            f"--outputdir={outdir}",
            f"--timelimitseconds={seconds}",
            "--language=en",
            # fixed seeds: the same run every time (this one solves in about a second)
            *(f"--randomseeds{n}=1" for n in (10, 11, 12, 20, 21, 22)),
        ],
        check=False,
        capture_output=True,
        timeout=seconds + 60,
    )
    result = (outdir / "logs" / "result.txt").read_text(encoding="utf-8", errors="replace")
    name = inputfile.stem
    return result, outdir / "timetables" / name / f"{name}_activities.xml"


def test_fet_accepts_and_reproduces_the_written_file(tmp_path: Path) -> None:
    fet_cl = fetdata.fet_cl()
    source = fetdata.example(_TG_MURES)
    result, activities = _run_fet(fet_cl, source, tmp_path / "first", 60)
    assert "Simulation successful" in result, result
    fet = read_fet(source)
    timetable = read_activities_xml(activities, fet.instance)
    assert len(timetable.placements) == len(fet.instance.activities)
    # our writer writes exactly what fet-cl wrote
    assert write_activities_xml(fet.instance, timetable) == activities.read_text(encoding="utf-8")
    # and FET's own solved file reads back as the source plus that warm start
    theirs = read_fet(
        activities.with_name(
            activities.name.replace("_activities.xml", "") + "_data_and_timetable.fet"
        )
    )
    assert theirs.warm_start == timetable
    assert theirs.instance.constraints == fet.instance.constraints

    locked = tmp_path / "locked.fet"
    locked.write_text(write_fet(source, timetable), encoding="utf-8")
    result, again = _run_fet(fet_cl, locked, tmp_path / "second", 20)
    assert "Simulation successful" in result, result
    assert read_activities_xml(again, fet.instance) == timetable
    assert again.read_bytes() == activities.read_bytes()

    # half of it locked: still a file FET opens and completes around the locks
    half = Timetable(placements=timetable.placements[::2])
    partial = tmp_path / "half.fet"
    partial.write_text(write_fet(source, half), encoding="utf-8")
    assert read_fet(partial).warm_start is None  # a partly locked file is intent
    result, third = _run_fet(fet_cl, partial, tmp_path / "third", 30)
    assert "Simulation successful" in result, result
    placed = read_activities_xml(third, fet.instance).by_activity()
    assert all(placed[p.activity] == p for p in half.placements)


def test_cli_solve_names_a_constraint_the_solver_cannot_take(
    snippet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with a constraint the solver can neither enforce nor cost — a
    type the reader cannot map, or one it maps whose soft variant the solver
    cannot cost (the snippet's 50 % students' gap limit) — is refused: exit
    2, named, no traceback and nothing written; never a timetable that
    ignores it."""
    out = tmp_path / "out"
    capsys.readouterr()
    code = cli.main(["solve", str(snippet), "--time-limit", "5", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.BAD_INPUT and "Traceback" not in err
    assert "not supported: 2 × ConstraintTeacherMaxRoomChangesPerDay" in err
    assert not out.exists()

    soft = tmp_path / "soft.fet"
    soft.write_bytes(_supported_only(_SNIPPET))
    code = cli.main(["solve", str(soft), "--time-limit", "5", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.BAD_INPUT and "Traceback" not in err
    assert "not supported: StudentsMaxGapsPerWeek: soft (50.0%)" in err
    assert not out.exists()


def test_cli_solve_says_why_there_is_no_timetable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class with more lessons than hours in its week: `solve` exits 1
    (no timetable) at once and says which class and the counts, on stdout
    and in report.json."""
    from tests.scheduling import tiny_fet

    full = tmp_path / "full.fet"
    full.write_text(tiny_fet.school(classes=1, hours=2, days=("ma", "ti")), encoding="utf-8")
    out = tmp_path / "out"
    capsys.readouterr()
    code = cli.main(["solve", str(full), "--time-limit", "600", "--out", str(out), "--quiet"])
    said = capsys.readouterr().out
    assert code == 1  # solve_cli.NOT_SOLVED
    assert "infeasible" in said and "7A has 13 hours of lessons and room for 4" in said
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "infeasible" and report["complete"] is False
    assert "room for 4" in report["message"]


def test_cli_solve_from_the_current_timetable_moves_few(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`solve --from`: a solved file's timetable is the current one; after a
    change in the file (a teacher away for a day), the re-solve moves only
    the lessons it has to and a few around them, and says how many."""
    from tests.scheduling import tiny_fet

    source = tmp_path / "school.fet"
    source.write_text(tiny_fet.school(classes=4), encoding="utf-8")
    first = tmp_path / "first"
    assert (
        cli.main(["solve", str(source), "--time-limit", "60", "--out", str(first), "--quiet"]) == 0
    )
    current = read_fet(first / "timetable.fet").warm_start
    assert current is not None
    instance = read_fet(source).instance
    teacher = "T-mat-0"
    acts = {a.id: a for a in instance.activities}
    # the first day she teaches on, whichever the first timetable made it
    day = min(p.day for p in current.placements if teacher in acts[p.activity].teachers)
    hers = {
        p.activity
        for p in current.placements
        if p.day == day and teacher in acts[p.activity].teachers
    }
    assert hers
    changed = tmp_path / "changed.fet"
    away = tiny_fet.teacher_away(
        source.read_text(encoding="utf-8"), teacher, instance.days[day].name
    )
    changed.write_text(away, encoding="utf-8")
    out = tmp_path / "out"
    capsys.readouterr()
    args = ["solve", str(changed), "--time-limit", "60", "--from", str(first / "timetable.fet")]
    assert cli.main([*args, "--out", str(out), "--quiet", "--improve", "0"]) == 0
    said = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    after = read_activities_xml(out / "activities.xml", read_fet(changed).instance).by_activity()
    moved = {
        a
        for a, p in current.by_activity().items()
        if (after[a].day, after[a].hour) != (p.day, p.hour)
    }
    assert report["moved"] == len(moved) and f"{len(moved)} lessons moved" in said
    assert hers <= moved and len(moved) <= 4 * len(hers)
    assert all(after[a].day != day for a in hers)
    # not a solved file: refused, nothing written
    nowhere = tmp_path / "nowhere"
    assert cli.main(["solve", str(changed), "--from", str(source), "--out", str(nowhere)]) == 2
    assert "holds no timetable" in capsys.readouterr().err and not nowhere.exists()


def test_the_console_script_solves_and_its_output_reaches_a_pipe(tmp_path: Path) -> None:
    """`reppu timetable solve` as installed (core/entry.py, which ends the
    process without the interpreter's teardown): its exit status, its
    summary line and progress through pipes (block-buffered: lost unless
    flushed before the process ends), and every file it writes."""
    from tests.scheduling import tiny_fet

    reppu = Path(sys.executable).parent / "reppu"
    if not reppu.exists():
        pytest.skip(f"the console script is not installed beside {sys.executable}")
    source = tmp_path / "school.fet"
    source.write_text(tiny_fet.school(classes=2), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [str(reppu), "timetable", "solve", str(source), "--time-limit", "60", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("school.fet: ") and "hard 0" in done.stdout
    assert "done" in done.stderr  # the last progress line
    report = json.loads((out / "report.json").read_text())
    assert report["hard"] == 0 and report["complete"] is True
    assert (out / "activities.xml").read_text().rstrip().endswith("</Activities_Timetable>")
    assert (out / "timetable.fet").exists() and (out / "violations.txt").exists()

    # a file it cannot read: exit 2 and the reason, through the same path
    bad = subprocess.run(
        [str(reppu), "timetable", "import-fet", str(tmp_path / "nope.fet")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "nope.fet" in bad.stderr


def test_students_interval_max_days_are_read() -> None:
    """Liceo-2010 (Italy): no lessons after 13:00 for its classes (the
    interval's end left empty: the end of the day); Khoi-sang (Vietnam):
    year 10 busy in hours T1-T3 (up to T4) on at most 4 days."""
    liceo = read_fet(fetdata.example("FET-5-official/Italy/2010/Liceo-2010.fet")).instance
    assert liceo.unsupported == ()
    assert (
        StudentsIntervalMaxDaysPerWeek(students="1", start_hour=5, end_hour=6, max_days=0)
        in liceo.constraints
    )
    sang = read_fet(
        fetdata.example("FET-5-official/Vietnam/1-Le-Qui-Don_Lam-Ha/Khoi-sang.fet")
    ).instance
    assert sang.unsupported == ()
    assert (
        StudentsIntervalMaxDaysPerWeek(students="Lớp 10", start_hour=0, end_hour=3, max_days=4)
        in sang.constraints
    )


def test_min_gaps_and_students_continuously_are_read() -> None:
    liceo = read_fet(fetdata.example("FET-5-official/Italy/2009/liceo-scientifico.fet")).instance
    assert liceo.unsupported == ()
    gaps = [c for c in liceo.constraints if isinstance(c, MinGapsBetweenActivities)]
    assert len(gaps) == 7 and all(c.weight == 100 and c.min_gaps >= 1 for c in gaps)
    assert gaps[0].activities[:3] == (647, 648, 670)
    tel = read_fet(
        fetdata.example(
            "FET-5-official/Indonesia/TelPolytech-Bandung/2010-2011/TelPolytech_even.fet"
        )
    ).instance
    assert tel.unsupported == ()
    assert StudentsMaxHoursContinuously(students=None, max_hours=4) in tel.constraints


def _read(rel: str) -> Instance:
    instance = read_fet(fetdata.example(rel)).instance
    assert instance.unsupported == (), rel
    return instance


def test_min_days_per_week_and_activity_relations_are_read() -> None:
    gym = _read("FET-5-official/Greece/Gymnasio/Gymnasio.fet").constraints
    assert sum(isinstance(c, TeacherMinDaysPerWeek) for c in gym) == 25
    assert TeacherMinDaysPerWeek(teacher="pe16", min_days=4) in gym
    base = _read("FET-5-official/Italy/2010/base2010-23.fet").constraints
    assert TeacherMinDaysPerWeek(teacher=None, min_days=1) in base  # the plural form
    sharif = _read("FET-5-official/Iran/Sharif-University/Sharif.fet").constraints
    assert sum(isinstance(c, ActivitiesSameStartingHour) for c in sharif) == 67
    assert ActivitiesSameStartingHour(activities=(1, 2)) in sharif
    assert TwoActivitiesOrdered(first=15, second=71) in sharif
    syria = "FET-5-official/Syria/Hama/2019/"
    industrial = _read(syria + "Industrial-high-school.fet").constraints
    assert TwoActivitiesOrderedIfSameDay(first=443, second=449) in industrial
    goreangab = _read("FET-5-official/Namibia/by-Bobby/set-7-2016/GoreangabJSSY2016T2b.fet")
    assert ThreeActivitiesGrouped(first=9, second=13, third=17) in goreangab.constraints
    high = _read(syria + "High-school.fet").constraints
    assert (
        ActivitiesMaxSimultaneousInSelectedTimeSlots(
            activities=(544, 546, 545, 547),
            slots=tuple((d, 6) for d in range(5)),
            max_simultaneous=1,
        )
        in high
    )


def test_activity_tag_limits_are_read() -> None:
    """Teachers' forms name the tag `Activity_Tag_Name`, students' forms
    `Activity_Tag`."""
    eng = _read("FET-5-official/India/New-Delhi/Eng_College.fet").constraints
    assert TeacherActivityTagMaxHoursDaily(tag="(L)", max_hours=4) in eng
    assert TeacherActivityTagMaxHoursContinuously(tag="(L)", max_hours=1) in eng
    assert StudentsActivityTagMaxHoursDaily(tag="Lab", max_hours=3) in eng
    assert StudentsActivityTagMaxHoursContinuously(tag="Lab", max_hours=3) in eng
    gaps = _read("FET-5-official/Algeria/Algerian-college/Find-the-gaps.fet").constraints
    one = [c for c in gaps if isinstance(c, TeacherActivityTagMaxHoursDaily)]
    assert one and all(c.teacher and c.tag for c in one)


def test_building_changes_are_read() -> None:
    """Space constraints; the teacher's forms name the teacher `<Teacher>`."""
    india = "FET-5-official/India/2021/St-Joseph-EMHSS-Puthanangadi/stjosephemhss.fet"
    assert TeacherMinGapsBetweenBuildingChanges(min_gaps=1) in _read(india).constraints
    saudi = _read("FET-5-official/Saudi-Arabia/Arabic_Saudi_3.fet").constraints
    assert TeacherMaxBuildingChanges(max_changes=1) in saudi
    gaps = [c for c in saudi if isinstance(c, TeacherMinGapsBetweenBuildingChanges)]
    assert len(gaps) == 34 and all(c.teacher for c in gaps)
    tel = "FET-5-official/Indonesia/TelPolytech-Bandung/2010-2011/TelPolytech_odd.fet"
    assert TeacherMaxBuildingChanges(teacher="AAD", max_changes=10) in _read(tel).constraints
    econ = read_fet(
        fetdata.example(
            "FET-5-official/Romania/Faculty-Econ-Timisoara-difficult/2007-2008-sem-2/"
            "Econ-Timisoara.fet"
        )
    ).instance
    weekly = [c for c in econ.constraints if isinstance(c, StudentsMaxBuildingChanges)]
    assert any(c.per_week for c in weekly) and any(not c.per_week for c in weekly)


def test_identical_preferred_starting_times_are_read_once(tmp_path: Path) -> None:
    """FET adds an identical preferred starting time (weight included, not
    "permanently locked") or min days once; Sharif's two of activity 124
    differ in weight (100, 95) and stay two until both weigh the same."""
    source = fetdata.example("FET-5-official/Iran/Sharif-University/Sharif.fet")
    sharif = read_fet(source)
    assert sharif.tally.duplicates == 0
    assert sum(getattr(c, "activity", None) == 124 for c in sharif.instance.constraints) == 2
    text = source.read_text(encoding="utf-8-sig")
    same = tmp_path / "same.fet"
    same.write_text(
        text.replace(
            "<Weight_Percentage>95</Weight_Percentage>",
            "<Weight_Percentage>100</Weight_Percentage>",
        ),
        "utf-8",
    )
    once = read_fet(same)
    assert once.tally.duplicates >= 1
    assert once.tally.accounted() == once.tally.elements
    assert sum(getattr(c, "activity", None) == 124 for c in once.instance.constraints) == 1


def test_max_different_rooms_are_read() -> None:
    shc = _read("FET-5-official/Belize/Sacred-Heart-College/shc-2012/test-2012.fet")
    rooms = [c for c in shc.constraints if isinstance(c, ActivitiesOccupyMaxDifferentRooms)]
    assert len(rooms) == 2 and rooms[0].activities[:4] == (515, 516, 544, 545)
    egypt = _read("FET-5-official/Egypt/Dakahlia/institution-2012-2013.fet").constraints
    assert sum(isinstance(c, ActivitiesOccupyMaxDifferentRooms) for c in egypt) == 32


def test_max_span_and_min_resting_hours_are_read() -> None:
    tg = _read(
        "FET-5-official/Romania/Pedagogic-High-School-Tg-Mures/"
        "2007-2008_sem1-d-test-students-max-span-per-day.fet"
    ).constraints
    assert MaxSpanPerDay(all_students=True, max_span=8) in tg
    assert MaxSpanPerDay(max_span=8) in tg  # every teacher
    assert MinRestingHours(all_students=True, min_hours=4, circular=False) in tg
    lk = _read("FET-5-official/anonymous/2/2017/lk-example.fet").constraints
    assert MinRestingHours(teacher="Osmar", min_hours=2, circular=False) in lk
    # FET 6's one day of the span plus one is not in the model: reported
    virtual = "FET-5-official/Germany/secondary-school-1/test-virtual-rooms-2/"
    german = read_fet(fetdata.example(virtual + "German-test-virtual-rooms-2.fet"))
    kinds = {u.type for u in german.instance.unsupported}
    assert "ConstraintTeacherMaxSpanPerDay with one day exception" in kinds


def test_virtual_rooms_are_read() -> None:
    """FET 6's virtual rooms: the sets of real rooms; a solved file's room
    locks with their real rooms are the warm start's."""
    vr3 = read_fet(
        fetdata.example(
            "FET-5-official/Germany/secondary-school-1/test-virtual-rooms-3/"
            "German-test-virtual-rooms-3.fet"
        )
    )
    assert not vr3.instance.unsupported
    (gym,) = [r for r in vr3.instance.rooms if r.virtual]
    assert gym.name == "sportvirtual"
    assert gym.real_rooms == (("H1", "H2", "H3"), ("H1", "161", "162", "001"))
    spain = read_fet(
        fetdata.example(
            "FET-5-official/Spain/4-secondary-and-vocational-school/SPAIN_20-21-locked.fet"
        )
    )
    assert not spain.instance.unsupported and spain.warm_start is not None
    p = spain.warm_start.by_activity()[349]
    assert (p.room, p.real_rooms) == ("AV 1BAC VE", ("Biblioteca", "A41"))
    # locked in time; of the rooms, some (FET locks a lesson in a virtual
    # room in space only with its real rooms)
    found = check(spain.instance, spain.warm_start).hard_by_type()
    assert set(found) == {"RoomMissing", "RealRooms", "StudentsSetHomeRooms"}


def test_a_virtual_room_solved_here_is_read_by_fet_as_it_is(tmp_path: Path) -> None:
    """Physical education of four classes in a hall of three real rooms
    taken two at a time (virtual room "Sali": one of S1–S3 and one of S2–S4):
    two classes at most at once. `reppu timetable solve` writes each lesson's
    real rooms; FET's reading of the written timetable (every lesson locked,
    real rooms too) succeeds and gives back the same timetable; the checker
    counts a lesson's real room taken twice."""
    from tests.scheduling import tiny_fet

    fet_cl = fetdata.fet_cl()
    source = tmp_path / "school.fet"
    fet = tiny_fet.school(classes=4, lessons=(("li", 3), ("mat", 4), ("äi", 4)))
    source.write_text(
        tiny_fet.virtual_gym(fet, "li", (("S1", "S2", "S3"), ("S2", "S3", "S4"))),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = cli.main(
        ["solve", str(source), "--time-limit", "60", "--seed", "1", "--out", str(out), "--quiet"]
    )
    assert code == 0
    inst = read_fet(source).instance
    ours = read_activities_xml(out / "activities.xml", inst)
    gym = [p for p in ours.placements if p.room == "Sali"]
    assert len(gym) == 12
    for p in gym:
        assert p.real_rooms[0] in ("S1", "S2", "S3") and p.real_rooms[1] in ("S2", "S3", "S4")
        assert p.real_rooms[0] != p.real_rooms[1]
    at_once = Counter((p.day, p.hour) for p in gym)
    assert max(at_once.values()) <= 2 and check(inst, ours).hard == 0

    result, theirs = _run_fet(fet_cl, out / "timetable.fet", tmp_path / "fet", 30)
    assert "Simulation successful" in result, result

    # the same times and rooms; FET lists a lesson's real rooms in an order
    # of its own where two sets share them
    def key(t: Timetable) -> list[tuple[int, int, int, str | None, frozenset[str]]]:
        return [(p.activity, p.day, p.hour, p.room, frozenset(p.real_rooms)) for p in t.placements]

    assert key(read_activities_xml(theirs, inst)) == key(ours)

    busy = max(at_once, key=lambda k: at_once[k])
    a, b = [p for p in gym if (p.day, p.hour) == busy][:2] if at_once[busy] == 2 else gym[:2]
    clash = msgspec.structs.replace(b, day=a.day, hour=a.hour, real_rooms=a.real_rooms)
    bad = Timetable(placements=tuple(clash if p is b else p for p in ours.placements))
    assert check(inst, bad).hard_by_type().get("RoomConflict", 0) >= 2


def test_same_room_if_consecutive_is_read_and_refused_by_the_solver() -> None:
    """Read (the Hong Kong file has one, of 37 activities) and checked; the
    solver refuses it by name rather than ignore it."""
    from scheduling.solver_compile import UnsupportedConstraintError, compile_instance

    hk = _read("FET-5-official/Hong-Kong/secondary-school-2/FET-2020-07-30-SAMPLE_HK_6_period.fet")
    assert not hk.unsupported
    (c,) = [c for c in hk.constraints if isinstance(c, ActivitiesSameRoomIfConsecutive)]
    assert len(c.activities) == 37 and c.weight == 100
    with pytest.raises(UnsupportedConstraintError, match="back-to-back lessons in one room"):
        compile_instance(hk)
