"""The demo roster generator: deterministic, valid, and as realistic as promised."""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from datetime import date

import msgspec
import pytest

from core import roster
from core.model import STAFF_ROLES, RosterDocument, RosterPerson
from core.seed import (
    DEFAULT_SEED,
    DEMO_TENANT,
    SECOND_TENANT,
    SizeName,
    TenantSpec,
    _fold,
    demo_logins,
    generate,
)

TODAY = date(2026, 3, 2)
AUTUMN = date(2026, 11, 24)


@functools.cache
def _doc(tenant: TenantSpec, size: SizeName = "small", today: date = TODAY) -> RosterDocument:
    return generate(tenant, size, today=today)


def _with_role(doc: RosterDocument, *roles: str) -> list[RosterPerson]:
    return [p for p in doc.persons if any(r.role in roles for r in p.roles)]


def _age(born: date | None, on: date = TODAY) -> int:
    assert born is not None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _first_school_7b(doc: RosterDocument) -> list[str]:
    first = doc.schools[0].id
    [group] = [g for g in doc.groups if g.school == first and g.kind == "class" and g.name == "7B"]
    return group.teachers


def _assert_integrity(doc: RosterDocument, slug: str) -> None:
    schools = {s.id for s in doc.schools}
    persons = {p.id: p for p in doc.persons}
    assert len(schools) == len(doc.schools)
    assert len(persons) == len(doc.persons)
    assert len({g.id for g in doc.groups}) == len(doc.groups)
    usernames = [p.username for p in doc.persons]
    assert None not in usernames and len(set(usernames)) == len(usernames)
    assert all(u is not None and u.endswith(f"@{slug}") for u in usernames)
    assert all(s.startswith("sch-") for s in schools)
    assert all(p.startswith("p-") for p in persons)
    assert all(g.id.startswith("g-") for g in doc.groups)
    roles = {pid: {r.role for r in p.roles} for pid, p in persons.items()}
    for p in doc.persons:
        assert p.roles and all(r.school in schools for r in p.roles)
        assert len({(r.school, r.role) for r in p.roles}) == len(p.roles)
    for g in doc.groups:
        assert g.school in schools
        assert g.teachers, g.name
        assert all("learner" in roles[pid] for pid in g.learners)
        assert all(roles[pid] & STAFF_ROLES for pid in g.teachers)
        assert len(set(g.learners)) == len(g.learners)
        assert len(set(g.teachers)) == len(g.teachers)
        if g.kind == "class":
            assert g.grade is not None and g.learners
    pairs = [(gs.guardian, gs.learner) for gs in doc.guardianships]
    assert len(set(pairs)) == len(pairs)
    for gs in doc.guardianships:
        assert "guardian" in roles[gs.guardian] and "learner" in roles[gs.learner]
        child_schools = {r.school for r in persons[gs.learner].roles if r.role == "learner"}
        guardian_schools = {r.school for r in persons[gs.guardian].roles if r.role == "guardian"}
        assert child_schools <= guardian_schools
    assert roster.check(doc, tenant_slug=slug) == []


def _assert_round_trip(doc: RosterDocument) -> None:
    again = msgspec.convert(msgspec.to_builtins(doc), RosterDocument)
    assert msgspec.json.encode(again) == msgspec.json.encode(doc)
    decoded = msgspec.json.decode(msgspec.json.encode(doc), type=RosterDocument)
    assert decoded == doc


def _assert_guardians(doc: RosterDocument) -> None:
    by_learner: dict[str, list[str]] = defaultdict(list)
    for gs in doc.guardianships:
        by_learner[gs.learner].append(gs.kind)
    learners = _with_role(doc, "learner")
    assert {p.id for p in learners} == set(by_learner)
    for kinds in by_learner.values():
        assert 1 <= len(kinds) <= 2 and "custodial" in kinds
    two = sum(1 for kinds in by_learner.values() if len(kinds) == 2)
    assert 0.75 <= two / len(learners) <= 0.92
    info = sum(1 for gs in doc.guardianships if gs.kind == "information_right")
    assert 0.01 <= info / len(doc.guardianships) <= 0.05


def test_same_arguments_same_document() -> None:
    """The same tenant, size, seed and day give byte-identical documents."""
    one = msgspec.json.encode(generate(DEMO_TENANT, "small", seed=DEFAULT_SEED, today=TODAY))
    two = msgspec.json.encode(generate(DEMO_TENANT, "small", seed=DEFAULT_SEED, today=TODAY))
    assert one == two
    other = msgspec.json.encode(generate(DEMO_TENANT, "small", seed=7, today=TODAY))
    assert other != one


def test_today_moves_birth_dates_not_people() -> None:
    """Another day changes birth dates, never ids, names or usernames."""
    spring, autumn = _doc(DEMO_TENANT), _doc(DEMO_TENANT, today=AUTUMN)
    assert [(p.id, p.given_name, p.family_name, p.username) for p in spring.persons] == [
        (p.id, p.given_name, p.family_name, p.username) for p in autumn.persons
    ]
    assert [p.birth_date for p in spring.persons] != [p.birth_date for p in autumn.persons]


def test_small_counts() -> None:
    """The small size is one comprehensive school of about 200 learners."""
    doc = _doc(DEMO_TENANT)
    [school] = doc.schools
    assert (school.id, school.name, school.kind, school.language) == (
        "sch-kuusikko-1", "Kuusikon koulu", "comprehensive", "fi",
    )  # fmt: skip
    assert 180 <= len(_with_role(doc, "learner")) <= 220
    assert 315 <= len(_with_role(doc, "guardian")) <= 385
    assert 17 <= len(_with_role(doc, *STAFF_ROLES)) <= 24
    assert len(_with_role(doc, "principal")) == 1
    assert 1 <= len(_with_role(doc, "secretary")) <= 2
    assert 1 <= len(_with_role(doc, "staff")) <= 2
    assert 14 <= len(_with_role(doc, "teacher")) <= 20
    per_grade = Counter(g.grade or 0 for g in doc.groups if g.kind == "class")
    assert sorted(per_grade) == list(range(1, 10))
    assert set(per_grade.values()) == {2, 3}


@pytest.mark.parametrize("tenant", [DEMO_TENANT, SECOND_TENANT], ids=lambda t: t.slug)
def test_small_documents_are_valid(tenant: TenantSpec) -> None:
    """A small document survives validation and every reference resolves."""
    doc = _doc(tenant)
    _assert_round_trip(doc)
    _assert_integrity(doc, tenant.slug)
    _assert_guardians(doc)


def test_contact_details_fit() -> None:
    """Emails use example domains, phones are Finnish mobiles, homes are in the city."""
    doc = _doc(DEMO_TENANT)
    for p in doc.persons:
        if p.email is not None:
            assert re.fullmatch(r"[a-z0-9.-]+@([a-z]+\.)*example\.(fi|com|net|org)", p.email)
        if p.phone is not None:
            assert re.fullmatch(r"\+358 (40|41|44|45|50) \d{3} \d{4}", p.phone)
        if p.address is not None:
            assert p.address.municipality == "Kuusikko"
            assert p.address.street and re.fullmatch(r"\d{5}", p.address.postal_code or "")
    for p in _with_role(doc, "guardian", "learner"):
        assert p.address is not None
    for p in _with_role(doc, "learner"):
        if _age(p.birth_date) < 13:
            assert p.email is None
    assert all(p.email for p in _with_role(doc, "principal", "secretary"))


def test_ages_fit_grades() -> None:
    """A learner in grade g is about g + 6 years old; a school year starts in August."""
    doc = _doc(DEMO_TENANT)
    persons = {p.id: p for p in doc.persons}
    ages: Counter[int] = Counter()
    for g in doc.groups:
        if g.kind == "class":
            assert g.grade is not None
            for pid in g.learners:
                age = _age(persons[pid].birth_date) - g.grade
                assert 5 <= age <= 8
                ages[age] += 1
    assert ages.most_common(1)[0][0] == 6  # spring: grade 1 is seven
    autumn = _doc(DEMO_TENANT, today=AUTUMN)
    first = autumn.groups[0]
    assert first.name == "1A"
    assert {_age(p.birth_date, AUTUMN) for p in autumn.persons if p.id in first.learners} <= {
        5, 6, 7, 8,
    }  # fmt: skip


def test_the_cases_a_demo_needs_exist() -> None:
    """Information right, a protected family, joint custody apart, cross-class groups, 7B."""
    doc = _doc(DEMO_TENANT)
    persons = {p.id: p for p in doc.persons}
    assert any(gs.kind == "information_right" for gs in doc.guardianships)
    assert any(
        persons[gs.learner].protection_order and persons[gs.guardian].protection_order
        for gs in doc.guardianships
    )
    assert sum(p.protection_order for p in doc.persons) >= 2
    custodians: dict[str, list[str]] = defaultdict(list)
    for gs in doc.guardianships:
        if gs.kind == "custodial":
            custodians[gs.learner].append(gs.guardian)
    assert any(
        len(gs) == 2 and persons[gs[0]].address != persons[gs[1]].address
        for gs in custodians.values()
    )
    class_of = {pid: g.id for g in doc.groups if g.kind == "class" for pid in g.learners}
    crossing = [
        g
        for g in doc.groups
        if g.kind == "teaching_group" and len({class_of[pid] for pid in g.learners}) > 1
    ]
    assert crossing and all(g.subject for g in crossing)
    assert any(g.name.startswith("8 RUB1") for g in crossing)
    assert any(g.name.startswith("8 Valinnainen ") for g in crossing)
    assert _first_school_7b(doc)
    assert _first_school_7b(_doc(SECOND_TENANT))


def test_siblings_share_guardians() -> None:
    """Some families have several children in the document, with the same guardians."""
    doc = _doc(DEMO_TENANT)
    children: dict[str, set[str]] = defaultdict(set)
    for gs in doc.guardianships:
        children[gs.guardian].add(gs.learner)
    assert any(len(kids) >= 2 for kids in children.values())


def test_second_tenant_is_its_own() -> None:
    """The second tenant has its own school, usernames and ids."""
    doc = _doc(SECOND_TENANT)
    assert [s.name for s in doc.schools] == ["Koivulan koulu"]
    assert all(p.username is not None and p.username.endswith("@koivula") for p in doc.persons)
    demo = _doc(DEMO_TENANT)
    assert not {p.id for p in doc.persons} & {p.id for p in demo.persons}
    assert not {g.id for g in doc.groups} & {g.id for g in demo.groups}


def test_demo_logins_start_from_7b() -> None:
    """Demo logins exist, hold their role, and begin with class 7B's people."""
    doc = _doc(DEMO_TENANT)
    logins = demo_logins(doc)
    assert set(logins) == {"learner", "guardian", "teacher", "principal", "secretary"}
    by_username = {p.username: p for p in doc.persons}
    for role, names in logins.items():
        assert 1 <= len(names) <= 2 and len(set(names)) == len(names)
        assert all(any(r.role == role for r in by_username[n].roles) for n in names)
    [class_teacher, *_] = _first_school_7b(doc)
    assert by_username[logins["teacher"][0]].id == class_teacher
    first = doc.schools[0].id
    [seven_b] = [g for g in doc.groups if g.school == first and g.name == "7B"]
    for name in logins["guardian"]:
        guardian = by_username[name].id
        assert any(
            gs.guardian == guardian and gs.learner in seven_b.learners for gs in doc.guardianships
        )
    assert all(by_username[n].id in seven_b.learners for n in logins["learner"])
    assert len(demo_logins(doc, per_role=4)["guardian"]) == 4


def test_fold_makes_usernames_ascii() -> None:
    """Names fold to lowercase ASCII: ä→a, ö→o, å→a, é→e, spaces to hyphens."""
    assert _fold("Äänislinna") == "aanislinna"
    assert _fold("Åsa-Britt") == "asa-britt"
    assert _fold("Renée") == "renee"
    assert _fold("Jean Luc") == "jean-luc"
    assert _fold("Øystein") == "oystein"
    assert _fold("O'Brien") == "obrien"
    assert _fold("Björn  Ölund") == "bjorn-olund"


@pytest.mark.slow
def test_city_size() -> None:
    """The city size: about 40 schools, 25,000 learners, 45,000 guardians, 2,500 staff."""
    doc = generate(DEMO_TENANT, "city", today=TODAY)
    schools = Counter((s.kind, s.language) for s in doc.schools)
    assert 36 <= len(doc.schools) <= 44
    assert schools[("comprehensive", "sv")] >= 3
    assert schools[("upper_secondary", "fi")] + schools[("upper_secondary", "sv")] >= 6
    assert doc.schools[0].name == "Kuusikon koulu"
    assert 22_500 <= len(_with_role(doc, "learner")) <= 27_500
    assert 40_500 <= len(_with_role(doc, "guardian")) <= 49_500
    assert 2_250 <= len(_with_role(doc, *STAFF_ROLES)) <= 2_750
    assert _first_school_7b(doc)

    upper = {s.id for s in doc.schools if s.kind == "upper_secondary"}
    swedish = {s.id for s in doc.schools if s.language == "sv"}
    persons = {p.id: p for p in doc.persons}
    in_upper = [p for p in _with_role(doc, "learner") if p.roles[0].school in upper]
    assert all(15 <= _age(p.birth_date) <= 20 for p in in_upper)
    adults = [p for p in in_upper if _age(p.birth_date) >= 18]
    assert adults and 0 < sum(p.guardians_may_see for p in adults) < len(adults) / 2
    adult_ids = {p.id for p in adults}
    assert not any(p.guardians_may_see for p in persons.values() if p.id not in adult_ids)
    in_swedish = [p for p in _with_role(doc, "learner") if p.roles[0].school in swedish]
    assert sum(p.language == "sv" for p in in_swedish) > 0.7 * len(in_swedish)
    for g in doc.groups:
        if g.school in upper and g.kind == "class":
            assert g.grade is not None and 10 <= g.grade <= 12
    assert sum(g.kind == "teaching_group" for g in doc.groups if g.school in upper) > sum(
        g.kind == "class" for g in doc.groups if g.school in upper
    )
    protected = sum(p.protection_order for p in doc.persons)
    assert 0.003 <= protected / len(doc.persons) <= 0.008

    _assert_round_trip(doc)
    _assert_integrity(doc, DEMO_TENANT.slug)
    _assert_guardians(doc)
