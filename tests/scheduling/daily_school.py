"""A hand-made school with a published timetable, for the timetable-in-daily-use
tests (tenant `lukkari`). Every audience rule has someone to test it on:

* class 7A (l1 … l4) is split into the Swedish group 7A-ru (l1, l2) and the
  German group 7A-sa (l3, l4); class 8A (l5, a18, a18c) is elsewhere;
* l1 has a custodial guardian (g1) and one with information right only (gi);
  l3's guardian g3; l5's guardian g5; a18 (18, no consent) and a18c (18,
  consented) share the guardian ga;
* teachers: t1 (7A, 7A-ru), t2 (7A-sa, 8A), t3 (8A, free most of the week, a
  substitute), t4 (teaches nothing here); sec is the secretary, pri the
  principal.

The timetable (`LESSONS`), valid for autumn 2026, weekday 2 is Tuesday
(TEST_NOW, 24.11.2026, is a Tuesday):

    weekday  time         subject       group   teacher  room
    2        08:15-09:00  matematiikka  7A      t1       A101
    2        09:15-10:00  ruotsi        7A-ru   t1       B203
    2        09:15-10:00  saksa         7A-sa   t2       B204
    2        10:15-11:00  historia      8A      t2       A102
    2        11:30-12:15  englanti      8A      t3       A102
    3        08:15-09:00  matematiikka  7A      t1       A101
    3        09:15-10:00  historia      8A      t2       A102
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from uuid import UUID

from core.db import Database
from scheduling.publish import write_timetable
from tests.conftest import TEST_NOW
from tests.family import import_tenant

TENANT = "lukkari"
SCHOOL = "k1"


def _person(pid: str, given: str, family: str, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "given_name": given,
        "family_name": family,
        "username": f"{pid}@{TENANT}",
        "roles": [{"school": SCHOOL, "role": role}],
        **extra,
    }


ROSTER: dict[str, Any] = {
    "schools": [{"id": SCHOOL, "name": "Lukkarin koulu", "kind": "comprehensive"}],
    "persons": [
        _person("t1", "Tuula", "Ykkönen", "teacher"),
        _person("t2", "Timo", "Kakkonen", "teacher"),
        _person("t3", "Terhi", "Kolmonen", "teacher"),
        _person("t4", "Tapio", "Nelonen", "teacher"),
        _person("sec", "Sanna", "Sihteeri", "secretary"),
        _person("pri", "Pekka", "Rehtori", "principal"),
        _person("l1", "Lilja", "Ykkönen", "learner", birth_date="2013-05-01"),
        _person("l2", "Leo", "Kakkonen", "learner", birth_date="2013-06-01"),
        _person("l3", "Lumi", "Kolmonen", "learner", birth_date="2013-07-01"),
        _person("l4", "Lasse", "Nelonen", "learner", birth_date="2013-08-01"),
        _person("l5", "Linnea", "Viitonen", "learner", birth_date="2012-08-01"),
        _person("a18", "Aapo", "Aikuinen", "learner", birth_date="2008-01-01"),
        _person(
            "a18c", "Aino", "Aikuinen", "learner", birth_date="2008-02-01", guardians_may_see=True
        ),
        _person("g1", "Gustav", "Ykkönen", "guardian"),
        _person("gi", "Iida", "Tieto", "guardian"),
        _person("g3", "Greta", "Kolmonen", "guardian"),
        _person("g5", "Gabriel", "Viitonen", "guardian"),
        _person("ga", "Anja", "Aikuinen", "guardian"),
    ],
    "groups": [
        {
            "id": "7a",
            "school": SCHOOL,
            "name": "7A",
            "kind": "class",
            "grade": 7,
            "learners": ["l1", "l2", "l3", "l4"],
            "teachers": ["t1"],
        },
        {
            "id": "7a-ru",
            "school": SCHOOL,
            "name": "7A ruotsi",
            "kind": "teaching_group",
            "subject": "ruotsi",
            "learners": ["l1", "l2"],
            "teachers": ["t1"],
        },
        {
            "id": "7a-sa",
            "school": SCHOOL,
            "name": "7A saksa",
            "kind": "teaching_group",
            "subject": "saksa",
            "learners": ["l3", "l4"],
            "teachers": ["t2"],
        },
        {
            "id": "8a",
            "school": SCHOOL,
            "name": "8A",
            "kind": "class",
            "grade": 8,
            "learners": ["l5", "a18", "a18c"],
            "teachers": ["t2", "t3"],
        },
    ],
    "guardianships": [
        {"guardian": "g1", "learner": "l1", "kind": "custodial"},
        {"guardian": "gi", "learner": "l1", "kind": "information_right"},
        {"guardian": "g3", "learner": "l3", "kind": "custodial"},
        {"guardian": "g5", "learner": "l5", "kind": "custodial"},
        {"guardian": "ga", "learner": "a18", "kind": "custodial"},
        {"guardian": "ga", "learner": "a18c", "kind": "custodial"},
    ],
}

#: (weekday, starts, ends, subject, group, teacher, room)
LESSONS: list[tuple[int, str, str, str, str, str, str]] = [
    (2, "08:15", "09:00", "matematiikka", "7a", "t1", "A101"),
    (2, "09:15", "10:00", "ruotsi", "7a-ru", "t1", "B203"),
    (2, "09:15", "10:00", "saksa", "7a-sa", "t2", "B204"),
    (2, "10:15", "11:00", "historia", "8a", "t2", "A102"),
    (2, "11:30", "12:15", "englanti", "8a", "t3", "A102"),
    (3, "08:15", "09:00", "matematiikka", "7a", "t1", "A101"),
    (3, "09:15", "10:00", "historia", "8a", "t2", "A102"),
]

VALID_FROM = date(2026, 8, 10)
VALID_TO = date(2026, 12, 22)


async def setup(db: Database) -> dict[str, UUID]:
    """Import the roster and publish the timetable (once per test session);
    returns external id → id, with "tenant" and "timetable"."""
    tenant, ids = await import_tenant(db, TENANT, "Lukkarin kunta", ROSTER)
    async with db.tenant(tenant) as conn:
        view = await write_timetable(
            conn,
            tenant,
            ids[SCHOOL],
            "Syksy 2026",
            VALID_FROM,
            VALID_TO,
            [
                {
                    "weekday": wd,
                    "starts": time.fromisoformat(s),
                    "ends": time.fromisoformat(e),
                    "subject": subject,
                    "group_id": ids[group],
                    "teacher_ids": [ids[teacher]],
                    "room": room,
                    "activity_id": n,
                }
                for n, (wd, s, e, subject, group, teacher, room) in enumerate(LESSONS, 1)
            ],
            solve_id=None,
            published_by=ids["sec"],
            now=TEST_NOW,
        )
    return {**ids, "tenant": tenant, "timetable": view.id}


async def lesson_id(db: Database, school: dict[str, UUID], subject: str, weekday: int) -> UUID:
    """The id of the session timetable's lesson of `subject` on `weekday`."""
    async with db.tenant(school["tenant"]) as conn:
        value: UUID = await conn.fetchval(
            "SELECT id FROM timetable_lessons WHERE timetable_id = $1 AND subject = $2 "
            "AND weekday = $3",
            school["timetable"],
            subject,
            weekday,
        )
    return value
