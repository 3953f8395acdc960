"""Schools and what happens in them: school names, classes and teaching groups
(grades 7-9 languages and optional subjects, upper secondary courses), and the
principals, secretaries, teachers and assistants who run them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.model import GroupKind, Language, RosterSchool, SchoolKind
from core.seed.builder import _BuilderBase, _Group, _Person
from core.seed.names import _fold

_LETTERS = "ABCDEFGHJKLMNOPQRSTU"

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


def _even(total: int, parts: int) -> list[int]:
    """`total` split into `parts` sizes that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class _SchoolsBuilder(_BuilderBase):
    """The schools of a document, with their classes, groups and staff."""

    # -- schools --------------------------------------------------------------------------

    def _school(self, name: str, kind: SchoolKind, lang: Language) -> int:
        sid = f"sch-{self.tenant.slug}-{len(self.schools) + 1}"
        self.schools.append(RosterSchool(id=sid, name=name, kind=kind, language=lang))
        self.teachers_by_school.append([])
        return len(self.schools) - 1

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
