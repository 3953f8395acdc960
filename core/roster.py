"""Roster validation without I/O.

A roster document is checked whole before anything is applied: every bad row
is reported with its path (`persons[12].birth_date`) and the reason, and if
there is one, nothing is written. Decoding is per row, so one malformed person
does not hide the problems of the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from core.model import (
    MAX_ROSTER_ROWS,
    STAFF_ROLES,
    RosterDocument,
    RosterGroup,
    RosterGuardianship,
    RosterPerson,
    RosterProblem,
    RosterSchool,
)

T = TypeVar("T")

_SECTIONS: dict[str, type[Any]] = {
    "schools": RosterSchool,
    "persons": RosterPerson,
    "groups": RosterGroup,
    "guardianships": RosterGuardianship,
}


class Known(msgspec.Struct, kw_only=True):
    """What the database already holds, by external id, for cross-checks of a
    partial document."""

    schools: frozenset[str] = frozenset()
    #: external person id -> roles held (any school)
    person_roles: Mapping[str, frozenset[str]] = {}


class Parsed(msgspec.Struct, kw_only=True):
    """A document decoded row by row: the rows that decoded, the problems of
    those that did not, and the ids those bad rows claimed (so that
    references to them are not reported a second time as unknown)."""

    doc: RosterDocument
    problems: list[RosterProblem]
    bad_ids: frozenset[str] = frozenset()
    #: section -> the original index of each row kept in `doc`
    kept: dict[str, list[int]] = {}

    def renumber(self, problems: list[RosterProblem]) -> list[RosterProblem]:
        """Paths of `check()` on `doc` renumbered to the rows of the original document."""
        out = []
        for p in problems:
            section, bracket, rest = p.path.partition("[")
            index, _, tail = rest.partition("]")
            if bracket and section in self.kept and index.isdigit():
                original = self.kept[section][int(index)]
                p = RosterProblem(path=f"{section}[{original}]{tail}", reason=p.reason)
            out.append(p)
        return out


def parse(raw: bytes, *, max_rows: int = MAX_ROSTER_ROWS) -> Parsed:
    """Decode a roster document row by row, collecting every row's problem."""
    empty = RosterDocument()
    try:
        top = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return Parsed(
            doc=empty, problems=[RosterProblem(path="$", reason=f"not valid JSON: {exc}")]
        )
    if not isinstance(top, dict):
        return Parsed(
            doc=empty, problems=[RosterProblem(path="$", reason="expected a JSON object")]
        )
    problems: list[RosterProblem] = []
    for key in top:
        if key not in _SECTIONS:
            problems.append(RosterProblem(path=key, reason="unknown section"))
    total = sum(len(v) for v in top.values() if isinstance(v, list))
    if total > max_rows:
        return Parsed(
            doc=empty, problems=[RosterProblem(path="$", reason=f"more than {max_rows} rows")]
        )
    sections: dict[str, list[Any]] = {}
    kept: dict[str, list[int]] = {}
    bad_ids: set[str] = set()
    for key, cls in _SECTIONS.items():
        rows = top.get(key, [])
        if not isinstance(rows, list):
            problems.append(RosterProblem(path=key, reason="expected an array"))
            continue
        kept[key] = []
        sections[key] = _convert_rows(key, rows, cls, problems, bad_ids, kept[key])
    return Parsed(
        doc=RosterDocument(**sections),
        problems=problems,
        bad_ids=frozenset(bad_ids),
        kept=kept,
    )


def _convert_rows(
    section: str,
    rows: list[Any],
    cls: type[T],
    problems: list[RosterProblem],
    bad_ids: set[str],
    kept: list[int],
) -> list[T]:
    out: list[T] = []
    for i, row in enumerate(rows):
        try:
            out.append(msgspec.convert(row, cls))
            kept.append(i)
        except msgspec.ValidationError as exc:
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                bad_ids.add(row["id"])
            message = str(exc)
            reason, _, where = message.rpartition(" - at `")
            if where:
                path = f"{section}[{i}]{where.rstrip('`').removeprefix('$')}"
            else:
                path, reason = f"{section}[{i}]", message
            problems.append(RosterProblem(path=path, reason=reason))
    return out


def check(
    doc: RosterDocument,
    *,
    tenant_slug: str,
    known: Known | None = None,
    bad_ids: frozenset[str] = frozenset(),
) -> list[RosterProblem]:
    """Cross-row checks: unique ids, references that resolve (in the document
    or in `known`), roles that fit what a row says about a person."""
    known = known or Known()
    problems: list[RosterProblem] = []

    def dupes(section: str, keys: Iterable[str], what: str) -> None:
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key in seen:
                problems.append(
                    RosterProblem(path=f"{section}[{i}]", reason=f"duplicate {what} {key!r}")
                )
            seen.add(key)

    dupes("schools", (s.id for s in doc.schools), "id")
    dupes("persons", (p.id for p in doc.persons), "id")
    dupes("groups", (g.id for g in doc.groups), "id")
    dupes("persons", (p.username or f"\0{i}" for i, p in enumerate(doc.persons)), "username")
    dupes(
        "guardianships", (f"{g.guardian} -> {g.learner}" for g in doc.guardianships), "guardianship"
    )

    schools = known.schools | {s.id for s in doc.schools} | bad_ids
    roles: dict[str, frozenset[str]] = dict(known.person_roles)
    # A row that failed to decode is reported already; references to it pass.
    roles |= {i: frozenset({"learner", "guardian", "teacher"}) for i in bad_ids}
    for p in doc.persons:
        roles[p.id] = frozenset(r.role for r in p.roles)

    for i, p in enumerate(doc.persons):
        if p.username is not None and not p.username.endswith(f"@{tenant_slug}"):
            problems.append(
                RosterProblem(path=f"persons[{i}].username", reason=f"must end with @{tenant_slug}")
            )
        for j, r in enumerate(p.roles):
            if r.school not in schools:
                problems.append(
                    RosterProblem(
                        path=f"persons[{i}].roles[{j}].school",
                        reason=f"unknown school {r.school!r}",
                    )
                )
        pairs = Counter((r.school, r.role) for r in p.roles)
        if any(n > 1 for n in pairs.values()):
            problems.append(RosterProblem(path=f"persons[{i}].roles", reason="duplicate role"))
        if any(r.role == "learner" for r in p.roles) and p.birth_date is None:
            problems.append(
                RosterProblem(
                    path=f"persons[{i}].birth_date", reason="a learner needs a date of birth"
                )
            )

    for i, g in enumerate(doc.groups):
        if g.school not in schools:
            problems.append(
                RosterProblem(path=f"groups[{i}].school", reason=f"unknown school {g.school!r}")
            )
        for j, pid in enumerate(g.learners):
            if pid not in roles:
                problems.append(
                    RosterProblem(
                        path=f"groups[{i}].learners[{j}]", reason=f"unknown person {pid!r}"
                    )
                )
            elif "learner" not in roles[pid]:
                problems.append(
                    RosterProblem(
                        path=f"groups[{i}].learners[{j}]", reason=f"{pid!r} is not a learner"
                    )
                )
        for j, pid in enumerate(g.teachers):
            if pid not in roles:
                problems.append(
                    RosterProblem(
                        path=f"groups[{i}].teachers[{j}]", reason=f"unknown person {pid!r}"
                    )
                )
            elif not roles[pid] & STAFF_ROLES:
                problems.append(
                    RosterProblem(path=f"groups[{i}].teachers[{j}]", reason=f"{pid!r} is not staff")
                )
        for what, ids in (("learners", g.learners), ("teachers", g.teachers)):
            if len(set(ids)) != len(ids):
                problems.append(
                    RosterProblem(path=f"groups[{i}].{what}", reason="lists a person twice")
                )

    for i, gs in enumerate(doc.guardianships):
        if gs.guardian == gs.learner:
            problems.append(
                RosterProblem(
                    path=f"guardianships[{i}]", reason="a person cannot be their own guardian"
                )
            )
        for field in ("guardian", "learner"):
            pid = getattr(gs, field)
            if pid not in roles:
                problems.append(
                    RosterProblem(
                        path=f"guardianships[{i}].{field}", reason=f"unknown person {pid!r}"
                    )
                )
        if gs.learner in roles and "learner" not in roles[gs.learner]:
            problems.append(
                RosterProblem(
                    path=f"guardianships[{i}].learner", reason=f"{gs.learner!r} is not a learner"
                )
            )
    return problems
