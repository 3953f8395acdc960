"""Families: learners grouped into siblings, the shape of each family (one or two
guardians, together or apart, protected or not), and the guardians, names and
home addresses that follow from it."""

from __future__ import annotations

from core.model import GuardianshipKind, Language
from core.seed.builder import _BuilderBase, _Person

# How many children of a family the document holds, and its guardians.
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
_GUARDIAN_DOMAINS = ("example.fi", "example.com", "example.net", "example.org")


class _Family:
    __slots__ = ("children", "dual", "protected", "shape")

    def __init__(self, children: list[_Person]) -> None:
        self.children = children
        #: "single", "together", "joint" (custodial, apart) or "information" (apart)
        self.shape = "single"
        self.protected = False
        #: a teacher at the children's school who is their first guardian
        self.dual: _Person | None = None


class _FamiliesBuilder(_BuilderBase):
    """The families of the learners the schools were filled with."""

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
