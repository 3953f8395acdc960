"""Deterministic demo rosters: Finnish schools, their families and staff.

`generate` builds a `RosterDocument` for a tenant; the caller imports it
through the roster import like any municipality's feed (nothing here touches a
database). The same (tenant, size, seed, today) always gives the same document,
byte for byte: every random choice is drawn from one `random.Random` seeded by
them, and names come from pools that seeded Faker instances fill once.

`today` only moves birth dates (a grade 1 learner is about seven on `today`; a
school year starts in August) and what follows from age. Random draws never
depend on it, so ids, names and usernames are the same whatever `today` is.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from random import Random
from typing import Literal

import msgspec
from faker import Faker

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
    SchoolKind,
    TenantKind,
)

__all__ = [
    "DEFAULT_SEED",
    "DEMO_TENANT",
    "SECOND_TENANT",
    "SizeName",
    "TenantSpec",
    "demo_logins",
    "generate",
]

SizeName = Literal["small", "city"]


class TenantSpec(msgspec.Struct, frozen=True):
    """The tenant a generated document is for."""

    slug: str
    name: str
    kind: TenantKind


DEMO_TENANT = TenantSpec(slug="kuusikko", name="Kuusikon kaupunki", kind="municipality")
#: A second, small tenant for isolation demos and tests.
SECOND_TENANT = TenantSpec(slug="koivula", name="Koivulan kunta", kind="municipality")
DEFAULT_SEED = 2026


# ---- shape of a document, by size -------------------------------------------------------


class _Profile(msgspec.Struct, frozen=True, kw_only=True):
    finnish_comprehensive: int
    swedish_comprehensive: int
    finnish_upper: int
    swedish_upper: int
    comprehensive_learners: int
    upper_learners: int
    class_size: float
    #: grades 7-9 learners per subject teacher
    learners_per_subject_teacher: float
    #: learners per school assistant ("staff" role)
    learners_per_assistant: float
    postal_codes: int


_PROFILES: dict[str, _Profile] = {
    "small": _Profile(
        finnish_comprehensive=1,
        swedish_comprehensive=0,
        finnish_upper=0,
        swedish_upper=0,
        comprehensive_learners=200,
        upper_learners=0,
        class_size=10.0,
        learners_per_subject_teacher=16.0,
        learners_per_assistant=150.0,
        postal_codes=3,
    ),
    "city": _Profile(
        finnish_comprehensive=28,
        swedish_comprehensive=4,
        finnish_upper=7,
        swedish_upper=1,
        comprehensive_learners=21_400,
        upper_learners=3_600,
        class_size=21.0,
        learners_per_subject_teacher=10.0,
        learners_per_assistant=40.0,
        postal_codes=24,
    ),
}

# Families: how many children of a family the document holds, and its guardians.
_P_TWO_CHILDREN = 0.04
_P_THREE_CHILDREN = 0.006
_P_SIBLINGS = _P_TWO_CHILDREN + _P_THREE_CHILDREN
_P_SIBLING_OTHER_SCHOOL = 0.25
_P_TWO_GUARDIANS = 0.85
#: of two-guardian families: custodial + information-right parent (apart)
_SHARE_INFORMATION_RIGHT = 0.066
#: of two-guardian families: two custodial parents living apart
_SHARE_JOINT_CUSTODY = 0.10
_SHARE_PROTECTED_PERSONS = 0.005
#: of teachers: also a guardian of a learner at their school
_SHARE_TEACHER_PARENTS = 0.01
_P_ADULT_MAY_SEE = 0.2
_POOL_SIZE = 3000
_STREET_POOL_SIZE = 1500

_LETTERS = "ABCDEFGHJKLMNOPQRSTU"
_MOBILE_PREFIXES = ("40", "41", "44", "45", "50")
_GUARDIAN_DOMAINS = ("example.fi", "example.com", "example.net", "example.org")

_FINNISH_PLACES = (
    "Mäntylän", "Kalliorinteen", "Rantakylän", "Harjunpään", "Koivikon", "Niittykummun",
    "Peltolan", "Vaahteramäen", "Kirkonkylän", "Lehtolan", "Kanervikon", "Hiekkaharjun",
    "Myllypuron", "Puistolan", "Pihlajamäen", "Tammelan", "Kuusirinteen", "Honkalan",
    "Katajaharjun", "Sammalkallion", "Kivikon", "Laaksolahden", "Metsolan", "Päivärinteen",
    "Satamaniemen", "Tuulimyllyn", "Veräjämäen", "Aurinkolahden", "Louhelan", "Nummelan",
    "Ruusulan", "Jokivarren",
)  # fmt: skip
_SWEDISH_PLACES = (
    "Granbackens", "Björkhagens", "Strandvägens", "Kvarnbackens", "Ekuddens", "Solvalla",
    "Tallmons", "Lindängens",
)  # fmt: skip

# Grades 7-9, by school language: (code, subject) of the second national
# language (the whole grade), ethics, B2 languages (grades 8-9, with share),
# and the optional subjects with their label.
_SECOND_LANGUAGE: dict[Language, tuple[str, str]] = {
    "fi": ("RUB1", "ruotsi"),
    "sv": ("FIA1", "finska"),
    "en": ("RUB1", "ruotsi"),
}
_ETHICS: dict[Language, tuple[str, str]] = {
    "fi": ("ET", "elämänkatsomustieto"),
    "sv": ("LK", "livsåskådningskunskap"),
    "en": ("ET", "elämänkatsomustieto"),
}
_B2: dict[Language, tuple[tuple[str, str, float], ...]] = {
    "fi": (("SAB2", "saksa", 0.12), ("ESB2", "espanja", 0.10)),
    "sv": (("TYB2", "tyska", 0.12), ("SPB2", "spanska", 0.10)),
    "en": (("SAB2", "saksa", 0.12), ("ESB2", "espanja", 0.10)),
}
_OPTIONAL_LABEL: dict[Language, str] = {"fi": "Valinnainen", "sv": "Valfri", "en": "Valinnainen"}
_OPTIONAL: dict[Language, tuple[tuple[str, float], ...]] = {
    "fi": (
        ("kuvataide", 1.0), ("musiikki", 1.0), ("liikunta", 1.4), ("kotitalous", 1.3),
        ("käsityö", 1.0), ("ohjelmointi", 0.6),
    ),
    "sv": (
        ("bildkonst", 1.0), ("musik", 1.0), ("gymnastik", 1.4), ("huslig ekonomi", 1.3),
        ("slöjd", 1.0), ("programmering", 0.6),
    ),
}  # fmt: skip
_OPTIONAL["en"] = _OPTIONAL["fi"]
#: Subject teachers' subjects in a comprehensive school, the ones with groups first.
_COMPREHENSIVE_SUBJECTS: dict[Language, tuple[str, ...]] = {
    "fi": (
        "ruotsi", "matematiikka", "englanti", "äidinkieli", "liikunta", "kuvataide",
        "kotitalous", "musiikki", "käsityö", "saksa", "espanja", "historia", "biologia",
        "fysiikka", "kemia", "elämänkatsomustieto", "ohjelmointi",
    ),
    "sv": (
        "finska", "matematik", "engelska", "modersmål", "gymnastik", "bildkonst",
        "huslig ekonomi", "musik", "slöjd", "tyska", "spanska", "historia", "biologi",
        "fysik", "kemi", "livsåskådningskunskap", "programmering",
    ),
}  # fmt: skip
_COMPREHENSIVE_SUBJECTS["en"] = _COMPREHENSIVE_SUBJECTS["fi"]

# Upper secondary courses: (code, subject). Every learner takes the core ones,
# one mathematics syllabus, two electives, and physical education in year 1.
_UPPER_CORE: dict[Language, tuple[tuple[str, str], ...]] = {
    "fi": (("ÄI", "äidinkieli ja kirjallisuus"), ("ENA", "englanti"), ("RUB1", "ruotsi")),
    "sv": (("MO", "modersmål och litteratur"), ("ENA", "engelska"), ("FIA", "finska")),
}
_UPPER_MATH: dict[Language, tuple[tuple[str, str], tuple[str, str]]] = {
    "fi": (("MAA", "matematiikka, pitkä"), ("MAB", "matematiikka, lyhyt")),
    "sv": (("MAA", "matematik, lång"), ("MAB", "matematik, kort")),
}
_UPPER_ELECTIVE: dict[Language, tuple[tuple[str, str], ...]] = {
    "fi": (
        ("FY", "fysiikka"), ("KE", "kemia"), ("BI", "biologia"), ("GE", "maantiede"),
        ("HI", "historia"), ("YH", "yhteiskuntaoppi"), ("PS", "psykologia"),
        ("FI", "filosofia"), ("UE", "uskonto"),
    ),
    "sv": (
        ("FY", "fysik"), ("KE", "kemi"), ("BI", "biologi"), ("GE", "geografi"),
        ("HI", "historia"), ("SL", "samhällslära"), ("PS", "psykologi"), ("FI", "filosofi"),
        ("RE", "religion"),
    ),
}  # fmt: skip
_UPPER_SPORT: dict[Language, tuple[str, str]] = {
    "fi": ("LI", "liikunta"),
    "sv": ("GY", "gymnastik"),
}
#: Course (module) number of a subject's course running now, by year.
_UPPER_COURSE_NUMBER = {1: 2, 2: 5, 3: 8}

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     " ": "-", "_": "-"}
)  # fmt: skip
_NOT_LOCAL = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def _fold(text: str) -> str:
    """Lowercase ASCII for a username: ä→a, ö→o, å→a, é→e; spaces become
    hyphens; anything else outside [a-z0-9-] is dropped."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    kept = _NOT_LOCAL.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))
    return _DASHES.sub("-", kept).strip("-")


# ---- name pools ---------------------------------------------------------------------------


class _Pools(msgspec.Struct, frozen=True):
    female: dict[str, tuple[str, ...]]
    male: dict[str, tuple[str, ...]]
    family: dict[str, tuple[str, ...]]
    street: dict[str, tuple[str, ...]]


@functools.lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    """Names and street names per locale ("fi", "sv"), drawn once from seeded
    Faker instances; popular names recur as often as Faker makes them."""
    female: dict[str, tuple[str, ...]] = {}
    male: dict[str, tuple[str, ...]] = {}
    family: dict[str, tuple[str, ...]] = {}
    street: dict[str, tuple[str, ...]] = {}
    for key, locale in (("fi", "fi_FI"), ("sv", "sv_SE")):
        fake = Faker(locale)
        fake.seed_instance(seed)
        female[key] = tuple(str(fake.first_name_female()) for _ in range(_POOL_SIZE))
        male[key] = tuple(str(fake.first_name_male()) for _ in range(_POOL_SIZE))
        family[key] = tuple(str(fake.last_name()) for _ in range(_POOL_SIZE))
        street[key] = tuple(str(fake.street_name()) for _ in range(_STREET_POOL_SIZE))
    return _Pools(female=female, male=male, family=family, street=street)


# ---- mutable builders, frozen into roster rows at the end ----------------------------------


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


class _Family:
    __slots__ = ("children", "dual", "protected", "shape")

    def __init__(self, children: list[_Person]) -> None:
        self.children = children
        #: "single", "together", "joint" (custodial, apart) or "information" (apart)
        self.shape = "single"
        self.protected = False
        #: a teacher at the children's school who is their first guardian
        self.dual: _Person | None = None


def _even(total: int, parts: int) -> list[int]:
    """`total` split into `parts` sizes that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _age(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _place(tenant: TenantSpec) -> tuple[str, str]:
    """The tenant's municipality name ("Kuusikko") and its genitive ("Kuusikon")."""
    city = "-".join(part.capitalize() for part in tenant.slug.split("-"))
    words = tenant.name.split()
    genitive = words[0] if len(words) > 1 else f"{tenant.name}n"
    return city, genitive


class _Builder:
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
        prefix = self.rng.choice(_MOBILE_PREFIXES)
        return f"+358 {prefix} {self.rng.randrange(100, 1000)} {self.rng.randrange(1000, 10000)}"

    def _address(self, locale: str) -> tuple[str, str]:
        street = self.rng.choice(self.pools.street[locale])
        postal = self.street_postal.setdefault(street, self.rng.choice(self.postal_codes))
        number = self.rng.randrange(1, 120)
        flat = self.rng.random()
        letter = self.rng.choice("ABCDEF")
        door = self.rng.randrange(1, 40)
        if flat < 0.45:
            return f"{street} {number} {letter} {door}", postal
        if flat < 0.6:
            return f"{street} {number} as {door}", postal
        return f"{street} {number}", postal

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

    # -- groups ---------------------------------------------------------------------------

    def _group(
        self, school: int, name: str, kind: GroupKind, grade: int | None,
        subject: str | None = None,
    ) -> _Group:  # fmt: skip
        sid = self.schools[school].id
        short = name.split(" (")[0].replace(".", "-")
        base = f"g-{self.tenant.slug}-{school + 1}-{_fold(short)}"
        gid, n = base, 1
        while gid in self.group_ids:
            n += 1
            gid = f"{base}-{n}"
        self.group_ids.add(gid)
        group = _Group(gid, sid, name, kind, grade, subject)
        self.groups.append(group)
        return group

    def _chunks(self, members: Sequence[_Person], max_size: int) -> list[list[_Person]]:
        """`members` dealt at random into as few groups of at most `max_size` as
        will do, each kept in roster order."""
        if not members:
            return []
        order = {p.id: i for i, p in enumerate(members)}
        shuffled = list(members)
        self.rng.shuffle(shuffled)
        n = math.ceil(len(shuffled) / max_size)
        return [sorted(shuffled[i::n], key=lambda p: order[p.id]) for i in range(n)]

    def _teaching_groups(
        self, school: int, grade: int, label: str, subject: str, members: Sequence[_Person],
        max_size: int, teachers: Sequence[_Person], min_size: int = 1,
    ) -> None:  # fmt: skip
        """Groups of `members` named "8 RUB1 (ruotsi)", "8 RUB1.2 (ruotsi)", or, for
        an optional subject (`label` ends with it), "8 Valinnainen kuvataide 2";
        none if fewer than `min_size` take the subject."""
        if len(members) < min_size:
            return
        chunks = self._chunks(members, max_size)
        optional = label.endswith(subject)
        for i, chunk in enumerate(chunks, 1):
            number = "" if len(chunks) == 1 else f" {i}" if optional else f".{i}"
            name = f"{label}{number}" if optional else f"{label}{number} ({subject})"
            group = self._group(school, name, "teaching_group", grade, subject)
            group.learners = chunk
            group.teachers = [self.rng.choice(teachers)]

    # -- schools --------------------------------------------------------------------------

    def _school(self, name: str, kind: SchoolKind, lang: Language) -> int:
        sid = f"sch-{self.tenant.slug}-{len(self.schools) + 1}"
        self.schools.append(RosterSchool(id=sid, name=name, kind=kind, language=lang))
        self.teachers_by_school.append([])
        return len(self.schools) - 1

    def _split(self, total: int, weights: Sequence[float]) -> list[int]:
        jittered = [w * self.rng.uniform(0.8, 1.25) for w in weights]
        scale = total / sum(jittered)
        return [max(1, round(w * scale)) for w in jittered]

    def _comprehensive(self, school: int, total: int) -> None:
        lang = self.schools[school].language
        per_grade = self._split(total, [1.0] * 9)
        counts = [max(1, round(n / self.profile.class_size)) for n in per_grade]
        if school == 0:
            counts[6] = max(counts[6], 2)  # 7B
            if len(set(counts)) == 1:
                biggest = max(range(9), key=lambda i: per_grade[i])
                counts[biggest] += 1
        classes: dict[int, list[_Group]] = {}
        for grade, n, k in zip(range(1, 10), per_grade, counts, strict=True):
            classes[grade] = []
            for letter, size in zip(_LETTERS, _even(n, k), strict=False):
                group = self._group(school, f"{grade}{letter}", "class", grade)
                group.learners = [self._learner(school, grade) for _ in range(size)]
                classes[grade].append(group)

        self._staff(school, "principal")
        for _ in range(2 if total >= 450 or self.rng.random() < 0.3 else 1):
            self._staff(school, "secretary")
        for grade in range(1, 7):
            for group in classes[grade]:
                group.teachers = [self._staff(school, "teacher")]
        upper = [p for g in range(7, 10) for c in classes[g] for p in c.learners]
        n_subject = max(4, round(len(upper) / self.profile.learners_per_subject_teacher))
        subjects = _COMPREHENSIVE_SUBJECTS[lang]
        by_subject: dict[str, list[_Person]] = {}
        subject_teachers = []
        for i in range(n_subject):
            subject = subjects[i % len(subjects)]
            teacher = self._staff(school, "teacher")
            by_subject.setdefault(subject, []).append(teacher)
            subject_teachers.append(teacher)
        homeroom = list(subject_teachers)
        self.rng.shuffle(homeroom)
        upper_classes = [c for g in range(7, 10) for c in classes[g]]
        for i, group in enumerate(upper_classes):
            group.teachers = [homeroom[i % len(homeroom)]]
        all_classes = [c for g in range(1, 10) for c in classes[g]]
        for _ in range(max(1, round(total / 200))):
            special = self._staff(school, "teacher")
            for group in self.rng.sample(all_classes, min(2, len(all_classes))):
                group.teachers.append(special)
        for _ in range(max(1, round(total / self.profile.learners_per_assistant))):
            self._staff(school, "staff")

        def teachers_of(subject: str) -> list[_Person]:
            return by_subject.get(subject) or subject_teachers

        for grade in range(7, 10):
            learners = [p for c in classes[grade] for p in c.learners]
            code, subject = _SECOND_LANGUAGE[lang]
            self._teaching_groups(
                school, grade, f"{grade} {code}", subject, learners, 20, teachers_of(subject)
            )
            code, subject = _ETHICS[lang]
            members = [p for p in learners if self.rng.random() < 0.08]
            self._teaching_groups(
                school, grade, f"{grade} {code}", subject, members, 24, teachers_of(subject), 3
            )
            if grade >= 8:
                for code, subject, share in _B2[lang]:
                    members = [p for p in learners if self.rng.random() < share]
                    self._teaching_groups(
                        school, grade, f"{grade} {code}", subject, members, 20,
                        teachers_of(subject), 3,
                    )  # fmt: skip
            options = _OPTIONAL[lang]
            picks = 1 if grade == 7 else 2
            chosen: dict[str, list[_Person]] = {subject: [] for subject, _ in options}
            for learner in learners:
                pool = dict(options)
                for _ in range(picks):
                    [subject] = self.rng.choices(list(pool), weights=list(pool.values()))
                    chosen[subject].append(learner)
                    del pool[subject]
            for subject, members in chosen.items():
                label = f"{grade} {_OPTIONAL_LABEL[lang]} {subject}"
                self._teaching_groups(
                    school, grade, label, subject, members, 22, teachers_of(subject), 4
                )

    def _upper_secondary(self, school: int, total: int) -> None:
        lang: Language = "sv" if self.schools[school].language == "sv" else "fi"
        per_year = self._split(total, [1.1, 1.0, 0.95])
        cohorts: dict[int, list[_Person]] = {}
        homerooms: list[_Group] = []
        for year, n in zip((1, 2, 3), per_year, strict=True):
            started = (self.school_year - year + 1) % 100
            cohorts[year] = []
            for letter, size in zip(_LETTERS, _even(n, math.ceil(n / 32)), strict=False):
                group = self._group(school, f"{started:02d}{letter}", "class", 9 + year)
                group.learners = [self._learner(school, 9 + year) for _ in range(size)]
                cohorts[year].extend(group.learners)
                homerooms.append(group)

        self._staff(school, "principal")
        for _ in range(2 if total >= 500 or self.rng.random() < 0.3 else 1):
            self._staff(school, "secretary")

        # Courses first; then as many teachers per subject as its courses need.
        courses: list[_Group] = []
        for year in (1, 2, 3):
            enrolled: dict[tuple[str, str], list[_Person]] = {}
            for learner in cohorts[year]:
                math_course = _UPPER_MATH[lang][0 if self.rng.random() < 0.4 else 1]
                electives = self.rng.sample(_UPPER_ELECTIVE[lang], 2)
                taken = [*_UPPER_CORE[lang], math_course, *electives]
                if year == 1:
                    taken.append(_UPPER_SPORT[lang])
                for course in taken:
                    enrolled.setdefault(course, []).append(learner)
            for (code, subject), members in sorted(enrolled.items()):
                label = f"{code}{_UPPER_COURSE_NUMBER[year]}"
                chunks = self._chunks(members, 32)
                for i, chunk in enumerate(chunks, 1):
                    name = label if len(chunks) == 1 else f"{label}.{i}"
                    group = self._group(school, name, "teaching_group", 9 + year, subject)
                    group.learners = chunk
                    courses.append(group)
        demand: dict[str, int] = {}
        for group in courses:
            assert group.subject is not None
            demand[group.subject] = demand.get(group.subject, 0) + 1
        n_teachers = max(len(demand), round(total / 15))
        allotted = dict.fromkeys(demand, 1)
        for _ in range(n_teachers - len(demand)):
            neediest = max(demand, key=lambda s: demand[s] / allotted[s])
            allotted[neediest] += 1
        by_subject = {
            subject: [self._staff(school, "teacher") for _ in range(n)]
            for subject, n in allotted.items()
        }
        for _ in range(max(1, round(total / 200))):
            self._staff(school, "staff")
        taught = dict.fromkeys(demand, 0)
        for group in courses:
            assert group.subject is not None
            teachers = by_subject[group.subject]
            group.teachers = [teachers[taught[group.subject] % len(teachers)]]
            taught[group.subject] += 1
        everyone = [t for ts in by_subject.values() for t in ts]
        tutors = self.rng.sample(everyone, min(len(everyone), len(homerooms)))
        for i, group in enumerate(homerooms):
            group.teachers = [tutors[i % len(tutors)]]

    # -- families -------------------------------------------------------------------------

    def _families(self) -> list[_Family]:
        """Learners grouped into families: mostly one child in the document,
        some two or three, in different grades (now and then schools)."""
        rng = self.rng
        stacks: dict[tuple[int, int], list[_Person]] = {}
        for learner in self.learners:
            stacks.setdefault((learner.school, learner.grade), []).append(learner)
        for stack in stacks.values():
            rng.shuffle(stack)
        grades: dict[int, list[int]] = {}
        for school, grade in stacks:
            grades.setdefault(school, []).append(grade)
        by_language: dict[str, list[int]] = {}
        for i, row in enumerate(self.schools):
            by_language.setdefault(row.language, []).append(i)
        placed: set[str] = set()

        def take(school: int, grade: int) -> _Person | None:
            stack = stacks[(school, grade)]
            while stack:
                learner = stack.pop()
                if learner.id not in placed:
                    return learner
            return None

        order = list(self.learners)
        rng.shuffle(order)
        families: list[_Family] = []
        for first in order:
            if first.id in placed:
                continue
            placed.add(first.id)
            children = [first]
            r = rng.random()
            size = 3 if r < _P_THREE_CHILDREN else 2 if r < _P_SIBLINGS else 1
            for _ in range(size - 1):
                school = first.school
                if rng.random() < _P_SIBLING_OTHER_SCHOOL:
                    school = rng.choice(by_language[self.schools[first.school].language])
                taken = {(c.school, c.grade) for c in children}
                options = [g for g in grades[school] if (school, g) not in taken]
                if not options:
                    continue
                sibling = take(school, rng.choice(options))
                if sibling is not None:
                    placed.add(sibling.id)
                    children.append(sibling)
            families.append(_Family(children))
        return families

    def _shape_families(self, families: list[_Family]) -> None:
        rng = self.rng
        pairs = [f for f in families if rng.random() < _P_TWO_GUARDIANS]
        for family in pairs:
            family.shape = "together"
        rng.shuffle(pairs)
        n_info = max(1, round(len(pairs) * _SHARE_INFORMATION_RIGHT))
        n_joint = max(1, round(len(pairs) * _SHARE_JOINT_CUSTODY))
        for family in pairs[:n_info]:
            family.shape = "information"
        for family in pairs[n_info : n_info + n_joint]:
            family.shape = "joint"

        persons = len(self.staff) + len(self.learners) * 2.7
        n_protected = max(1, round(persons * _SHARE_PROTECTED_PERSONS / 2.6))
        candidates = list(families)
        rng.shuffle(candidates)
        for family in candidates[:n_protected]:
            family.protected = True

        n_teachers = sum(len(ts) for ts in self.teachers_by_school)
        n_dual = max(1, round(n_teachers * _SHARE_TEACHER_PARENTS))
        used: set[str] = set()
        for family in candidates[n_protected:]:
            if n_dual == 0:
                break
            schools = {c.school for c in family.children}
            if len(schools) != 1:
                continue
            free = [t for t in self.teachers_by_school[schools.pop()] if t.id not in used]
            if free:
                family.dual = rng.choice(free)
                used.add(family.dual.id)
                n_dual -= 1

    def _family_language(self, school_lang: Language) -> Language:
        r = self.rng.random()
        if school_lang == "sv":
            return "sv" if r < 0.85 else "fi" if r < 0.96 else "en"
        return "fi" if r < 0.93 else "sv" if r < 0.97 else "en"

    def _guardian(self, lang: Language, locale: str, female: bool) -> _Person:
        pid = f"p-{self.tenant.slug}-guardian-{len(self.guardians) + 1:06d}"
        person = _Person(pid, lang, female)
        person.given = self._given(locale, female)
        person.family = self._family_name(locale)
        domain = self.rng.choice(_GUARDIAN_DOMAINS)
        if self.rng.random() < 0.95:
            person.email_domain = domain
        phone = self._phone()
        if self.rng.random() < 0.97:
            person.phone = phone
        self.guardians.append(person)
        return person

    def _populate(self, family: _Family) -> None:
        """Names the children and creates their guardians and addresses."""
        rng = self.rng
        first = family.children[0]
        lang = self._family_language(self.schools[first.school].language)
        locale = self._locale(lang)
        if family.dual is not None:
            mother = family.dual
            if mother.phone is None:
                mother.phone = self._phone()
        else:
            mother = self._guardian(lang, locale, rng.random() < 0.9)
        home = self._address(locale if rng.random() < 0.3 else "fi")
        mother.address = home
        guardians: list[tuple[_Person, GuardianshipKind]] = [(mother, "custodial")]
        surname = mother.family
        if family.shape != "single":
            other_locale = locale if rng.random() < 0.9 else ("sv" if locale == "fi" else "fi")
            same_sex = rng.random() < 0.04
            other = self._guardian(lang, other_locale, mother.female == same_sex)
            shares_name = rng.random() < (0.65 if family.shape == "together" else 0.25)
            if shares_name:
                other.family = mother.family
            if family.shape == "together":
                other.address = home
            else:
                other.address = self._address(other_locale if rng.random() < 0.3 else "fi")
            kind: GuardianshipKind = "custodial"
            if family.shape == "information":
                kind = "information_right"
            guardians.append((other, kind))
            if rng.random() < (0.2 if family.shape == "together" else 0.1):
                surname = other.family
        for child in family.children:
            child.lang = lang
            child.given = self._given(locale, child.female)
            child.family = surname
            child.address = home
            sid = self.schools[child.school].id
            for guardian, kind in guardians:
                guardian.roles[(sid, "guardian")] = None
                self.guardianships.append((guardian, child, kind))
        if family.protected:
            for child in family.children:
                child.protected = True
            for guardian, _ in guardians:
                if guardian.address == home:
                    guardian.protected = True

    # -- the document ---------------------------------------------------------------------

    def _school_names(self) -> None:
        p = self.profile
        rng = self.rng
        finnish = list(_FINNISH_PLACES)
        rng.shuffle(finnish)
        swedish = list(_SWEDISH_PLACES)
        rng.shuffle(swedish)
        first = self.tenant.name if self.tenant.kind == "private" else f"{self.genitive} koulu"
        self._school(first, "comprehensive", "fi")
        for i in range(p.finnish_comprehensive - 1):
            kind = "yhtenäiskoulu" if i % 3 == 2 else "koulu"
            self._school(f"{finnish[i % len(finnish)]} {kind}", "comprehensive", "fi")
        for i in range(p.swedish_comprehensive):
            self._school(f"{swedish[i % len(swedish)]} skola", "comprehensive", "sv")
        upper_places = [self.genitive, *finnish[p.finnish_comprehensive - 1 :], *finnish]
        for i in range(p.finnish_upper):
            self._school(f"{upper_places[i]} lukio", "upper_secondary", "fi")
        for i in range(p.swedish_upper):
            place = swedish[(p.swedish_comprehensive + i) % len(swedish)]
            self._school(f"{place} gymnasium", "upper_secondary", "sv")

    def build(self) -> RosterDocument:
        p = self.profile
        rng = self.rng
        self._school_names()
        comprehensive = [i for i, s in enumerate(self.schools) if s.kind == "comprehensive"]
        upper = [i for i, s in enumerate(self.schools) if s.kind == "upper_secondary"]
        weights = [
            1.0 if i == 0 else rng.uniform(0.35, 0.6) if self.schools[i].language == "sv"
            else rng.uniform(0.6, 1.5)
            for i in comprehensive
        ]  # fmt: skip
        sizes = [round(p.comprehensive_learners * w / sum(weights)) for w in weights]
        for school, size in zip(comprehensive, sizes, strict=True):
            self._comprehensive(school, size)
        if upper:
            weights = [rng.uniform(0.7, 1.3) * (0.5 if self.schools[i].language == "sv" else 1)
                       for i in upper]  # fmt: skip
            sizes = [round(p.upper_learners * w / sum(weights)) for w in weights]
            for school, size in zip(upper, sizes, strict=True):
                self._upper_secondary(school, size)
        families = self._families()
        self._shape_families(families)
        for family in families:
            self._populate(family)
        return self._document()

    def _document(self) -> RosterDocument:
        slug = self.tenant.slug
        taken: dict[str, int] = {}
        persons: list[RosterPerson] = []
        for person in (*self.staff, *self.learners, *self.guardians):
            base = f"{_fold(person.given) or 'x'}.{_fold(person.family) or 'x'}"
            n = taken.get(base, 0) + 1
            taken[base] = n
            local = base if n == 1 else f"{base}{n}"
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


def generate(
    tenant: TenantSpec, size: SizeName, *, seed: int = DEFAULT_SEED, today: datetime.date
) -> RosterDocument:
    """A demo roster for `tenant`: one comprehensive school ("small") or a city
    of about 40 schools ("city"), the same for the same arguments."""
    if not _SLUG.match(tenant.slug):
        raise ValueError(f"tenant slug {tenant.slug!r} cannot end a username")
    if size not in _PROFILES:
        raise ValueError(f"unknown size {size!r}")
    return _Builder(tenant, _PROFILES[size], seed, today).build()


def demo_logins(doc: RosterDocument, per_role: int = 2) -> dict[str, list[str]]:
    """A few usernames per role to log in as: the class 7B of the first school
    first (its learners, their guardians, its class teacher), then others."""
    first = doc.schools[0].id if doc.schools else ""
    by_id = {p.id: p for p in doc.persons}
    seven_b = next(
        (g for g in doc.groups if g.school == first and g.kind == "class" and g.name == "7B"),
        None,
    )
    class_learners = seven_b.learners if seven_b else []
    class_teachers = seven_b.teachers if seven_b else []

    def usable(pid: str) -> bool:
        person = by_id.get(pid)
        return person is not None and person.username is not None and not person.protection_order

    def pick(preferred: list[str], role: Role) -> list[str]:
        ordered = list(dict.fromkeys(preferred))
        ordered += [p.id for p in doc.persons if any(r.school == first and r.role == role
                                                     for r in p.roles)]  # fmt: skip
        ordered += [p.id for p in doc.persons if any(r.role == role for r in p.roles)]
        out: list[str] = []
        for pid in dict.fromkeys(ordered):
            if len(out) == per_role:
                break
            username = by_id[pid].username if usable(pid) else None
            if username is not None:
                out.append(username)
        return out

    in_class = set(class_learners)
    parents = [
        gs.guardian for gs in doc.guardianships
        if gs.learner in in_class and gs.kind == "custodial" and usable(gs.learner)
    ]  # fmt: skip
    guardians = pick(parents, "guardian")
    children = [
        gs.learner for gs in doc.guardianships
        if gs.learner in in_class and by_id[gs.guardian].username in guardians
    ]  # fmt: skip
    return {
        "learner": pick([*children, *class_learners], "learner"),
        "guardian": guardians,
        "teacher": pick(list(class_teachers), "teacher"),
        "principal": pick([], "principal"),
        "secretary": pick([], "secretary"),
    }
