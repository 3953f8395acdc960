"""The school domain's types: what the API returns and what a roster
document holds. msgspec Structs; new fields get defaults, a field's type never
changes (schema evolution as msgspec documents it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Language = Literal["fi", "sv", "en"]
Role = Literal["learner", "guardian", "teacher", "principal", "secretary", "staff"]
GuardianshipKind = Literal["custodial", "information_right"]
GroupKind = Literal["class", "teaching_group"]
SchoolKind = Literal[
    "comprehensive", "primary", "lower_secondary", "upper_secondary", "vocational", "other"
]
TenantKind = Literal["municipality", "private"]

STAFF_ROLES: frozenset[str] = frozenset({"teacher", "principal", "secretary", "staff"})
#: Staff who may see a person's address, and a protected person's at all.
AUTHORISED_STAFF: frozenset[str] = frozenset({"principal", "secretary"})

# Bounds of a roster document (named; checked before anything is applied).
MAX_NAME_CHARS = 200
MAX_EXTERNAL_ID_CHARS = 100
MAX_ROSTER_ROWS = 500_000

ExternalId = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=MAX_EXTERNAL_ID_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
ShortText = Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)]
Email = Annotated[
    str, msgspec.Meta(max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
]
Phone = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^\+?[0-9 ()-]{5,31}$")]
Username = Annotated[
    str, msgspec.Meta(max_length=120, pattern=r"^[a-z0-9][a-z0-9._-]*@[a-z][a-z0-9-]{1,39}$")
]


# ---- roster document (input) -------------------------------------------------------------


class RosterSchool(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: ExternalId
    name: Name
    kind: SchoolKind
    language: Language = "fi"


class RosterRole(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    school: ExternalId
    role: Role


class RosterAddress(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    street: ShortText | None = None
    postal_code: ShortText | None = None
    municipality: ShortText | None = None


class RosterPerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: ExternalId
    given_name: Name
    family_name: Name
    roles: list[RosterRole]
    language: Language = "fi"
    #: Login name, `local@tenant-slug`; dev login and the future IdP mapping use it.
    username: Username | None = None
    email: Email | None = None
    phone: Phone | None = None
    address: RosterAddress | None = None
    protection_order: bool = False
    birth_date: date | None = None
    guardians_may_see: bool = False


class RosterGroup(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: ExternalId
    school: ExternalId
    name: Name
    kind: GroupKind
    grade: Annotated[int, msgspec.Meta(ge=0, le=13)] | None = None
    subject: ShortText | None = None
    #: The group's learners, in full: the import replaces the membership.
    learners: list[ExternalId] = []
    #: The group's teachers, in full.
    teachers: list[ExternalId] = []


class RosterGuardianship(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    guardian: ExternalId
    learner: ExternalId
    kind: GuardianshipKind


class RosterDocument(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A student information system's roster, by its own (external) ids.

    Upsert semantics: every school, person and group in the document is
    created or updated; a person's roles and a group's learners and teachers
    are replaced by the document's; the guardianships of every learner that the
    document lists as a person are replaced by the document's. Nothing that
    the document does not mention is touched."""

    schools: list[RosterSchool] = []
    persons: list[RosterPerson] = []
    groups: list[RosterGroup] = []
    guardianships: list[RosterGuardianship] = []


class RosterProblem(msgspec.Struct, kw_only=True):
    path: str
    reason: str


class RosterResult(msgspec.Struct, kw_only=True):
    schools: int
    persons: int
    groups: int
    guardianships: int


# ---- views (output) ----------------------------------------------------------------------


class Tenant(msgspec.Struct, kw_only=True):
    id: UUID
    slug: str
    name: str
    kind: TenantKind


class School(msgspec.Struct, kw_only=True):
    id: UUID
    external_id: str
    name: str
    kind: SchoolKind
    language: Language


class PersonRole(msgspec.Struct, kw_only=True):
    school_id: UUID
    role: Role


class Address(msgspec.Struct, kw_only=True):
    street: str | None
    postal_code: str | None
    municipality: str | None


class PersonSummary(msgspec.Struct, kw_only=True):
    """What anyone who may see a person at all sees: a name."""

    id: UUID
    given_name: str
    family_name: str


class Person(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A person as the viewer may see them: fields the viewer has no right to
    are left out (None / omitted), never blanked with a marker that would
    reveal a protection order."""

    id: UUID
    given_name: str
    family_name: str
    language: Language
    roles: list[PersonRole] = []
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    birth_date: date | None = None
    protection_order: bool | None = None
    guardians_may_see: bool | None = None


class GroupRef(msgspec.Struct, kw_only=True):
    id: UUID
    school_id: UUID
    name: str
    kind: GroupKind
    grade: int | None
    subject: str | None


class Group(msgspec.Struct, kw_only=True):
    id: UUID
    school_id: UUID
    name: str
    kind: GroupKind
    grade: int | None
    subject: str | None
    teachers: list[PersonSummary]
    #: Present for the group's teachers and school staff; never for guardians
    #: or learners (classmates' names are not theirs to list).
    learners: list[PersonSummary] | None = None


class Child(msgspec.Struct, kw_only=True):
    id: UUID
    given_name: str
    family_name: str
    kind: GuardianshipKind


class Me(msgspec.Struct, kw_only=True):
    tenant: Tenant
    person: Person
    children: list[Child]
    groups: list[GroupRef]
