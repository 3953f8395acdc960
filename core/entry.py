"""The `reppu` console script.

`reppu timetable …` (the standalone file tools, scheduling/cli.py) goes
straight to them: importing the server's modules first (`core.cli`: the
database, auth and asyncio layers) cost 0.3 s of every such command. And
its process ends as soon as the command has written its files and flushed
its output (`os._exit`, after the `atexit` handlers), without the
interpreter freeing CP-SAT's, numba's and pandas' objects one by one: that
took 0.4-0.7 s after each `reppu timetable solve` (measured on Romania's
Tg-Mures, fet-data; docs/benchmarks.md). Every other command is
`core.cli.main`, which ends the usual way (the server's shutdown, the
embedded PostgreSQL's stop).
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["timetable"]:
        _exit_now(timetable(argv[1:]))
    from core.cli import main as cli_main

    return cli_main(argv)


def timetable(argv: list[str]) -> int:
    """`reppu timetable <argv>`: the standalone file tools, imported lazily
    and by name so that core does not depend on the scheduling package
    (also `core.cli.main`'s way there, for callers in this process)."""
    run: Callable[[list[str]], int] = importlib.import_module("scheduling.cli").main
    return run(argv)


def _exit_now(rc: int) -> NoReturn:
    """End the process with `rc` now: what it printed is flushed (a pipe's
    buffer would otherwise be lost) and the `atexit` handlers run; the
    interpreter's teardown is skipped."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a broken pipe
            pass
    atexit._run_exitfuncs()  # logging's shutdown among them
    os._exit(rc)
