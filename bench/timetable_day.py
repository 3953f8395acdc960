"""A school morning of timetable changes, with every affected person connected.

python3 dev.py bench --only timetable-day

The city demo is seeded into a fresh database; the comprehensive school whose
learner count is nearest `SCHOOL_LEARNERS` gets a published timetable (placed
first-fit from its roster problem: this benchmark measures how changes reach
people, not the solver). One `reppu serve` process (memory broker) serves; the
load generator (bench.fanout_loadgen) opens a live socket for every learner of
the school, every guardian of them and every teacher of the school.

Then the secretary makes `CHANGES` changes, one request at a time, on the next
school day: cancellations, room moves, substitutions and extra lessons, each
on a lesson of that day. Each change's note carries a marker with the time
just before its request, so the load generator timestamps every frame that
holds it. Per change: the time from the request that saves it to the last
affected client's receipt. At the end, from PostgreSQL: how many people the
morning's changes affected, how many notices were sent (superseded ones
included), how many were withdrawn, and how many each person holds now.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import asyncpg
import httpx

from bench.fanout_loadgen import quantiles
from bench.fanout_procs import (
    APP_ROLE,
    SECRET,
    LoadGen,
    create_db,
    drop_db,
    dsn_of,
    maintain,
    raise_nofile,
    run_cli,
    start_hub,
    wait_http_ready,
)

SCHOOL_LEARNERS: Final = 1000
CHANGES: Final = 50
PORT: Final = 8790
#: seconds to wait for one change's frames
WAIT_S: Final = 30.0


def first_fit(instance: Any) -> tuple[Any, Any]:
    """Place each activity at the first start where its teachers, subgroups and
    duration fit (no rooms, no soft goals); an activity that fits nowhere (an
    overloaded teacher in the generated roster) is left out. Returns the
    instance of the placed activities and their timetable."""
    import msgspec

    from scheduling.model import Placement, Timetable

    days, hours = len(instance.days), len(instance.hours)
    busy: set[tuple[str, int, int]] = set()
    placements = []
    order = sorted(
        instance.activities,
        key=lambda a: (-a.duration, -len(a.students), -len(a.teachers), a.id),
    )
    for a in order:
        units = [("t:" + t) for t in a.teachers] + [
            "s:" + sg for s in a.students for sg in instance.subgroups_of(s)
        ]
        for d in range(days):
            placed = False
            for h in range(hours - a.duration + 1):
                slots = [(u, d, h + k) for u in units for k in range(a.duration)]
                if not any(x in busy for x in slots):
                    busy.update(slots)
                    placements.append(Placement(activity=a.id, day=d, hour=h))
                    placed = True
                    break
            if placed:
                break
    placed = {p.activity for p in placements}
    kept = tuple(a for a in instance.activities if a.id in placed)
    return msgspec.structs.replace(instance, activities=kept), Timetable(
        placements=tuple(placements)
    )


async def _setup(db_name: str, on: date) -> dict[str, Any]:
    """Pick the school, publish its timetable; who is connected; the secretary."""
    from core.config import Settings
    from core.db import Database, app_dsn
    from scheduling.publish import lesson_rows, write_timetable
    from scheduling.roster import instance_from_roster

    admin = await asyncpg.connect(dsn_of(db_name))
    try:
        tid = await admin.fetchval("SELECT id FROM tenants WHERE slug = 'kuusikko'")
        school = await admin.fetchrow(
            "SELECT s.id, s.name, count(*) AS learners FROM schools s "
            "JOIN person_roles r ON r.school_id = s.id AND r.role = 'learner' "
            "WHERE s.tenant_id = $1 AND s.kind = 'comprehensive' GROUP BY s.id, s.name "
            "ORDER BY abs(count(*) - $2), s.name LIMIT 1",
            tid,
            SCHOOL_LEARNERS,
        )
        assert school is not None
        people = await admin.fetch(
            """
            SELECT DISTINCT p.id, l.subject FROM persons p JOIN logins l ON l.person_id = p.id
            WHERE l.provider = 'reppu' AND p.id IN (
                SELECT person_id FROM person_roles WHERE school_id = $1
                  AND role IN ('learner', 'teacher')
                UNION SELECT g.guardian_id FROM guardianships g
                  JOIN person_roles r ON r.person_id = g.learner_id AND r.role = 'learner'
                  WHERE r.school_id = $1)
            """,
            school["id"],
        )
        secretary = await admin.fetchval(
            "SELECT l.subject FROM logins l JOIN person_roles r ON r.person_id = l.person_id "
            "WHERE r.school_id = $1 AND r.role = 'secretary' AND l.provider = 'reppu' "
            "ORDER BY l.subject LIMIT 1",
            school["id"],
        )
    finally:
        await admin.close()
    settings = Settings.from_env({"REPPU_SECRET": SECRET, "REPPU_APP_ROLE": APP_ROLE})
    db = await Database.connect(app_dsn(dsn_of(db_name), settings), min_size=1, max_size=2)
    try:
        async with db.tenant(tid) as conn:
            instance = await instance_from_roster(conn, school["id"], name=school["name"])
            started = time.perf_counter()
            full = len(instance.activities)
            instance, timetable = first_fit(instance)
            placed_s = time.perf_counter() - started
            monday = on - timedelta(days=on.weekday())
            view = await write_timetable(
                conn,
                tid,
                school["id"],
                "Bench",
                monday - timedelta(days=7),
                monday + timedelta(days=60),
                lesson_rows(instance, timetable),
                solve_id=None,
                published_by=None,
                now=_utcnow(),
            )
            lessons = await conn.fetch(
                "SELECT id, starts, ends, subject, group_id, teacher_ids, room "
                "FROM timetable_lessons WHERE timetable_id = $1 AND weekday = $2 ORDER BY id",
                view.id,
                on.isoweekday(),
            )
            teachers = [
                r["person_id"]
                for r in await conn.fetch(
                    "SELECT person_id FROM person_roles WHERE school_id = $1 AND role = 'teacher' "
                    "ORDER BY person_id",
                    school["id"],
                )
            ]
    finally:
        await db.close()
    return {
        "tenant": tid,
        "school": school,
        "people": [(r["subject"], r["id"]) for r in people],
        "secretary": secretary,
        "lessons": lessons,
        "teachers": teachers,
        "activities": len(instance.activities),
        "left_out": full - len(instance.activities),
        "placed_s": placed_s,
    }


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def plan_changes(lessons: list[Any], teachers: list[UUID], n: int) -> list[dict[str, Any]]:
    """`n` changes on distinct lessons of the day, seeded: cancel, move (room),
    substitute (a teacher free then), extra lesson."""
    rng = random.Random(7)
    picked = rng.sample(list(lessons), min(n, len(lessons)))
    busy: dict[UUID, list[tuple[dtime, dtime]]] = defaultdict(list)
    for x in lessons:
        for t in x["teacher_ids"]:
            busy[t].append((x["starts"], x["ends"]))
    kinds = ["cancel"] * 15 + ["move"] * 10 + ["substitute"] * 20 + ["extra"] * 5
    out: list[dict[str, Any]] = []
    for i, lesson in enumerate(picked):
        kind = kinds[i % len(kinds)]
        change: dict[str, Any] = {"kind": kind}
        if kind == "extra":
            change.update(
                subject=lesson["subject"],
                group_id=str(lesson["group_id"]),
                starts="15:30:00",
                ends="16:15:00",
                room=f"LISÄ{i}",
                teacher_ids=[str(t) for t in lesson["teacher_ids"]],
            )
        else:
            change["lesson_id"] = str(lesson["id"])
        if kind == "move":
            change["room"] = f"B{200 + i}"
        if kind == "substitute":
            free = [
                t
                for t in teachers
                if t not in lesson["teacher_ids"]
                and not any(s < lesson["ends"] and lesson["starts"] < e for s, e in busy[t])
            ]
            if not free:
                change = {"kind": "cancel", "lesson_id": str(lesson["id"])}
            else:
                sub = rng.choice(free)
                busy[sub].append((lesson["starts"], lesson["ends"]))
                change["substitute_id"] = str(sub)
        out.append(change)
    return out


async def _counts(db_name: str, school_id: UUID, on: date) -> dict[str, int]:
    admin = await asyncpg.connect(dsn_of(db_name))
    try:
        row = await admin.fetchrow(
            """
            WITH notices AS (
                SELECT i.person_id, i.withdrawn_at FROM inbox i
                JOIN messages m ON m.tenant_id = i.tenant_id AND m.id = i.message_id
                WHERE m.source = 'timetable' AND m.idempotency_key LIKE 'timetable:change:%'
            ), per AS (
                SELECT person_id, count(*) FILTER (WHERE withdrawn_at IS NULL) AS active
                FROM notices GROUP BY person_id
            )
            SELECT (SELECT count(*) FROM timetable_notices
                    WHERE school_id = $1 AND on_date = $2) AS affected,
                   (SELECT count(*) FROM notices) AS sent,
                   (SELECT count(*) FROM notices WHERE withdrawn_at IS NOT NULL) AS withdrawn,
                   (SELECT count(*) FROM notices WHERE withdrawn_at IS NULL) AS active,
                   (SELECT count(*) FROM per WHERE active > 1) AS more_than_one
            """,
            school_id,
            on,
        )
    finally:
        await admin.close()
    assert row is not None
    return dict(row)


async def run() -> str:
    raise_nofile()
    logdir = Path(tempfile.mkdtemp(prefix="reppu-timetable-day-"))
    today = date.today()
    on = today + timedelta(days=1)
    while on.isoweekday() > 5:
        on += timedelta(days=1)
    db_name = await create_db()
    node = None
    gen = None
    try:
        run_cli(db_name, "seed", "--size", "city")
        await maintain(db_name)
        setup = await _setup(db_name, on)
        await maintain(db_name)
        node = start_hub("hub-day", db_name, PORT, logdir)
        base = f"http://127.0.0.1:{PORT}"
        await wait_http_ready(node, base)
        gen = await LoadGen.start("none", logdir)
        names = [u for u, _ in setup["people"]]
        got = await gen.call("login", base=base, usernames=names)
        ws = base.replace("http://", "ws://") + "/v1/live"
        conn = await gen.call(
            "connect",
            clients=[{"http": base, "ws": ws, "token": t} for t in got["tokens"] if t],
            concurrency=64,
        )
        changes = plan_changes(setup["lessons"], setup["teachers"], CHANGES)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            r = await client.post("/v1/auth/dev-login", json={"username": setup["secretary"]})
            auth = {"Authorization": f"Bearer {r.json()['token']}"}
            per_change: list[float] = []
            notified: list[int] = []
            missing = 0
            request_ms: list[float] = []
            for i, change in enumerate(changes):
                burst = f"c{i}"
                await gen.call("expect", burst=burst, frames=10**9)
                t0 = time.time()
                change["note"] = f"@@{burst}|{i}|{t0:.6f}@@"
                change["date"] = on.isoformat()
                r = await client.post(
                    "/v1/timetable/changes",
                    json={"school_id": str(setup["school"]["id"]), "changes": [change]},
                    headers=auth,
                )
                request_ms.append((time.time() - t0) * 1000)
                if r.status_code != 201:
                    raise RuntimeError(f"change {i}: {r.status_code} {r.text[:300]}")
                n = r.json()["notices"][on.isoformat()]["notified"]
                notified.append(n)
                await gen.call("set_expected", frames=n)
                w = await gen.call("wait", within_s=WAIT_S)
                missing += max(0, n - w["received"])
                if w["received"]:
                    per_change.append((w["last_recv"] - t0) * 1000)
        stats = await gen.call("stats")
        counts = await _counts(db_name, setup["school"]["id"], on)
    finally:
        if gen is not None:
            await gen.stop()
        if node is not None:
            node.stop()
        with contextlib.suppress(Exception):
            await drop_db(db_name)
    last = quantiles(per_change)
    req = quantiles(request_ms)
    kinds: dict[str, int] = defaultdict(int)
    for c in changes:
        kinds[c["kind"]] += 1
    lines = [
        "## Timetable changes: a morning of 50 changes",
        "",
        f"`python3 dev.py bench --only timetable-day`. City demo; school "
        f"{setup['school']['name']} with {setup['school']['learners']} learners, "
        f"{setup['activities']} weekly lessons placed first-fit in "
        f"{setup['placed_s']:.2f} s and published ({setup['left_out']} of the generated "
        "roster's lessons fit nowhere and were left out). One `reppu serve` (memory broker); "
        f"{conn['ok']} live sockets open ({conn['failed']} failed): every learner of the "
        f"school, their guardians and the school's teachers. The secretary made "
        f"{len(changes)} changes on {on:%a %d.%m.%Y} one request at a time "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}).",
        "",
        "| measure | p50 | p99 | max |",
        "|---|---|---|---|",
        f"| change saved → last affected client's receipt (ms) | {last.get('p50', 0):.0f} | "
        f"{last.get('p99', 0):.0f} | {last.get('max', 0):.0f} |",
        f"| the change request itself (ms; includes the notices) | {req.get('p50', 0):.0f} | "
        f"{req.get('p99', 0):.0f} | {req.get('max', 0):.0f} |",
        "",
        f"People notified per change: median {sorted(notified)[len(notified) // 2]}, "
        f"max {max(notified)}. Frames that did not arrive within {WAIT_S:.0f} s: {missing}. "
        f"Sockets still open at the end: {stats['open']} of {stats['clients']}.",
        "",
        "| notices | count |",
        "|---|---|",
        f"| people affected by the morning's changes | {counts['affected']} |",
        f"| notices sent (each an inbox row and a live frame) | {counts['sent']} |",
        f"| superseded while unread, withdrawn | {counts['withdrawn']} |",
        f"| notices people hold now | {counts['active']} |",
        f"| people holding more than one | {counts['more_than_one']} |",
        "",
        "Coalescing: each affected person holds exactly one notice for the day "
        "(held = affected); a person whose day changed again got the new summary and "
        "the old one, unread, was withdrawn — that is the difference between sent and held.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(asyncio.run(run()))
