"""The mutable builders behind a document: people and groups as they are made,
the state every part of the build shares (one random stream, the name pools,
the rows so far), the making of staff and learners, and the freezing of it all
into roster rows at the end."""

from __future__ import annotations

import datetime
from random import Random

from core.model import (
    GroupKind,
    GuardianshipKind,
    Language,
    Role,
    RosterAddress,
    RosterDocument,
    RosterGroup,
    RosterGuardianship,
    RosterPerson,
    RosterRole,
    RosterSchool,
)
from core.seed.names import _local_parts, _phone_number, _pools, _street_address
from core.seed.spec import TenantSpec, _Profile

_P_ADULT_MAY_SEE = 0.2


class _Person:
    __slots__ = (
        "address",
        "birth",
        "email_domain",
        "family",
        "female",
        "given",
        "grade",
        "id",
        "lang",
        "may_see",
        "phone",
        "protected",
        "roles",
        "school",
    )

    def __init__(self, pid: str, lang: Language, female: bool) -> None:
        self.id = pid
        self.lang: Language = lang
        self.female = female
        self.given = ""
        self.family = ""
        self.roles: dict[tuple[str, Role], None] = {}
        self.email_domain: str | None = None
        self.phone: str | None = None
        self.address: tuple[str, str] | None = None
        self.protected = False
        self.birth: datetime.date | None = None
        self.may_see = False
        #: learners only: index of their school, their grade
        self.school = -1
        self.grade = 0


class _Group:
    __slots__ = ("grade", "id", "kind", "learners", "name", "school", "subject", "teachers")

    def __init__(
        self, gid: str, school: str, name: str, kind: GroupKind, grade: int | None,
        subject: str | None,
    ) -> None:  # fmt: skip
        self.id = gid
        self.school = school
        self.name = name
        self.kind: GroupKind = kind
        self.grade = grade
        self.subject = subject
        self.learners: list[_Person] = []
        self.teachers: list[_Person] = []


def _age(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _place(tenant: TenantSpec) -> tuple[str, str]:
    """The tenant's municipality name ("Kuusikko") and its genitive ("Kuusikon")."""
    city = "-".join(part.capitalize() for part in tenant.slug.split("-"))
    words = tenant.name.split()
    genitive = words[0] if len(words) > 1 else f"{tenant.name}n"
    return city, genitive


class _BuilderBase:
    """What the school and family parts of the build share."""

    def __init__(
        self, tenant: TenantSpec, profile: _Profile, seed: int, today: datetime.date
    ) -> None:
        self.tenant = tenant
        self.profile = profile
        self.today = today
        self.rng = Random(f"reppu-seed:{seed}:{tenant.slug}:{tenant.kind}")
        self.pools = _pools(seed)
        self.city, self.genitive = _place(tenant)
        #: 1 August of the school year running on `today`
        self.school_year = today.year if today.month >= 8 else today.year - 1
        self.schools: list[RosterSchool] = []
        self.staff: list[_Person] = []
        self.learners: list[_Person] = []
        self.guardians: list[_Person] = []
        self.groups: list[_Group] = []
        self.guardianships: list[tuple[_Person, _Person, GuardianshipKind]] = []
        self.teachers_by_school: list[list[_Person]] = []
        self.group_ids: set[str] = set()
        area = self.rng.randrange(20, 99)
        codes = self.rng.sample(range(10, 100), profile.postal_codes)
        self.postal_codes = [f"{area}{code}0" for code in sorted(codes)]
        self.street_postal: dict[str, str] = {}

    # -- people ---------------------------------------------------------------------------

    def _locale(self, lang: Language) -> str:
        return lang if lang != "en" else self.rng.choice(("fi", "sv"))

    def _given(self, locale: str, female: bool) -> str:
        pool = self.pools.female if female else self.pools.male
        return self.rng.choice(pool[locale])

    def _family_name(self, locale: str) -> str:
        return self.rng.choice(self.pools.family[locale])

    def _phone(self) -> str:
        return _phone_number(self.rng)

    def _address(self, locale: str) -> tuple[str, str]:
        return _street_address(
            self.rng, self.pools.street[locale], self.postal_codes, self.street_postal
        )

    def _staff_language(self, school_lang: Language) -> Language:
        r = self.rng.random()
        if r < 0.02:
            return "en"
        if r < 0.07:
            return "sv" if school_lang == "fi" else "fi"
        return school_lang

    def _staff(self, school: int, role: Role) -> _Person:
        sid = self.schools[school].id
        lang = self._staff_language(self.schools[school].language)
        female = self.rng.random() < (0.72 if role == "teacher" else 0.65)
        person = _Person(f"p-{self.tenant.slug}-staff-{len(self.staff) + 1:05d}", lang, female)
        locale = self._locale(lang)
        person.given = self._given(locale, female)
        person.family = self._family_name(locale)
        person.roles[(sid, role)] = None
        person.email_domain = f"{self.tenant.slug}.example.fi"
        phone = self._phone()
        if self.rng.random() < 0.6:
            person.phone = phone
        self.staff.append(person)
        if role == "teacher":
            self.teachers_by_school[school].append(person)
        return person

    def _learner(self, school: int, grade: int) -> _Person:
        """A learner slot: school, grade and birth date; the family names them."""
        pid = f"p-{self.tenant.slug}-learner-{len(self.learners) + 1:06d}"
        person = _Person(pid, self.schools[school].language, self.rng.random() < 0.5)
        person.school = school
        person.grade = grade
        person.roles[(self.schools[school].id, "learner")] = None
        if grade <= 9:
            born = self.school_year - 6 - grade
            r = self.rng.random()
            born += -1 if r < 0.015 else 1 if r < 0.02 else 0
        else:
            born = self.school_year - 6 - grade
            if grade == 12 and self.rng.random() < 0.06:
                born -= 1  # a fourth year to finish
        days = (datetime.date(born + 1, 1, 1) - datetime.date(born, 1, 1)).days
        offset = self.rng.randrange(366)
        person.birth = datetime.date(born, 1, 1) + datetime.timedelta(days=offset % days)
        age = _age(person.birth, self.today)
        wants_email, wants_phone, may_see = (self.rng.random() for _ in range(3))
        if age >= 13 and wants_email < 0.9:
            person.email_domain = f"edu.{self.tenant.slug}.example.fi"
        if age >= 13 and wants_phone < 0.6:
            person.phone = self._phone()
        else:
            self._phone()  # the same draws whatever the age
        person.may_see = age >= 18 and may_see < _P_ADULT_MAY_SEE
        self.learners.append(person)
        return person

    # -- the document ---------------------------------------------------------------------

    def _document(self) -> RosterDocument:
        slug = self.tenant.slug
        people = (*self.staff, *self.learners, *self.guardians)
        locals_ = _local_parts((person.given, person.family) for person in people)
        persons: list[RosterPerson] = []
        for person, local in zip(people, locals_, strict=True):
            address = None
            if person.address is not None:
                street, postal = person.address
                address = RosterAddress(street=street, postal_code=postal, municipality=self.city)
            persons.append(
                RosterPerson(
                    id=person.id,
                    given_name=person.given,
                    family_name=person.family,
                    roles=[RosterRole(school=s, role=r) for s, r in person.roles],
                    language=person.lang,
                    username=f"{local}@{slug}",
                    email=None if person.email_domain is None else f"{local}@{person.email_domain}",
                    phone=person.phone,
                    address=address,
                    protection_order=person.protected,
                    birth_date=person.birth,
                    guardians_may_see=person.may_see,
                )
            )
        groups = [
            RosterGroup(
                id=g.id,
                school=g.school,
                name=g.name,
                kind=g.kind,
                grade=g.grade,
                subject=g.subject,
                learners=[p.id for p in g.learners],
                teachers=[p.id for p in g.teachers],
            )
            for g in self.groups
        ]
        guardianships = [
            RosterGuardianship(guardian=g.id, learner=c.id, kind=kind)
            for g, c, kind in self.guardianships
        ]
        return RosterDocument(
            schools=list(self.schools), persons=persons, groups=groups, guardianships=guardianships
        )
