"""Deterministic demo rosters: Finnish schools, their families and staff.

`generate` builds a `RosterDocument` for a tenant; the caller imports it
through the roster import like any municipality's feed (nothing here touches a
database). The same (tenant, size, seed, today) always gives the same document,
byte for byte: every random choice is drawn from one `random.Random` seeded by
them, and names come from pools that seeded Faker instances fill once.

`today` only moves birth dates (a grade 1 learner is about seven on `today`; a
school year starts in August) and what follows from age. Random draws never
depend on it, so ids, names and usernames are the same whatever `today` is.

This module holds the public API; the rest of the package builds the document:
`spec` (tenants and size profiles), `names` (name pools, usernames, phones and
addresses), `builder` (the shared state, staff and learners, the frozen rows),
`schools` (schools, classes, groups and their staff) and `families` (siblings,
guardians and guardianships).
"""

from __future__ import annotations

import datetime

from core.model import Role, RosterDocument
from core.seed.families import _FamiliesBuilder
from core.seed.names import _SLUG
from core.seed.names import _fold as _fold  # re-exported for the tests
from core.seed.schools import _SchoolsBuilder
from core.seed.spec import (
    _PROFILES,
    DEFAULT_SEED,
    DEMO_TENANT,
    SECOND_TENANT,
    SizeName,
    TenantSpec,
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


class _Builder(_SchoolsBuilder, _FamiliesBuilder):
    """Schools first, then the families of their learners, then the document."""

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
