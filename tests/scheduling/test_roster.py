"""The timetabling problem built from a school's roster (`scheduling.roster`)."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from datetime import date
from uuid import UUID, uuid4

import msgspec
import pytest

from core import actions
from core.db import Database
from core.errors import NotFound
from core.seed import TenantSpec
from scheduling import model as m
from scheduling import roster
from scheduling.roster import instance_from_roster

#: a tenant with a small comprehensive school and a small upper secondary school
UPPER = TenantSpec(slug="lukiola", name="Lukiolan kunta", kind="municipality")


class School(msgspec.Struct):
    instance: m.Instance
    #: group id -> learner ids
    learners: dict[str, set[str]]
    #: group id -> kind
    kinds: dict[str, str]
    grades: dict[str, int | None]
    teachers: set[str]
    #: every given and family name and learner id of the tenant
    names: set[str]
    learner_ids: set[str]


async def _school(db: Database, tenant: UUID, kind: str) -> School:
    async with db.tenant(tenant) as conn:
        school_id = await conn.fetchval(
            "SELECT id FROM schools WHERE kind = $1 ORDER BY external_id LIMIT 1", kind
        )
        assert school_id is not None
        instance = await instance_from_roster(conn, school_id)
        groups = await conn.fetch(
            "SELECT id, kind, grade FROM groups WHERE school_id = $1", school_id
        )
        members = await conn.fetch(
            "SELECT gl.group_id, gl.learner_id FROM group_learners gl "
            "JOIN groups g ON g.id = gl.group_id WHERE g.school_id = $1",
            school_id,
        )
        teachers = await conn.fetch(
            "SELECT person_id FROM person_roles WHERE school_id = $1 AND role = 'teacher'",
            school_id,
        )
        people = await conn.fetch("SELECT given_name, family_name FROM persons")
        learner_ids = await conn.fetch("SELECT person_id FROM person_roles WHERE role = 'learner'")
    learners: dict[str, set[str]] = {str(g["id"]): set() for g in groups}
    for r in members:
        learners[str(r["group_id"])].add(str(r["learner_id"]))
    names = {w for p in people for n in p for w in re.findall(r"[^\W\d_]+", n)}
    return School(
        instance=instance,
        learners=learners,
        kinds={str(g["id"]): g["kind"] for g in groups},
        grades={str(g["id"]): g["grade"] for g in groups},
        teachers={str(r["person_id"]) for r in teachers},
        names=names,
        learner_ids={str(r["person_id"]) for r in learner_ids},
    )


@pytest.fixture(scope="module")
async def comprehensive(db: Database, demo: object) -> School:
    """The small demo tenant's comprehensive school."""
    return await _school(db, actions.tenant_id_for("kuusikko"), "comprehensive")


@pytest.fixture(scope="module")
async def upper_secondary(db: Database) -> School:
    """A small upper secondary school, made by the demo generator."""
    from core.seed import DEFAULT_SEED, _Builder
    from core.seed.spec import _PROFILES

    profile = msgspec.structs.replace(
        _PROFILES["small"], comprehensive_learners=40, finnish_upper=1, upper_learners=90
    )
    doc = _Builder(UPPER, profile, DEFAULT_SEED, date(2026, 11, 24)).build()
    tenant = await actions.ensure_tenant(db, UPPER.slug, UPPER.name, UPPER.kind)
    await actions.import_roster(db, tenant, doc)
    return await _school(db, tenant, "upper_secondary")


def _weekly(instance: m.Instance) -> tuple[Counter[str], Counter[str]]:
    """Lessons a week per teacher and per subgroup."""
    teachers: Counter[str] = Counter()
    subgroups: Counter[str] = Counter()
    for a in instance.activities:
        for t in a.teachers:
            teachers[t] += a.duration
        for sg in {sg for s in a.students for sg in instance.subgroups_of(s)}:
            subgroups[sg] += a.duration
    return teachers, subgroups


def _assert_structure(school: School) -> None:
    inst = school.instance
    assert [d.name for d in inst.days] == ["ma", "ti", "ke", "to", "pe"]
    assert len(inst.hours) == 8 and all(h.start and h.end for h in inst.hours)
    assert inst.hours[0].start == "08:15" and inst.hours[0].end == "09:00"

    sets = {s.name: s for s in inst.students}
    assert set(school.learners) <= set(sets)
    subgroups = {s.name: s for s in inst.students if s.kind == "subgroup"}
    assert all(s.subgroups == (s.name,) for s in subgroups.values())
    # subgroups partition the school's learners
    everyone = set().union(*school.learners.values())
    assert sum(s.students for s in subgroups.values()) == len(everyone)
    for gid, members in school.learners.items():
        s = sets[gid]
        assert s.kind == "group" and s.students == len(members)
        assert set(s.subgroups) <= set(subgroups)
        assert sum(subgroups[sg].students for sg in s.subgroups) == len(members)
    # two groups clash exactly when they share a learner
    shared = disjoint = 0
    for a, b in itertools.combinations(sorted(school.learners), 2):
        share = bool(school.learners[a] & school.learners[b])
        assert share == bool(set(sets[a].subgroups) & set(sets[b].subgroups)), (a, b)
        shared += share
        disjoint += not share
    assert shared and disjoint

    # every activity's teachers and students exist; ids are unique
    teachers = {t.name for t in inst.teachers}
    assert school.teachers <= teachers
    assert len({a.id for a in inst.activities}) == len(inst.activities)
    for a in inst.activities:
        assert a.teachers and set(a.teachers) <= teachers
        assert a.students and all(s in school.learners for s in a.students)
        assert 1 <= a.duration <= 2
    subjects = {s.name for s in inst.subjects}
    assert {a.subject for a in inst.activities} == subjects
    rooms = {r.name for r in inst.rooms}
    for c in inst.constraints:
        if isinstance(c, m.SubjectPreferredRooms):
            assert c.subject in subjects and set(c.rooms) <= rooms

    # the week fits everyone
    by_teacher, by_subgroup = _weekly(inst)
    assert max(by_teacher.values()) <= roster.TEACHER_WEEK_CAP <= 40
    assert max(by_subgroup.values()) <= 40

    # no names, no learner ids
    text = msgspec.json.encode(inst).decode()
    words = set(re.findall(r"[^\W\d_]+", text))
    assert not words & school.names, words & school.names
    assert not any(learner in text for learner in school.learner_ids)


async def test_comprehensive_school(comprehensive: School) -> None:
    """The demo comprehensive school: groups, subgroups, lessons and rules."""
    _assert_structure(comprehensive)
    inst = comprehensive.instance
    assert inst.name == "Kuusikon koulu"
    hours: Counter[str] = Counter()
    for a in inst.activities:
        [gid] = a.students
        hours[gid] += a.duration
    for gid, kind in comprehensive.kinds.items():
        grade = comprehensive.grades[gid]
        if kind == "class":
            assert grade is not None
            total = roster.WEEK_TOTAL[grade]
            if grade <= 6:
                assert hours[gid] == total, gid  # the roster has room for all of it
            else:
                assert total - 8 <= hours[gid] <= total - 2, gid
        else:
            assert 1 <= hours[gid] <= 3
    _, by_subgroup = _weekly(inst)
    day_max = {c.students: c.max_hours for c in inst.constraints
               if isinstance(c, m.StudentsMaxHoursDaily)}  # fmt: skip
    sets = {s.name: s for s in inst.students}
    for gid, limit in day_max.items():
        assert all(by_subgroup[sg] <= 5 * limit for sg in sets[gid].subgroups)
    doubles = [a for a in inst.activities if a.duration == 2]
    assert doubles and {a.subject for a in doubles} <= roster.DOUBLE_SUBJECTS
    kinds = Counter(type(c).__name__ for c in inst.constraints)
    assert kinds["StudentsMaxGapsPerWeek"] == 1 and kinds["TeacherMaxHoursDaily"] == 1
    assert kinds["MinDaysBetweenActivities"] > 50 and kinds["SubjectPreferredRooms"] == 1
    [gaps] = [c for c in inst.constraints if isinstance(c, m.StudentsMaxGapsPerWeek)]
    assert (gaps.students, gaps.max_gaps, gaps.weight) == (None, 0, m.HARD)
    gyms = {r.name for r in inst.rooms if r.kind == "gym"}
    assert gyms and all(g.startswith("liikuntasali") for g in gyms)
    [pe] = [c for c in inst.constraints if isinstance(c, m.SubjectPreferredRooms)]
    assert (pe.subject, set(pe.rooms)) == ("liikunta", gyms)


async def test_same_roster_same_instance(db: Database, comprehensive: School) -> None:
    """Building again gives the same bytes; `name` names the instance."""
    async with db.tenant(actions.tenant_id_for("kuusikko")) as conn:
        school_id = await conn.fetchval("SELECT id FROM schools WHERE kind = 'comprehensive'")
        again = await instance_from_roster(conn, school_id)
        named = await instance_from_roster(conn, school_id, name="syksy 2026")
    assert msgspec.json.encode(again) == msgspec.json.encode(comprehensive.instance)
    assert named.name == "syksy 2026"


async def test_upper_secondary_school(upper_secondary: School) -> None:
    """Course groups run in bars: no shared learner or teacher in one bar."""
    _assert_structure(upper_secondary)
    inst = upper_secondary.instance
    by_id = {a.id: a for a in inst.activities}
    for a in inst.activities:
        [gid] = a.students
        assert upper_secondary.kinds[gid] == "teaching_group"
    per_group = Counter(a.students[0] for a in inst.activities)
    assert set(per_group.values()) <= {1, 2, 3} and 3 in per_group.values()
    bars = [c for c in inst.constraints if isinstance(c, m.ActivitiesSameStartingTime)]
    assert bars
    for bar in bars:
        acts = [by_id[i] for i in bar.activities]
        teachers = [t for a in acts for t in a.teachers]
        assert len(set(teachers)) == len(teachers)
        subs = [sg for a in acts for sg in inst.subgroups_of(a.students[0])]
        assert len(set(subs)) == len(subs)
    assert not any(isinstance(c, m.StudentsMaxGapsPerWeek) for c in inst.constraints)


async def test_unknown_school(db: Database, demo: object) -> None:
    async with db.tenant(actions.tenant_id_for("kuusikko")) as conn:
        with pytest.raises(NotFound):
            await instance_from_roster(conn, uuid4())


def test_tables_add_up() -> None:
    """Grades 1-6: the class table is the week; 7-9 leave room for the
    second national language and the optional subjects."""
    nominal_groups = {7: 4, 8: 6, 9: 6}
    for grade, table in roster.CLASS_SUBJECTS.items():
        total = sum(h for _, h in table)
        assert total == roster.WEEK_TOTAL[grade] - nominal_groups.get(grade, 0), grade
        assert len({s for s, _ in table}) == len(table)
    assert all(s in roster.SWEDISH for t in roster.CLASS_SUBJECTS.values() for s, _ in t)


def _solve_and_check(instance: m.Instance) -> None:
    try:
        from scheduling.checker import check
        from scheduling.solver import solve
    except ImportError as exc:  # pragma: no cover - while the solver is being written
        pytest.skip(f"scheduling.solver / scheduling.checker not importable yet: {exc}")
    started = time.perf_counter()
    # one worker: deterministic, and on these instances faster to a first
    # timetable than CP-SAT's multi-worker portfolio
    # a bound, not a speed target: it stops at its first complete timetable
    # (the demo school: 61.6 s alone on the slower machine of 2026-11-30 —
    # the swapping's first turn 12 s, CP-SAT's proof that its spreads cannot
    # all hold 15 s, the search for the ones to blame cut at half the limit,
    # then the relaxed search; a longer limit would give that search more
    # time, as its share of the limit), the rest is room for a busy machine
    result = solve(instance, time_limit_s=90.0, seed=0, workers=1, improve_s=0.0)
    assert result.timetable is not None, (result.status, time.perf_counter() - started)
    report = check(instance, result.timetable)
    assert report.complete and report.hard == 0, report.violations[:5]


@pytest.mark.slow
def test_comprehensive_school_solves(comprehensive: School) -> None:
    """CP-SAT finds a timetable for the demo school that the checker passes."""
    _solve_and_check(comprehensive.instance)


def test_upper_secondary_school_solves(upper_secondary: School) -> None:
    _solve_and_check(upper_secondary.instance)
