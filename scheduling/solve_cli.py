"""`reppu timetable solve FILE --time-limit S --seed N --out DIR [--from CURRENT]`:
solve a `.fet` file standalone; with `--from`, re-solve it after a change from
the timetable of CURRENT (a solved file), moving as few lessons as possible.

Writes into DIR:
  activities.xml   the timetable in FET's own format for that file (one
                   <Activity> with <Id>, <Day>, <Hour>, <Room>, as fet-cl
                   writes <name>_activities.xml)
  timetable.fet    the source with the timetable locked in, which FET opens
  violations.txt   every hard and soft violation the checker counts
  report.json      status, times, scores (for scripts and the benchmark)

Exit status: 0 when a complete timetable with no hard violation was found,
1 when not, 2 when the file cannot be read or has a constraint the solver
cannot enforce or cost (named on stderr; nothing is written).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import msgspec

#: exit statuses
SOLVED, NOT_SOLVED, BAD_INPUT = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("solve", help="solve a .fet file standalone")
    s.add_argument("file", type=Path)
    s.add_argument("--time-limit", type=float, default=300.0, help="seconds (default 300)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=1, help="CP-SAT workers (default 1)")
    s.add_argument(
        "--improve",
        type=float,
        default=None,
        help="after the first complete timetable, improve the soft score this many "
        "seconds more (default: until the time limit or optimal)",
    )
    s.add_argument(
        "--from",
        dest="current",
        type=Path,
        default=None,
        help="re-solve after a change: a solved .fet file (such as an earlier run's "
        "timetable.fet) whose timetable is the current one; the lessons that move "
        "from it are minimised first, then the soft score",
    )
    s.add_argument("--out", type=Path, required=True, help="directory to write into")
    s.add_argument("--quiet", action="store_true", help="no progress lines")
    s.set_defaults(run=solve_command)


def solve_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from scheduling.checker import check
    from scheduling.fet import read_fet, write_activities_xml, write_fet
    from scheduling.solver import Progress, UnsupportedConstraintError, solve

    try:
        fet = read_fet(args.file)
    except (OSError, ValueError) as exc:
        print(f"reppu timetable solve: cannot read {args.file}: {exc}", file=sys.stderr)
        return BAD_INPUT
    instance = fet.instance
    current = None
    if args.current is not None:
        try:
            current = read_fet(args.current).warm_start
        except (OSError, ValueError) as exc:
            print(f"reppu timetable solve: cannot read {args.current}: {exc}", file=sys.stderr)
            return BAD_INPUT
        if current is None:
            print(
                f"reppu timetable solve: {args.current} holds no timetable "
                "(not every active activity has a locked time)",
                file=sys.stderr,
            )
            return BAD_INPUT
    if instance.unsupported:
        # a timetable that ignored them would not be one for this file
        for u in instance.unsupported:
            print(f"reppu timetable solve: not supported: {u.count} × {u.type}", file=sys.stderr)
        return BAD_INPUT

    def progress(p: Progress) -> None:
        if not args.quiet:
            soft = "-" if p.soft is None else f"{p.soft:.2f}"
            print(f"{p.elapsed_s:7.1f}s  {p.phase:<12} soft {soft}", file=sys.stderr, flush=True)

    solve_started_s = time.perf_counter() - started
    try:
        result = solve(
            instance,
            time_limit_s=args.time_limit,
            seed=args.seed,
            workers=args.workers,
            warm_start=current if current is not None else fet.warm_start,
            minimal_change=current is not None,
            on_progress=progress,
            stop=threading.Event(),
            improve_s=args.improve,
        )
    except UnsupportedConstraintError as exc:
        # read, but a constraint (or a combination) the solver cannot enforce
        # or cost: nothing is solved rather than the constraint ignored
        print(f"reppu timetable solve: {args.file}: not supported: {exc}", file=sys.stderr)
        return BAD_INPUT
    args.out.mkdir(parents=True, exist_ok=True)
    report = None
    if result.timetable is not None:
        report = check(instance, result.timetable)
        (args.out / "activities.xml").write_text(
            write_activities_xml(instance, result.timetable), encoding="utf-8"
        )
        (args.out / "timetable.fet").write_text(
            write_fet(args.file, result.timetable), encoding="utf-8"
        )
        lines = [
            f"{args.file.name}: {'complete' if report.complete else 'INCOMPLETE'}, "
            f"hard violations {report.hard}, soft conflicts {report.soft:.2f}",
            "",
            *(
                f"{'HARD' if v.weight >= 100 else 'soft'} {v.type} "
                f"(weight {v.weight:g}, amount {v.amount:g}): {v.detail}"
                for v in report.violations
            ),
        ]
        (args.out / "violations.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    solved = report is not None and report.complete and report.hard == 0
    summary = {
        "file": str(args.file),
        "status": result.status,
        "complete": bool(report and report.complete),
        "hard": None if report is None else report.hard,
        "soft": None if report is None else report.soft,
        "first_complete_s": result.first_complete_s,
        # the solver's clock starts here (imports and reading the file before)
        "solve_started_s": solve_started_s,
        "solve_wall_s": result.wall_s,
        "cli_total_s": time.perf_counter() - started,
        "workers": result.workers,
        "seed": result.seed,
        # why there is no timetable, when that is known (status "infeasible")
        "message": result.message,
        # with --from: lessons whose day or hour differs from the current timetable
        "moved": result.moved if current is not None else None,
    }
    (args.out / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(summary)))
    print(
        f"{args.file.name}: {result.status}; "
        + (f"hard {report.hard}, soft {report.soft:.2f}" if report else "no timetable")
        + (f"; {result.moved} lessons moved" if current is not None and report else "")
        + f"; {result.wall_s:.1f} s"
        + (f"; {result.message}" if result.message else "")
    )
    return SOLVED if solved else NOT_SOLVED
