"""`reppu timetable …`: the standalone timetable file tools.

    reppu timetable import-fet FILE [--json OUT]
        Read a FET file and summarise it: the grid, the counts, the constraints
        by type (hard/soft), and the FET constraint types the model does not
        cover. `--json` writes the `Instance` as JSON.
        Exit 0: everything in the file is supported; 3: some constraint types
        are not (listed); 2: the file cannot be read.

    reppu timetable export-fet SOURCE.fet ACTIVITIES.xml --out OUT.fet
        Write SOURCE's data with the timetable of ACTIVITIES.xml (FET's
        `<name>_activities.xml` format) locked in, as FET writes
        `<name>_data_and_timetable.fet`; FET opens it and shows that timetable.
        Exit 0, or 2 on unreadable input.

    reppu timetable solve FILE --time-limit S --seed N --out DIR
                          [--workers W] [--improve S] [--from CURRENT]
        Solve FILE standalone; DIR gets activities.xml (FET's format),
        timetable.fet (FET opens it), violations.txt and report.json
        (scheduling/solve_cli.py). Exit 0: a complete timetable with no hard
        violation; 1: none found; 2: the file cannot be read. With --from, a
        re-solve after a change: CURRENT is a solved .fet file (an earlier
        run's timetable.fet) and the lessons moved from its timetable are
        minimised first.

`core/cli.py` hands `reppu timetable <rest>` to `main(rest)`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import msgspec

from scheduling.fet import FetError, FetFile, read_activities_xml, read_fet, write_fet
from scheduling.model import HARD

#: exit statuses
OK, BAD_INPUT, UNSUPPORTED = 0, 2, 3

_Command = Callable[[argparse.Namespace], int]


def _fail(command: str, message: str) -> int:
    print(f"reppu timetable {command}: {message}", file=sys.stderr)
    return BAD_INPUT


# --- import-fet -------------------------------------------------------------------


def summary(fet: FetFile) -> list[str]:
    """The human-readable summary `import-fet` prints."""
    inst = fet.instance
    subgroups = {s for st in inst.students for s in st.subgroups}
    lines = [
        f"{fet.source}: {inst.name}",
        f"  {len(inst.days)} days × {len(inst.hours)} hours"
        + (
            f" (mornings-afternoons: {len(inst.days) // inst.days_per_real_day} real days; "
            "min days count real days)"
            if inst.days_per_real_day > 1
            else ""
        ),
        f"  {len(inst.activities)} activities "
        f"({sum(a.duration for a in inst.activities)} hours a week), "
        f"{len(inst.teachers)} teachers, {len(subgroups)} subgroups "
        f"(in {len(inst.students)} students sets), {len(inst.rooms)} rooms, "
        f"{len(inst.subjects)} subjects",
    ]
    if fet.warm_start is not None:
        lines.append(
            f"  solved file: its timetable ({len(fet.warm_start.placements)} placements) "
            "is read as a warm start, not as constraints"
        )
    by_type: Counter[str] = Counter()
    hard: Counter[str] = Counter()
    for c in inst.constraints:
        name = type(c).__name__
        by_type[name] += 1
        if c.weight >= HARD:
            hard[name] += 1
    lines.append(f"  {len(inst.constraints)} constraints (total / hard / soft):")
    width = max((len(t) for t in by_type), default=0)
    for name, n in sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"    {name:<{width}}  {n:6d} {hard[name]:6d} {n - hard[name]:6d}")
    t = fet.tally
    lines.append(
        f"  not constraints: {t.implicit} implicit (basic compulsory), {t.inactive} inactive, "
        f"{t.inactive_activities} only on inactive activities, {t.warm_start} timetable locks"
    )
    if inst.unsupported:
        lines.append(
            f"  UNSUPPORTED: {len(inst.unsupported)} types the model does not cover "
            "(a timetable for this file is not comparable with FET's):"
        )
        width = max(len(u.type) for u in inst.unsupported)
        for u in sorted(inst.unsupported, key=lambda u: (-u.count, u.type)):
            lines.append(f"    {u.type:<{width}}  {u.count:6d}")
    else:
        lines.append("  everything in the file is supported")
    return lines


def _import_fet(args: argparse.Namespace) -> int:
    try:
        fet = read_fet(args.file)
    except (FetError, ValueError, OSError) as e:
        return _fail("import-fet", str(e))
    print("\n".join(summary(fet)))
    if args.json is not None:
        try:
            args.json.write_bytes(msgspec.json.format(msgspec.json.encode(fet.instance)) + b"\n")
        except OSError as e:
            return _fail("import-fet", f"cannot write {args.json}: {e.strerror}")
        print(f"wrote {args.json}")
    return UNSUPPORTED if fet.instance.unsupported else OK


# --- export-fet -------------------------------------------------------------------


def _export_fet(args: argparse.Namespace) -> int:
    try:
        fet = read_fet(args.source)
        timetable = read_activities_xml(args.activities, fet.instance)
        text = write_fet(args.source, timetable)
    except (FetError, ValueError, OSError) as e:
        return _fail("export-fet", str(e))
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as e:
        return _fail("export-fet", f"cannot write {args.out}: {e.strerror}")
    rooms = sum(1 for p in timetable.placements if p.room is not None)
    print(
        f"wrote {args.out}: {len(timetable.placements)} of {len(fet.instance.activities)} "
        f"activities locked ({rooms} with a room)"
    )
    return OK


# --- solve ----------------------------------------------------------------------------


def _add_solve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`reppu timetable solve` (scheduling/solve_cli.py)."""
    from scheduling import solve_cli

    solve_cli.add_parser(sub)


# --- main -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reppu timetable", description="timetable file tools")
    sub = p.add_subparsers(dest="command", required=True)

    i = sub.add_parser("import-fet", help="read a .fet file and summarise it")
    i.add_argument("file", type=Path)
    i.add_argument("--json", type=Path, metavar="OUT", help="write the instance as JSON")
    i.set_defaults(run=_import_fet)

    e = sub.add_parser("export-fet", help="write a .fet file with a timetable locked in")
    e.add_argument("source", type=Path, metavar="SOURCE.fet")
    e.add_argument("activities", type=Path, metavar="ACTIVITIES.xml")
    e.add_argument("--out", type=Path, required=True, metavar="OUT.fet")
    e.set_defaults(run=_export_fet)

    _add_solve(sub)
    return p


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # -h, or a usage error (argparse already said what)
        return e.code if isinstance(e.code, int) else BAD_INPUT
    run: _Command = args.run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
