"""A school's timetabling problem built from its roster.

`instance_from_roster(conn, school_id)` reads one school's teachers, groups,
group learners and group teachers (in a tenant transaction) and returns the
`model.Instance` of one period's week: what has to be scheduled, by whom, for
whom, and the rules the week must keep. `build_instance(RosterSnapshot)` is the
same without the database. The same roster always gives the same instance
(everything is sorted by id; no randomness).

Nothing personal goes into the instance: teachers are named by their person
id, groups by their group id, subgroups by a hash of the group ids they consist
of; learners only as counts. No names, no learner ids.

The week
--------
Days ma, ti, ke, to, pe; eight 45-minute lesson slots with 15-minute breaks and
a 30-minute lunch break after the third slot (lunch is not a slot, so it never
counts as a gap):

    1 08:15-09:00   2 09:15-10:00   3 10:15-11:00   (lunch 11:00-11:30)
    4 11:30-12:15   5 12:30-13:15   6 13:30-14:15   7 14:30-15:15   8 15:30-16:15

Teachers and students sets
--------------------------
* Teachers: the school's persons with role `teacher`, and anyone else named as
  a teacher of one of the school's groups. `Teacher.subjects`: the subjects of
  the teaching groups they teach.
* One students set per group (kind "group", `students` = learner count).
* Subgroups: learners with the same set of group memberships at this school
  form one subgroup (kind "subgroup", named ``sg-`` + 10 hex digits of a hash of
  those group ids); a group's `subgroups` are the subgroups containing it. Two
  groups therefore clash exactly when they share a learner.

Lessons (activities)
--------------------
Groups without learners get no lessons. A group's lessons of one subject are
one split activity (`group_id` = the first part's id).

Teaching groups, per week:

* upper secondary / vocational school: every course group 3 single lessons
  (`COURSE_LESSONS`), in bars (below);
* basic education: languages (`LANGUAGES`) 2; religion and ethics (`ETHICS`) 1;
  any other subject (the optional subjects) 2 (`OTHER_SUBJECT_LESSONS`) — as
  one double lesson for `DOUBLE_SUBJECTS` (kuvataide, käsityö, kotitalous,
  liikunta and their Swedish names), else single lessons.

Classes of basic education (grades 1-9) get the week's total by grade
(`WEEK_TOTAL`) minus the *typical* teaching-group hours of their learners (the
lower median, over the class's learners, of the teaching-group lessons each
attends), never negative and never more than leaves every learner of the
class within the daily limit × 5. Those hours are split into subjects by
`CLASS_SUBJECTS` (most essential first): fewer hours take one hour at a time
off the subjects from the end of the table (cycling), more add one at a time
to the first three. A subject of `DOUBLE_SUBJECTS` with two or more hours gets
one double lesson (duration 2) and single lessons for the rest. A Swedish
school's subjects get their Swedish names (`SWEDISH`). Classes outside grades
1-9 (upper secondary homeroom groups, preschool) get no lessons.

    grade  total  the class's own subjects (hours a week)
    1      19     äidinkieli 7, matematiikka 3, ympäristöoppi 2, englanti 1,
                  liikunta 2, uskonto 1, musiikki 1, kuvataide 1, käsityö 1
    2      20     as 1, käsityö 2
    3      22     äidinkieli 5, matematiikka 4, ympäristöoppi 3, englanti 2,
                  liikunta 3, uskonto 1, musiikki 1, kuvataide 1, käsityö 2
    4      23     as 3, kuvataide 2
    5      24     äidinkieli 4, matematiikka 4, ympäristöoppi 3, englanti 2,
                  historia 2, liikunta 3, uskonto 1, musiikki 2, kuvataide 1,
                  käsityö 2
    6      25     äidinkieli 4, matematiikka 4, ympäristöoppi 3, englanti 2,
                  ruotsi 2, historia 2, liikunta 3, uskonto 1, musiikki 1,
                  kuvataide 1, käsityö 2
    7      29     (25 + ruotsi 2 and one optional subject 2 in teaching groups)
                  äidinkieli 3, matematiikka 3, englanti 2, biologia 1,
                  maantieto 1, fysiikka 1, kemia 1, historia 2, liikunta 2,
                  terveystieto 1, uskonto 1, kotitalous 3, musiikki 2,
                  kuvataide 1, käsityö 1
    8      30     (24 + ruotsi 2 and two optional subjects 4)
                  äidinkieli 3, matematiikka 4, englanti 2, biologia 2,
                  maantieto 1, fysiikka 2, kemia 2, historia 2, liikunta 2,
                  terveystieto 1, uskonto 1, oppilaanohjaus 1, kuvataide 1
    9      30     (24 + ruotsi 2 and two optional subjects 4)
                  äidinkieli 3, matematiikka 4, englanti 2, biologia 1,
                  maantieto 2, fysiikka 2, kemia 2, yhteiskuntaoppi 2,
                  liikunta 2, terveystieto 1, uskonto 1, oppilaanohjaus 1,
                  musiikki 1

Religion is a class lesson; ethics learners attend their ethics group on top
of it (the roster has no religion groups).

Teachers, in this order, each at most `TEACHER_WEEK_CAP` (28) lessons a week:

1. teaching groups: their group teachers (least loaded first), else a teacher
   of that subject, else any teacher (least loaded);
2. classes of grades 1-6: the class teacher (of the class's group teachers the
   one with the fewest classes, then by id), then the class's other group
   teachers, then any teacher (least loaded);
3. classes of grades 7-9, subject by subject across the classes (the
   classes' first subjects first, then their second, …): a teacher of that
   subject, else a teacher who is no class teacher of grades 1-6, else anyone
   — the least loaded first, so a subject's classes go round-robin — with one
   subject of one class kept with one teacher when the teacher has room for
   all of it.

A lesson no teacher has room for is dropped (the least essential subjects of
grades 7-9 go first).

Upper secondary bars (palkit): course groups sharing a learner or a teacher
never share a bar (DSatur colouring, by id on ties); each bar's k-th lessons
run at the same time (`ActivitiesSameStartingTime`). If the bars' 3 lessons
each overflow the week's 40 slots, the bars with the fewest course groups get
one lesson fewer, in turn, until they fit.

Feasibility: the week has 40 slots. A teacher teaches at most 28 lessons (the
daily maximum 7 × 5 days is 35). Each subgroup's week fits its daily limit × 5
(basic education, Basic Education Decree 852/1998 §3: at most 5 lessons a day
in grades 1-2, 7 otherwise) or 40 slots; should a subgroup's groups still
exceed it, lessons of its largest group are dropped until it fits. Course
groups in bars cannot clash. Gyms: at least one per `GYM_WEEK_CAP` (28) PE
lessons and as many as PE groups share a bar.

Constraints
-----------
* `StudentsMaxGapsPerWeek(students=None, max_gaps=0)`, hard, in basic
  education: no free lessons between lessons (hyppytunnit). Upper secondary
  gets no student gap limit: FET and the solver take student gap limits only
  at weight 100, and course learners do have free lessons.
* `StudentsMaxHoursDaily` per class of basic education, hard: 5 in grades
  1-2, 7 otherwise.
* `MinDaysBetweenActivities(min_days=1, weight=95,
  consecutive_if_same_day=True)` for a group's lessons of one subject (two or
  more lessons): spread over the week, back to back when on one day.
* `TeacherMaxGapsPerDay(teacher=None, max_gaps=2)`, weight 50.
* `TeacherMaxHoursDaily(teacher=None, max_hours=7)`, hard.
* Rooms: the roster has none. Generic classrooms ("luokka 1 … N", N = classes
  + 3; Swedish "klassrum") and gyms ("liikuntasali", or "liikuntasali 1 … k";
  Swedish "gymnastiksal") with a hard `SubjectPreferredRooms` sending PE
  (liikunta / gymnastik) to the gyms. Other lessons need no room: an activity
  needs a room only when a room constraint applies to it.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from core.db import Connection
from core.errors import NotFound
from scheduling import model as m

# --- the week ---------------------------------------------------------------------

DAYS: Final = ("ma", "ti", "ke", "to", "pe")
#: (start, end) of the eight lesson slots; lunch 11:00-11:30 between 3 and 4
HOURS: Final = (
    ("08:15", "09:00"),
    ("09:15", "10:00"),
    ("10:15", "11:00"),
    ("11:30", "12:15"),
    ("12:30", "13:15"),
    ("13:30", "14:15"),
    ("14:30", "15:15"),
    ("15:30", "16:15"),
)

# --- the tables -------------------------------------------------------------------

#: lessons a week of a course group in upper secondary (or vocational) school
COURSE_LESSONS: Final = 3
#: a teacher's weekly maximum, in lessons
TEACHER_WEEK_CAP: Final = 28
#: lessons a week one gym space takes before another is added
GYM_WEEK_CAP: Final = 28
#: a teacher's daily maximum (hard)
TEACHER_DAY_MAX: Final = 7
#: generic classrooms beyond one per class
SPARE_CLASSROOMS: Final = 3

#: teaching groups of these subjects: 2 lessons a week
LANGUAGES: Final = frozenset(
    {
        "ruotsi", "suomi", "englanti", "saksa", "espanja", "ranska", "venäjä", "italia",
        "finska", "svenska", "engelska", "tyska", "spanska", "franska", "ryska", "italienska",
    }
)  # fmt: skip
#: teaching groups of these subjects: 1 lesson a week
ETHICS: Final = frozenset({"elämänkatsomustieto", "livsåskådningskunskap", "uskonto", "religion"})
#: two or more hours of these come as one double lesson and singles
DOUBLE_SUBJECTS: Final = frozenset(
    {
        "liikunta", "kuvataide", "käsityö", "kotitalous",
        "gymnastik", "bildkonst", "slöjd", "huslig ekonomi",
    }
)  # fmt: skip
#: physical education: taught in a gym
GYM_SUBJECTS: Final = frozenset({"liikunta", "gymnastik"})
#: weekly teaching-group hours of an optional (or any other) subject
OTHER_SUBJECT_LESSONS: Final = 2

#: a basic education class's week, all lessons included, by grade
WEEK_TOTAL: Final[dict[int, int]] = {1: 19, 2: 20, 3: 22, 4: 23, 5: 24, 6: 25, 7: 29, 8: 30, 9: 30}
#: lessons a day at most, by grade (Basic Education Decree 852/1998 §3)
DAY_MAX: Final[dict[int, int]] = {1: 5, 2: 5}
DAY_MAX_DEFAULT: Final = 7

#: a class's own subjects by grade, most essential first; in grades 7-9 the
#: second national language and the optional subjects are teaching groups
CLASS_SUBJECTS: Final[dict[int, tuple[tuple[str, int], ...]]] = {
    1: (
        ("äidinkieli", 7), ("matematiikka", 3), ("ympäristöoppi", 2), ("englanti", 1),
        ("liikunta", 2), ("uskonto", 1), ("musiikki", 1), ("kuvataide", 1), ("käsityö", 1),
    ),
    2: (
        ("äidinkieli", 7), ("matematiikka", 3), ("ympäristöoppi", 2), ("englanti", 1),
        ("liikunta", 2), ("uskonto", 1), ("musiikki", 1), ("kuvataide", 1), ("käsityö", 2),
    ),
    3: (
        ("äidinkieli", 5), ("matematiikka", 4), ("ympäristöoppi", 3), ("englanti", 2),
        ("liikunta", 3), ("uskonto", 1), ("musiikki", 1), ("kuvataide", 1), ("käsityö", 2),
    ),
    4: (
        ("äidinkieli", 5), ("matematiikka", 4), ("ympäristöoppi", 3), ("englanti", 2),
        ("liikunta", 3), ("uskonto", 1), ("musiikki", 1), ("kuvataide", 2), ("käsityö", 2),
    ),
    5: (
        ("äidinkieli", 4), ("matematiikka", 4), ("ympäristöoppi", 3), ("englanti", 2),
        ("historia", 2), ("liikunta", 3), ("uskonto", 1), ("musiikki", 2), ("kuvataide", 1),
        ("käsityö", 2),
    ),
    6: (
        ("äidinkieli", 4), ("matematiikka", 4), ("ympäristöoppi", 3), ("englanti", 2),
        ("ruotsi", 2), ("historia", 2), ("liikunta", 3), ("uskonto", 1), ("musiikki", 1),
        ("kuvataide", 1), ("käsityö", 2),
    ),
    7: (
        ("äidinkieli", 3), ("matematiikka", 3), ("englanti", 2), ("biologia", 1),
        ("maantieto", 1), ("fysiikka", 1), ("kemia", 1), ("historia", 2), ("liikunta", 2),
        ("terveystieto", 1), ("uskonto", 1), ("kotitalous", 3), ("musiikki", 2),
        ("kuvataide", 1), ("käsityö", 1),
    ),
    8: (
        ("äidinkieli", 3), ("matematiikka", 4), ("englanti", 2), ("biologia", 2),
        ("maantieto", 1), ("fysiikka", 2), ("kemia", 2), ("historia", 2), ("liikunta", 2),
        ("terveystieto", 1), ("uskonto", 1), ("oppilaanohjaus", 1), ("kuvataide", 1),
    ),
    9: (
        ("äidinkieli", 3), ("matematiikka", 4), ("englanti", 2), ("biologia", 1),
        ("maantieto", 2), ("fysiikka", 2), ("kemia", 2), ("yhteiskuntaoppi", 2),
        ("liikunta", 2), ("terveystieto", 1), ("uskonto", 1), ("oppilaanohjaus", 1),
        ("musiikki", 1),
    ),
}  # fmt: skip
#: subject names of a Swedish-language school
SWEDISH: Final[dict[str, str]] = {
    "äidinkieli": "modersmål", "matematiikka": "matematik", "ympäristöoppi": "omgivningslära",
    "englanti": "engelska", "ruotsi": "finska", "historia": "historia",
    "yhteiskuntaoppi": "samhällslära", "biologia": "biologi", "maantieto": "geografi",
    "fysiikka": "fysik", "kemia": "kemi", "terveystieto": "hälsokunskap",
    "uskonto": "religion", "musiikki": "musik", "kuvataide": "bildkonst", "käsityö": "slöjd",
    "kotitalous": "huslig ekonomi", "liikunta": "gymnastik",
    "oppilaanohjaus": "elevhandledning",
}  # fmt: skip

_COURSE_SCHOOLS: Final = frozenset({"upper_secondary", "vocational"})


# --- the roster, as read ----------------------------------------------------------


@dataclass(frozen=True)
class RosterGroup:
    id: str
    kind: str  # "class" | "teaching_group"
    grade: int | None
    subject: str | None
    learners: tuple[str, ...]
    teachers: tuple[str, ...]


@dataclass(frozen=True)
class RosterSnapshot:
    """What `build_instance` needs of one school's roster."""

    name: str
    kind: str
    language: str
    #: persons with role teacher at the school
    teachers: tuple[str, ...]
    groups: tuple[RosterGroup, ...]


async def load_snapshot(conn: Connection, school_id: UUID) -> RosterSnapshot:
    """One school's roster from the database (`conn`: a tenant transaction)."""
    school = await conn.fetchrow(
        "SELECT name, kind, language FROM schools WHERE id = $1", school_id
    )
    if school is None:
        raise NotFound("school not found")
    teachers = await conn.fetch(
        "SELECT person_id FROM person_roles WHERE school_id = $1 AND role = 'teacher'", school_id
    )
    groups = await conn.fetch(
        "SELECT id, kind, grade, subject FROM groups WHERE school_id = $1", school_id
    )
    learners = await conn.fetch(
        "SELECT gl.group_id, gl.learner_id FROM group_learners gl "
        "JOIN groups g ON g.tenant_id = gl.tenant_id AND g.id = gl.group_id "
        "WHERE g.school_id = $1",
        school_id,
    )
    group_teachers = await conn.fetch(
        "SELECT gt.group_id, gt.teacher_id FROM group_teachers gt "
        "JOIN groups g ON g.tenant_id = gt.tenant_id AND g.id = gt.group_id "
        "WHERE g.school_id = $1",
        school_id,
    )
    learners_of: dict[str, list[str]] = defaultdict(list)
    for r in learners:
        learners_of[str(r["group_id"])].append(str(r["learner_id"]))
    teachers_of: dict[str, list[str]] = defaultdict(list)
    for r in group_teachers:
        teachers_of[str(r["group_id"])].append(str(r["teacher_id"]))
    return RosterSnapshot(
        name=school["name"],
        kind=school["kind"],
        language=school["language"],
        teachers=tuple(sorted(str(r["person_id"]) for r in teachers)),
        groups=tuple(
            sorted(
                (
                    RosterGroup(
                        id=str(g["id"]),
                        kind=g["kind"],
                        grade=g["grade"],
                        subject=g["subject"],
                        learners=tuple(sorted(learners_of[str(g["id"])])),
                        teachers=tuple(sorted(teachers_of[str(g["id"])])),
                    )
                    for g in groups
                ),
                key=lambda g: g.id,
            )
        ),
    )


async def instance_from_roster(
    conn: Connection, school_id: UUID, *, name: str | None = None
) -> m.Instance:
    """The school's timetabling problem for a period, from its roster (`conn`:
    a tenant transaction). Raises `NotFound` for a school the tenant lacks."""
    return build_instance(await load_snapshot(conn, school_id), name=name)


# --- building -----------------------------------------------------------------------


@dataclass
class _Lesson:
    group: str
    subject: str
    duration: int
    teacher: str | None = None


@dataclass
class _Staff:
    """Who teaches, what, and how much so far."""

    subjects: dict[str, set[str]]
    load: dict[str, int] = field(default_factory=dict)

    def room(self, t: str) -> int:
        return TEACHER_WEEK_CAP - self.load.get(t, 0)

    def give(self, t: str, xs: Iterable[_Lesson]) -> None:
        for x in xs:
            x.teacher = t
            self.load[t] = self.load.get(t, 0) + x.duration

    def pick(self, hours: int, *tiers: Iterable[str]) -> str | None:
        """The least loaded teacher with room for `hours` of the first tier
        that has one (ties by id)."""
        for tier in tiers:
            fits = [t for t in tier if self.room(t) >= hours]
            if fits:
                return min(fits, key=lambda t: (self.load.get(t, 0), t))
        return None

    def assign(self, xs: Iterable[_Lesson], *tiers: Sequence[str]) -> None:
        """Each lesson to the least loaded teacher of the first tier with room."""
        for x in xs:
            t = self.pick(x.duration, *tiers)
            if t is not None:
                self.give(t, [x])


@dataclass
class _Subgroups:
    """Learners with the same memberships, as patterns (sorted group ids)."""

    of_learner: dict[str, tuple[str, ...]]
    size: Counter[tuple[str, ...]]
    names: dict[tuple[str, ...], str]
    #: group id -> names of the subgroups containing it
    of_group: dict[str, list[str]]

    @classmethod
    def of(cls, groups: Iterable[RosterGroup]) -> _Subgroups:
        memberships: dict[str, list[str]] = defaultdict(list)
        for g in groups:
            for learner in g.learners:
                memberships[learner].append(g.id)
        of_learner = {learner: tuple(sorted(gs)) for learner, gs in memberships.items()}
        size = Counter(of_learner.values())
        names = {p: subgroup_name(p) for p in sorted(size, key=subgroup_name)}
        if len(set(names.values())) != len(names):  # pragma: no cover - 40-bit hash
            raise RuntimeError("subgroup name collision")
        of_group: dict[str, list[str]] = defaultdict(list)
        for p, name in names.items():
            for gid in p:
                of_group[gid].append(name)
        return cls(of_learner, size, names, of_group)


def subgroup_name(groups: Sequence[str]) -> str:
    """The subgroup of the learners who are in exactly these groups."""
    digest = hashlib.blake2b(",".join(sorted(groups)).encode(), digest_size=5).hexdigest()
    return f"sg-{digest}"


def _parts(subject: str, hours: int) -> list[int]:
    if hours <= 0:
        return []
    if subject in DOUBLE_SUBJECTS and hours >= 2:
        return [2] + [1] * (hours - 2)
    return [1] * hours


def _group_hours(subject: str | None, courses: bool) -> int:
    if courses:
        return COURSE_LESSONS
    if subject in LANGUAGES:
        return 2
    if subject in ETHICS:
        return 1
    return OTHER_SUBJECT_LESSONS


def _split(grade: int, hours: int, swedish: bool) -> list[tuple[str, int]]:
    """`hours` of a class of `grade` split into its subjects."""
    subjects = [s for s, _ in CLASS_SUBJECTS[grade]]
    counts = [h for _, h in CLASS_SUBJECTS[grade]]
    total = sum(counts)
    i = len(counts) - 1
    while total > hours:
        if counts[i] > 0:
            counts[i] -= 1
            total -= 1
        i = i - 1 if i > 0 else len(counts) - 1
    i = 0
    while total < hours:
        counts[i] += 1
        total += 1
        i = (i + 1) % 3
    names = [SWEDISH.get(s, s) for s in subjects] if swedish else subjects
    return list(zip(names, counts, strict=True))


def _basic_grade(g: RosterGroup) -> int | None:
    """The grade of a basic education class, else None."""
    return g.grade if g.kind == "class" and g.grade in WEEK_TOTAL else None


class _Plan:
    """The lessons of one school's week, step by step (see the module docstring)."""

    def __init__(self, roster: RosterSnapshot) -> None:
        self.courses = roster.kind in _COURSE_SCHOOLS
        self.swedish = roster.language == "sv"
        self.groups = [g for g in roster.groups if g.learners]
        self.by_id = {g.id: g for g in roster.groups}
        self.sub = _Subgroups.of(roster.groups)
        self.lessons: dict[str, list[_Lesson]] = {}
        named = {t for g in self.groups for t in g.teachers}
        self.teacher_ids = sorted(set(roster.teachers) | named)
        subjects: dict[str, set[str]] = defaultdict(set)
        for g in self.groups:
            if g.kind == "teaching_group" and g.subject:
                for t in g.teachers:
                    subjects[t].add(g.subject)
        self.staff = _Staff(subjects)
        #: upper secondary: sets of course groups that run at the same time
        self.bars: list[list[str]] = []

    def hours(self, gid: str) -> int:
        return sum(x.duration for x in self.lessons.get(gid, ()))

    def day_max(self, gid: str) -> int:
        grade = _basic_grade(self.by_id[gid])
        return DAY_MAX.get(grade, DAY_MAX_DEFAULT) if grade is not None else len(HOURS)

    def week_cap(self, pattern: Sequence[str]) -> int:
        return len(DAYS) * min((self.day_max(gid) for gid in pattern), default=len(HOURS))

    def build(self) -> None:
        self.teaching_groups()
        if not self.courses:
            self.classes()
        self.fit_subgroups()
        self.assign_teachers()
        if self.courses:
            self.course_bars()

    def teaching_groups(self) -> None:
        for g in self.groups:
            if g.kind == "teaching_group":
                subject = g.subject or "opetus"
                hours = _group_hours(g.subject, self.courses)
                parts = [1] * hours if self.courses else _parts(subject, hours)
                self.lessons[g.id] = [_Lesson(g.id, subject, d) for d in parts]

    def classes(self) -> None:
        of_learner = self.sub.of_learner
        for g in self.groups:
            grade = _basic_grade(g)
            if grade is None:
                continue
            extras = sorted(
                sum(self.hours(x) for x in of_learner[learner] if self.by_id[x].kind != "class")
                for learner in g.learners
            )
            typical = extras[(len(extras) - 1) // 2]
            room = min(
                self.week_cap(of_learner[learner])
                - sum(self.hours(x) for x in of_learner[learner] if x != g.id)
                for learner in g.learners
            )
            hours = max(0, min(WEEK_TOTAL[grade] - typical, room))
            self.lessons[g.id] = [
                _Lesson(g.id, subject, d)
                for subject, h in _split(grade, hours, self.swedish)
                for d in _parts(subject, h)
            ]

    def fit_subgroups(self) -> None:
        """Drop lessons of a subgroup's largest group while its week overflows."""
        for p in self.sub.names:
            while sum(self.hours(gid) for gid in p) > self.week_cap(p):
                biggest = max(p, key=lambda gid: (self.hours(gid), gid))
                own = self.lessons[biggest]
                singles = [i for i, x in enumerate(own) if x.duration == 1]
                del own[singles[-1] if singles else len(own) - 1]

    def assign_teachers(self) -> None:
        staff, ids = self.staff, self.teacher_ids
        qualified: dict[str, list[str]] = defaultdict(list)
        for t in ids:
            for s in staff.subjects.get(t, ()):
                qualified[s].append(t)
        classes_taught = Counter(t for g in self.groups if g.kind == "class" for t in g.teachers)
        primary = {t for g in self.groups if (_basic_grade(g) or 10) <= 6 for t in g.teachers}
        # 1. teaching groups
        for g in self.groups:
            if g.kind == "teaching_group":
                staff.assign(self.lessons[g.id], g.teachers, qualified[g.subject or ""], ids)
        # 2. grades 1-6: the class teacher, the other group teachers, anyone
        for g in self.groups:
            grade = _basic_grade(g)
            if grade is None or grade > 6:
                continue
            for t in sorted(g.teachers, key=lambda t: (classes_taught[t], t)):
                for x in self.lessons[g.id]:
                    if x.teacher is None and staff.room(t) >= x.duration:
                        staff.give(t, [x])
            staff.assign([x for x in self.lessons[g.id] if x.teacher is None], ids)
        # 3. grades 7-9: subject by subject across the classes, most essential
        # first, so that what no teacher has room for is the least essential
        subject_teachers = [t for t in ids if t not in primary]
        todo: list[tuple[int, str, str, list[_Lesson]]] = []
        for g in self.groups:
            grade = _basic_grade(g)
            if grade is None or grade <= 6:
                continue
            by_subject: dict[str, list[_Lesson]] = defaultdict(list)
            for x in self.lessons[g.id]:
                by_subject[x.subject].append(x)
            for rank, (subject, xs) in enumerate(by_subject.items()):
                todo.append((rank, g.id, subject, xs))
        for _, _, subject, xs in sorted(todo, key=lambda u: (u[0], u[1])):
            tiers = (qualified[subject], subject_teachers, ids)
            whole = staff.pick(sum(x.duration for x in xs), *tiers)
            if whole is not None:
                staff.give(whole, xs)
            else:
                staff.assign(xs, *tiers)
        for xs in self.lessons.values():
            xs[:] = [x for x in xs if x.teacher is not None]

    def course_bars(self) -> None:
        """Course groups into bars: groups sharing a learner or a teacher never
        share a bar (DSatur colouring: the group with the most bars among its
        conflicts first, then the most conflicts, then by id). A bar's lessons
        run at the same time. If 3 lessons a bar overflow the week, the bars
        with the fewest groups (the last first) get one lesson fewer, in turn."""
        members = {gid: set(self.by_id[gid].learners) for gid in self.lessons}
        teachers = {gid: {x.teacher for x in xs} for gid, xs in self.lessons.items()}
        course_ids = sorted(gid for gid, xs in self.lessons.items() if xs)
        conflicts: dict[str, set[str]] = {gid: set() for gid in course_ids}
        for i, a in enumerate(course_ids):
            for b in course_ids[i + 1 :]:
                if members[a] & members[b] or teachers[a] & teachers[b]:
                    conflicts[a].add(b)
                    conflicts[b].add(a)
        bar_of: dict[str, int] = {}
        for _ in course_ids:
            gid = min(
                (g for g in course_ids if g not in bar_of),
                key=lambda g: (
                    -len({bar_of[n] for n in conflicts[g] if n in bar_of}),
                    -len(conflicts[g]),
                    g,
                ),
            )
            taken = {bar_of[n] for n in conflicts[gid] if n in bar_of}
            bar_of[gid] = next(b for b in range(len(course_ids)) if b not in taken)
        self.bars = [[] for _ in range(1 + max(bar_of.values(), default=-1))]
        for gid in course_ids:
            self.bars[bar_of[gid]].append(gid)
        per_bar = [min(len(self.lessons[gid]) for gid in bar) for bar in self.bars]
        slots = len(DAYS) * len(HOURS)
        while sum(per_bar) > slots:
            most = max(per_bar)
            i = max(
                (i for i, n in enumerate(per_bar) if n == most),
                key=lambda i: (-len(self.bars[i]), i),
            )
            per_bar[i] -= 1
        for bar, n in zip(self.bars, per_bar, strict=True):
            for gid in bar:
                del self.lessons[gid][n:]
        self.bars = [bar for bar, n in zip(self.bars, per_bar, strict=True) if n > 0]


def build_instance(roster: RosterSnapshot, *, name: str | None = None) -> m.Instance:
    """The timetabling problem of `roster`'s school (rules: module docstring)."""
    plan = _Plan(roster)
    plan.build()
    activities: list[m.Activity] = []
    constraints: list[m.Constraint] = []
    ids_of: dict[str, list[int]] = defaultdict(list)
    for g in plan.groups:
        by_subject: dict[str, list[_Lesson]] = defaultdict(list)
        for x in plan.lessons.get(g.id, ()):
            by_subject[x.subject].append(x)
        for subject, xs in by_subject.items():
            first = len(activities) + 1
            ids = list(range(first, first + len(xs)))
            total = sum(x.duration for x in xs)
            for aid, x in zip(ids, xs, strict=True):
                assert x.teacher is not None
                activities.append(
                    m.Activity(
                        id=aid,
                        subject=subject,
                        teachers=(x.teacher,),
                        students=(g.id,),
                        duration=x.duration,
                        group_id=first if len(xs) > 1 else 0,
                        total_duration=total,
                    )
                )
            ids_of[g.id] += ids
            if len(xs) > 1:
                constraints.append(
                    m.MinDaysBetweenActivities(
                        activities=tuple(ids), min_days=1, consecutive_if_same_day=True, weight=95.0
                    )
                )
    for bar in plan.bars:
        for k in range(max(len(ids_of[gid]) for gid in bar)):
            together = tuple(ids_of[gid][k] for gid in bar if k < len(ids_of[gid]))
            if len(together) > 1:
                constraints.append(m.ActivitiesSameStartingTime(activities=together))

    # rooms
    swedish = plan.swedish
    classes = [g for g in roster.groups if g.kind == "class"]
    room_word, gym_word = ("klassrum", "gymnastiksal") if swedish else ("luokka", "liikuntasali")
    rooms = [
        m.Room(name=f"{room_word} {i}", kind="classroom")
        for i in range(1, len(classes) + SPARE_CLASSROOMS + 1)
    ]
    gym_subjects = sorted({a.subject for a in activities if a.subject in GYM_SUBJECTS})
    gym_hours = sum(a.duration for a in activities if a.subject in GYM_SUBJECTS)
    in_one_bar = max(
        (
            sum(1 for gid in bar for x in plan.lessons[gid][:1] if x.subject in GYM_SUBJECTS)
            for bar in plan.bars
        ),
        default=0,
    )
    n_gyms = max(1, math.ceil(gym_hours / GYM_WEEK_CAP), in_one_bar)
    gyms = [gym_word] if n_gyms == 1 else [f"{gym_word} {i}" for i in range(1, n_gyms + 1)]
    rooms += [m.Room(name=r, kind="gym") for r in gyms]
    for subject in gym_subjects:
        constraints.append(m.SubjectPreferredRooms(subject=subject, rooms=tuple(gyms)))

    # the week's rules
    if not plan.courses:
        constraints.append(m.StudentsMaxGapsPerWeek(students=None, max_gaps=0))
        for g in plan.groups:
            if _basic_grade(g) is not None and plan.lessons.get(g.id):
                constraints.append(
                    m.StudentsMaxHoursDaily(students=g.id, max_hours=plan.day_max(g.id))
                )
    constraints.append(m.TeacherMaxGapsPerDay(teacher=None, max_gaps=2, weight=50.0))
    constraints.append(m.TeacherMaxHoursDaily(teacher=None, max_hours=TEACHER_DAY_MAX))

    sub = plan.sub
    students = [
        m.StudentsSet(
            name=g.id,
            kind="group",
            students=len(g.learners),
            subgroups=tuple(sorted(sub.of_group[g.id])),
        )
        for g in roster.groups
    ]
    students += [
        m.StudentsSet(name=sg, kind="subgroup", students=sub.size[p], subgroups=(sg,))
        for p, sg in sub.names.items()
    ]
    return m.Instance(
        name=name or roster.name,
        days=tuple(m.Day(name=d) for d in DAYS),
        hours=tuple(
            m.Hour(name=str(i), start=start, end=end) for i, (start, end) in enumerate(HOURS, 1)
        ),
        subjects=tuple(m.Subject(name=s) for s in sorted({a.subject for a in activities})),
        teachers=tuple(
            m.Teacher(name=t, subjects=tuple(sorted(plan.staff.subjects.get(t, ()))))
            for t in plan.teacher_ids
        ),
        rooms=tuple(rooms),
        students=tuple(students),
        activities=tuple(activities),
        constraints=tuple(constraints),
    )
