"""Small FET documents made here, for tests that need a `.fet` file of their own
(nothing is taken from fet-data)."""

from __future__ import annotations

from xml.sax.saxutils import escape

DAYS = ("ma", "ti", "ke", "to", "pe")


def school(
    *,
    classes: int = 3,
    hours: int = 6,
    lessons: tuple[tuple[str, int], ...] = (("mat", 4), ("äi", 4), ("en", 3), ("bi", 2)),
    days: tuple[str, ...] = DAYS,
    no_gaps: bool = True,
    spread_weight: int | None = 95,
) -> str:
    """`classes` classes (years "7A", "7B", …), each with `lessons` (subject,
    lessons per week) of one hour; the subject's teacher is "T-<subject>-<n>"
    with one teacher per two classes. Optionally zero gaps for every class
    and a soft MinDaysBetweenActivities between a subject's lessons."""
    names = [f"7{chr(ord('A') + i)}" for i in range(classes)]
    subjects = [s for s, _ in lessons]
    teachers = sorted({f"T-{s}-{c // 2}" for s in subjects for c in range(classes)})
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<fet version="6.8.5">',
        "<Institution_Name>Testikoulu</Institution_Name>",
        "<Comments></Comments>",
        f"<Days_List><Number_of_Days>{len(days)}</Number_of_Days>",
        *(f"<Day><Name>{d}</Name></Day>" for d in days),
        "</Days_List>",
        f"<Hours_List><Number_of_Hours>{hours}</Number_of_Hours>",
        *(f"<Hour><Name>{h + 1}</Name></Hour>" for h in range(hours)),
        "</Hours_List>",
        "<Subjects_List>",
        *(f"<Subject><Name>{escape(s)}</Name><Comments></Comments></Subject>" for s in subjects),
        "</Subjects_List>",
        "<Activity_Tags_List></Activity_Tags_List>",
        "<Teachers_List>",
        *(f"<Teacher><Name>{t}</Name><Comments></Comments></Teacher>" for t in teachers),
        "</Teachers_List>",
        "<Students_List>",
        *(
            f"<Year><Name>{n}</Name><Number_of_Students>20</Number_of_Students>"
            "<Comments></Comments></Year>"
            for n in names
        ),
        "</Students_List>",
        "<Activities_List>",
    ]
    next_id = 1
    groups: list[list[int]] = []
    for c, name in enumerate(names):
        for subject, per_week in lessons:
            ids = []
            for _ in range(per_week):
                out.append(
                    "<Activity>"
                    f"<Teacher>T-{escape(subject)}-{c // 2}</Teacher>"
                    f"<Subject>{escape(subject)}</Subject><Students>{name}</Students>"
                    "<Duration>1</Duration><Total_Duration>1</Total_Duration>"
                    f"<Id>{next_id}</Id><Activity_Group_Id>0</Activity_Group_Id>"
                    "<Active>true</Active><Comments></Comments></Activity>"
                )
                ids.append(next_id)
                next_id += 1
            groups.append(ids)
    out += [
        "</Activities_List>",
        "<Buildings_List></Buildings_List>",
        "<Rooms_List></Rooms_List>",
        "<Time_Constraints_List>",
        "<ConstraintBasicCompulsoryTime><Weight_Percentage>100</Weight_Percentage>"
        "<Active>true</Active><Comments></Comments></ConstraintBasicCompulsoryTime>",
    ]
    if no_gaps:
        out.append(
            "<ConstraintStudentsMaxGapsPerWeek><Weight_Percentage>100</Weight_Percentage>"
            "<Max_Gaps>0</Max_Gaps><Active>true</Active><Comments></Comments>"
            "</ConstraintStudentsMaxGapsPerWeek>"
        )
    if spread_weight is not None:
        for ids in groups:
            if len(ids) < 2:
                continue
            out.append(
                "<ConstraintMinDaysBetweenActivities>"
                f"<Weight_Percentage>{spread_weight}</Weight_Percentage>"
                "<Consecutive_If_Same_Day>true</Consecutive_If_Same_Day>"
                f"<Number_of_Activities>{len(ids)}</Number_of_Activities>"
                + "".join(f"<Activity_Id>{i}</Activity_Id>" for i in ids)
                + "<MinDays>1</MinDays><Active>true</Active><Comments></Comments>"
                "</ConstraintMinDaysBetweenActivities>"
            )
    out += [
        "</Time_Constraints_List>",
        "<Space_Constraints_List>",
        "<ConstraintBasicCompulsorySpace><Weight_Percentage>100</Weight_Percentage>"
        "<Active>true</Active><Comments></Comments></ConstraintBasicCompulsorySpace>",
        "</Space_Constraints_List>",
        "</fet>",
    ]
    return "\n".join(out) + "\n"


def teacher_away(fet: str, teacher: str, day: str, hours: int = 6) -> str:
    """`fet` with `teacher` not available on the whole of `day` (hours 1…`hours`)."""
    slots = "".join(
        f"<Not_Available_Time><Day>{day}</Day><Hour>{h + 1}</Hour></Not_Available_Time>"
        for h in range(hours)
    )
    return fet.replace(
        "</Time_Constraints_List>",
        "<ConstraintTeacherNotAvailableTimes><Weight_Percentage>100</Weight_Percentage>"
        f"<Teacher>{escape(teacher)}</Teacher><Number_of_Not_Available_Times>{hours}"
        f"</Number_of_Not_Available_Times>{slots}<Active>true</Active><Comments></Comments>"
        "</ConstraintTeacherNotAvailableTimes></Time_Constraints_List>",
    )


def virtual_gym(fet: str, subject: str, sets: tuple[tuple[str, ...], ...]) -> str:
    """`fet` with the real rooms named in `sets` and a virtual room "Sali"
    made of those sets, which `subject`'s lessons take (100 %)."""
    real = sorted({r for s in sets for r in s})
    rooms = "".join(
        f"<Room><Name>{r}</Name><Building></Building><Capacity>40</Capacity>"
        "<Virtual>false</Virtual><Comments></Comments></Room>"
        for r in real
    ) + (
        "<Room><Name>Sali</Name><Building></Building><Capacity>1000</Capacity>"
        f"<Virtual>true</Virtual><Number_of_Sets_of_Real_Rooms>{len(sets)}"
        "</Number_of_Sets_of_Real_Rooms>"
        + "".join(
            f"<Set_of_Real_Rooms><Number_of_Real_Rooms>{len(s)}</Number_of_Real_Rooms>"
            + "".join(f"<Real_Room>{r}</Real_Room>" for r in s)
            + "</Set_of_Real_Rooms>"
            for s in sets
        )
        + "<Comments></Comments></Room>"
    )
    return fet.replace("<Rooms_List></Rooms_List>", f"<Rooms_List>{rooms}</Rooms_List>").replace(
        "</Space_Constraints_List>",
        "<ConstraintSubjectPreferredRoom><Weight_Percentage>100</Weight_Percentage>"
        f"<Subject>{escape(subject)}</Subject><Room>Sali</Room><Active>true</Active>"
        "<Comments></Comments></ConstraintSubjectPreferredRoom></Space_Constraints_List>",
    )
