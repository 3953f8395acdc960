"""Upper secondary course bars (palkkijärjestelmä): sections into bars and
learners into sections for one period, on instances from the demo seed.

    python -m bench.bars_bench                   # the default cases; prints markdown
    python -m bench.bars_bench --all-city        # every upper secondary school of the seed
    python -m bench.bars_bench --time-limit 30 --workers 2

Each case builds a `scheduling.bars.BarsProblem` with `synthetic_problem`
(untimed), solves it with `solve_bars` under a fixed time limit, recounts the
result with the independent `verify`, and places the bars into a 5 × 6 week
with `bars_to_slots`. `run()` returns one dict per case; `markdown()` makes
the table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

from scheduling.bars import (
    bars_to_slots,
    city_upper_secondary,
    solve_bars,
    synthetic_problem,
    verify,
    verify_slots,
)

TIME_LIMIT_S = 20.0
WORKERS = 1
SEED = 0

#: (label, keyword arguments of `synthetic_problem`)
Case = tuple[str, dict[str, Any]]

#: ~400, ~580 (the seed's largest), ~650 and ~900 learners with the derived
#: period choices and 9 bars; two of them again with 8 bars; one with the
#: seed's own year-long enrolments; then two hard ones: 7 bars for ~6.1
#: choices, and a small school (150 learners, mostly one-section courses).
DEFAULT_CASES: tuple[Case, ...] = (
    ("city school 3, period choices", {"school": 2}),
    ("city school 6, period choices", {"school": 5}),
    ("generated, 650 learners", {"learners": 650}),
    ("generated, 900 learners", {"learners": 900}),
    ("city school 3, 8 bars", {"school": 2, "bars": 8}),
    ("generated, 900 learners, 8 bars", {"learners": 900, "bars": 8}),
    ("city school 3, the seed's own enrolments", {"school": 2, "choices": "seed"}),
    ("city school 3, 7 bars", {"school": 2, "bars": 7}),
    ("generated, 150 learners", {"learners": 150}),
)


def city_cases() -> tuple[Case, ...]:
    return tuple(
        (f"city school {s.index + 1}, period choices", {"school": s.index})
        for s in city_upper_secondary()
    )


def run_case(
    label: str, kwargs: dict[str, Any], *, time_limit_s: float, workers: int, seed: int = SEED
) -> dict[str, Any]:
    problem = synthetic_problem(**kwargs)
    result = solve_bars(problem, time_limit_s=time_limit_s, workers=workers, seed=seed)
    check = verify(problem, result)
    started = time.perf_counter()
    week = bars_to_slots(problem.bars, problem.lessons_per_bar, days=5, hours=6)
    week_s = time.perf_counter() - started
    sizes = sorted(result.section_sizes.values())
    return {
        "case": label,
        "instance": problem.name,
        "learners": len(problem.learners),
        "choices": result.choices,
        "choices_per_learner": result.choices / max(1, len(problem.learners)),
        "courses": len(problem.courses),
        "sections": len(problem.sections),
        "teachers": len({s.teacher for s in problem.sections}),
        "bars": problem.bars,
        "patterns": result.patterns,
        "time_limit_s": time_limit_s,
        "workers": workers,
        "wall_s": result.wall_s,
        "search_s": result.search_s,
        "method": result.method,
        "status": result.status,
        "unresolved": result.unresolved_choices,
        "unresolved_pct": 100.0 * result.unresolved_choices / max(1, result.choices),
        "learners_short": len(result.unresolved),
        "lower_bound": result.lower_bound,
        "greedy_unresolved": result.greedy_unresolved,
        "search_unresolved": result.search_unresolved,
        "imbalance": result.imbalance,
        "balanced": result.balanced,
        "smallest": sizes[0] if sizes else 0,
        "largest": sizes[-1] if sizes else 0,
        "max_size": problem.max_size,
        "under_min": check.under_min,
        "verified": check.ok and check.unresolved_choices == result.unresolved_choices,
        "week_ms": 1000 * week_s,
        "week_ok": not verify_slots(week, problem.bars, problem.lessons_per_bar),
    }


def run(
    cases: tuple[Case, ...] = DEFAULT_CASES,
    *,
    time_limit_s: float = TIME_LIMIT_S,
    workers: int = WORKERS,
) -> list[dict[str, Any]]:
    return [run_case(label, kw, time_limit_s=time_limit_s, workers=workers) for label, kw in cases]


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    limit, workers = rows[0]["time_limit_s"], rows[0]["workers"]
    lines = [
        "## Course bars (`python -m bench.bars_bench`)",
        "",
        "One period of an upper secondary school: sections into bars, learners into "
        "sections (`scheduling/bars.py`, see docs/timetable-bars.md). Instances from the "
        "city demo seed: its upper secondary schools, or a school of a given size made by "
        "the seed's generator; choices derived for one period (core subjects ~70 % of a "
        "year, electives by popularity, years 2-3 mixed) unless marked as the seed's own. "
        f"Time limit {limit:g} s, {workers} CP-SAT worker(s), "
        f"{platform.python_version()}, {os.cpu_count()} cores. "
        "*greedy → search*: unresolved choices after the first greedy start and after "
        "stage A; *search s*: when stage A was done (for method `search` the unresolved "
        "count was final then, the rest of the time went to sizes); *imbalance*: learners "
        "away from an even split of each course, summed; *check*: `verify` recounted "
        "everything and found no clash.",
        "",
        "| case | learners | choices (per learner) | courses / sections | bars | wall s "
        "| search s | greedy → search | unresolved | lower bound | learners short "
        "| sizes | imbalance | method | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        balanced = " (proved)" if r["balanced"] else ""
        check = "ok" if r["verified"] and r["week_ok"] else "**FAILED**"
        lines.append(
            f"| {r['case']} | {r['learners']:,} | {r['choices']:,} "
            f"({r['choices_per_learner']:.1f}) | {r['courses']} / {r['sections']} "
            f"| {r['bars']} | {r['wall_s']:.1f} | {r['search_s']:.2f} "
            f"| {r['greedy_unresolved']} → {r['search_unresolved']} "
            f"| **{r['unresolved']}** ({r['unresolved_pct']:.2f} %) | {r['lower_bound']} "
            f"| {r['learners_short']} | {r['smallest']}-{r['largest']} (max {r['max_size']}) "
            f"| {r['imbalance']}{balanced} | {r['method']} | {check} |"
        )
    week = max(r["week_ms"] for r in rows)
    lines += [
        "",
        f"Bars into a 5 × 6 week (`bars_to_slots`, 3 lessons per bar): at most {week:.0f} ms, "
        "every placement verified.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bars_bench")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument(
        "--all-city", action="store_true", help="every upper secondary school of the city seed"
    )
    args = parser.parse_args()
    cases = city_cases() if args.all_city else DEFAULT_CASES
    print(markdown(run(cases, time_limit_s=args.time_limit, workers=args.workers)))


if __name__ == "__main__":
    main()
