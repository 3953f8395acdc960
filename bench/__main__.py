"""Run the benchmarks and write docs/benchmarks.md.

python3 dev.py bench [--only seed|fanout|jobs|channels|timetable|timetable-day] [--clients 1000,5000,10000]

`--only X` replaces X's section of docs/benchmarks.md and keeps the others
(the timetable comparison alone takes about an hour).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import channels_bench, fanout, jobs_bench, seed_bench, timetable, timetable_day

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument(
        "--only",
        choices=["seed", "fanout", "jobs", "channels", "timetable", "timetable-day"],
        default=None,
    )
    parser.add_argument(
        "--clients",
        default=",".join(map(str, fanout.DEFAULT_CLIENTS)),
        help="fan-out: numbers of connected websocket clients, comma-separated",
    )
    parser.add_argument(
        "--fanout-scenarios",
        default=",".join(fanout.DEFAULT_SCENARIOS),
        help=f"fan-out: a subset of {','.join(fanout.ALL_SCENARIOS)}",
    )
    parser.add_argument(
        "--timetable-seeds", type=int, default=timetable.SEEDS, help="timetable: seeds per file"
    )
    parser.add_argument(
        "--timetable-files",
        default=None,
        help="timetable: a comma-separated subset of the public set's file names",
    )
    parser.add_argument(
        "--timetable-no-beyond",
        action="store_true",
        help="timetable: skip the sample of fet-data files beyond the public set",
    )
    args = parser.parse_args()
    sections: list[str] = []
    if args.only in (None, "seed"):
        sections.append(asyncio.run(seed_bench.run()))
    if args.only in (None, "fanout"):
        clients = tuple(int(x) for x in args.clients.split(","))
        scenarios = tuple(args.fanout_scenarios.split(","))
        sections.append(asyncio.run(fanout.run(clients, scenarios=scenarios)))
    if args.only in (None, "jobs"):
        sections.append(asyncio.run(jobs_bench.run()))
    if args.only in (None, "channels"):
        sections.append(asyncio.run(channels_bench.run()))
    if args.only in (None, "timetable-day"):
        sections.append(asyncio.run(timetable_day.run()))
    if args.only in (None, "timetable"):
        files = tuple(args.timetable_files.split(",")) if args.timetable_files else None
        sections.append(
            timetable.run(
                seeds=args.timetable_seeds, only=files, beyond=not args.timetable_no_beyond
            )
        )
    header = (
        "# Benchmarks\n\n"
        f"Written by `python3 dev.py bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}.\n"
        "Numbers are from one run on this machine; ratios compare runs made side by side "
        "in the same process.\n"
    )
    if args.only is not None and DOC.exists():
        sections = _merge(DOC.read_text(), sections)
    DOC.write_text(header + "\n" + "\n\n".join(sections) + "\n")
    print(DOC.read_text())


def _merge(old: str, new: list[str]) -> list[str]:
    """The old document's sections with those of `new` put in place of the
    ones with the same heading (new headings are appended)."""
    parts = ["## " + part.rstrip() for part in old.split("\n## ")[1:]]
    heading = {section.split("\n", 1)[0]: section for section in new}
    merged = [heading.pop(part.split("\n", 1)[0], part) for part in parts]
    return merged + list(heading.values())


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
