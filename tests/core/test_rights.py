"""The rights rules of core/rights.py, one test per rule, without a database."""

from __future__ import annotations

from datetime import date

from core.rights import Relation, guardian_may_see, person_fields

TODAY = date(2026, 11, 24)
CHILD = date(2014, 5, 1)


def test_nobody_sees_a_stranger() -> None:
    """No relation at all: nothing (the API answers 404)."""
    assert person_fields(Relation(), TODAY) == frozenset()


def test_self_sees_everything_of_own() -> None:
    """A person sees their own address and contact points."""
    fields = person_fields(Relation(is_self=True, protection_order=True), TODAY)
    assert {"address", "email", "phone", "birth_date"} <= fields


def test_guardian_sees_child_but_no_address() -> None:
    """A guardian sees the child's name and birth date, never an address."""
    fields = person_fields(Relation(is_guardian=True, birth_date=CHILD), TODAY)
    assert {"name", "birth_date", "email"} <= fields and "address" not in fields


def test_guardian_of_protected_child_sees_no_contact_points() -> None:
    """Under a protection order the guardian sees the child's name, not contact points."""
    fields = person_fields(
        Relation(is_guardian=True, birth_date=CHILD, protection_order=True), TODAY
    )
    assert "name" in fields and not fields & {"email", "phone", "address"}


def test_eighteen_year_line() -> None:
    """From the 18th birthday the guardian sees the learner only with consent."""
    adult = date(2008, 11, 24)
    assert guardian_may_see(adult, False, date(2026, 11, 23))
    assert not guardian_may_see(adult, False, TODAY)
    assert guardian_may_see(adult, True, TODAY)
    assert person_fields(Relation(is_guardian=True, birth_date=adult), TODAY) == frozenset()


def test_leap_day_birthday() -> None:
    """Born on 29 February: 18 on 1 March of a common year, not on 28 February."""
    born = date(2008, 2, 29)
    assert guardian_may_see(born, False, date(2026, 2, 28))
    assert not guardian_may_see(born, False, date(2026, 3, 1))


def test_teacher_sees_learner_contact_but_no_address() -> None:
    """A teacher of the learner's group sees contact points and birth date, not the address."""
    fields = person_fields(Relation(teaches_learner=True, birth_date=CHILD), TODAY)
    assert {"email", "birth_date"} <= fields and "address" not in fields


def test_teacher_sees_guardians_of_own_learners() -> None:
    """A teacher sees the contact points of their learners' guardians."""
    fields = person_fields(Relation(teaches_child_of=True), TODAY)
    assert {"email", "phone"} <= fields and "address" not in fields


def test_colleague_sees_name_only() -> None:
    """A teacher sees colleagues' names only."""
    assert person_fields(Relation(colleague=True), TODAY) == frozenset({"name", "language"})


def test_authorised_staff_see_protected_address() -> None:
    """Principal and secretary see a protected person's address and the order itself."""
    fields = person_fields(
        Relation(authorised_staff=True, school_staff=True, protection_order=True), TODAY
    )
    assert {"address", "protection_order", "email"} <= fields


def test_other_staff_see_no_address() -> None:
    """Other staff of the school see contact points but no address, protected or not."""
    for protected in (False, True):
        fields = person_fields(Relation(school_staff=True, protection_order=protected), TODAY)
        assert "email" in fields and "address" not in fields and "protection_order" not in fields
