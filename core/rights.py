"""Who may see what of whom — the rules, without I/O.

The store computes the facts of a viewer's relation to a person (`Relation`);
`person_fields()` turns them into the set of fields the viewer may see. An
empty set means "not found": the API answers 404, indistinguishable from a
person who does not exist.

Rules (each tested on its own in tests/core/test_rights.py):

* Everyone sees themselves, address included.
* A guardian sees their child (name, language, date of birth) — but a learner
  aged 18 or over only if the learner has allowed it (`guardians_may_see`).
  Guardians never see an address through Reppu: a child may live with the
  other parent under a protection order.
* A teacher sees the learners of their own groups and those learners'
  guardians (name, language, contact points), and colleagues at their schools
  (name only).
* Principals, secretaries and other staff see everyone with a role at their
  school: name and contact points. Principals and secretaries are the
  authorised staff: they alone see addresses, and whether a person has a
  protection order.
* A protection order (turvakielto) hides address and municipality from all but
  authorised staff, and the person's contact points from everyone who is not
  staff of their school.
* Another tenant's person does not exist (row-level security).
"""

from __future__ import annotations

from datetime import date

import msgspec

from core.clock import age_on

NAME = frozenset({"name"})
BASIC = NAME | {"language"}
CONTACT = frozenset({"email", "phone"})
ADDRESS = frozenset({"address"})
#: The 18-year line: from this age a learner decides whether guardians see.
AGE_OF_MAJORITY = 18


class Relation(msgspec.Struct, kw_only=True, frozen=True):
    """The facts that decide what a viewer sees of a person."""

    is_self: bool = False
    #: viewer is the person's guardian (of any kind)
    is_guardian: bool = False
    #: viewer teaches a group the person learns in
    teaches_learner: bool = False
    #: viewer teaches a group in which a child of the person learns
    teaches_child_of: bool = False
    #: viewer is a teacher at a school where the person is staff
    colleague: bool = False
    #: viewer is principal, secretary or staff at a school where the person has a role
    school_staff: bool = False
    #: ... and is principal or secretary there
    authorised_staff: bool = False
    person_is_learner: bool = False
    protection_order: bool = False
    birth_date: date | None = None
    guardians_may_see: bool = False


def guardian_may_see(birth_date: date | None, guardians_may_see: bool, today: date) -> bool:
    """The 18-year line: a guardian sees an adult learner only with consent."""
    if birth_date is None or age_on(birth_date, today) < AGE_OF_MAJORITY:
        return True
    return guardians_may_see


def person_fields(rel: Relation, today: date) -> frozenset[str]:
    if rel.is_self:
        own = BASIC | CONTACT | ADDRESS | {"birth_date", "roles"}
        return own | {"guardians_may_see"} if rel.person_is_learner else own
    fields: set[str] = set()
    if rel.authorised_staff:
        fields |= BASIC | CONTACT | ADDRESS | {"birth_date", "roles", "protection_order"}
    elif rel.school_staff:
        fields |= BASIC | CONTACT | {"roles"}
    if rel.teaches_learner or rel.teaches_child_of:
        fields |= BASIC | CONTACT
        if rel.teaches_learner:
            fields.add("birth_date")
    if rel.colleague:
        fields |= BASIC
    if rel.is_guardian and guardian_may_see(rel.birth_date, rel.guardians_may_see, today):
        fields |= BASIC | {"birth_date"}
        if not rel.protection_order:
            fields |= CONTACT
    if rel.protection_order and not rel.authorised_staff:
        fields -= ADDRESS
        if not (rel.school_staff or rel.teaches_learner or rel.teaches_child_of):
            fields -= CONTACT
    return frozenset(fields)


def group_learners_visible(*, teaches_group: bool, school_staff: bool) -> bool:
    """Only the group's teachers and the school's staff see who is in a group;
    guardians and learners see a group's name and teachers, not classmates."""
    return teaches_group or school_staff
