"""The fan-out benchmark's markdown section, and the summary of a py-spy
profile (raw collapsed stacks: `frame;frame;... count`)."""

from __future__ import annotations

import collections
import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.fanout import Level, Population, Results, Scenario

#: The issue's targets.
RATIO_TARGET = 0.6
P99_TARGET_MS = 250.0
P99_TARGET_CLIENTS = 5000
KIB_TARGET = 32.0
RATE_TARGET = 300

_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")

GC_AREA = "CPython cyclic garbage collector (gc_collect_main)"
ZLIB_AREA = "zlib (permessage-deflate compression per connection)"

#: Leaf file → area, first match wins.
AREAS = (
    ("permessage_deflate", "permessage-deflate wrapper (Python part)"),
    ("websockets/", "websockets protocol (framing, sans-io)"),
    ("uvicorn/", "uvicorn websocket/HTTP protocol"),
    ("h11/", "h11 HTTP parsing"),
    ("litestar/", "litestar (ASGI app, websocket wrapper, routing)"),
    ("asyncpg/", "asyncpg (PostgreSQL driver)"),
    ("asyncio/", "asyncio event loop, tasks, transports"),
    ("selectors", "asyncio event loop, tasks, transports"),
    ("hub/", "hub code (live sessions, frames, fan-out, actions)"),
    ("core/", "core code"),
    ("msgspec", "msgspec"),
    ("jwt/", "PyJWT"),
    ("logging/", "logging"),
    ("uuid", "uuid"),
)

#: Functions whose inclusive share is shown (name as py-spy prints it).
INCLUSIVE = (
    ("Hub._publish", "publishing (`Hub._publish`: audience, SQL, frames to the sessions)"),
    ("resolve", "… of which the audience (`hub.audience.resolve`, its SQL included)"),
    ("publish_rows", "… of which the message, heads and inbox rows (`store.publish_rows`)"),
    ("Fanout.message", "… of which the frames (`Fanout.message` → `LiveNode.take_message`)"),
    ("Wire.send", "… … of which writing them (`Wire.send`: websockets framing, socket write)"),
    ("LiveNode._drain", "queued frames of slow or resyncing sessions (`LiveNode._drain`)"),
    ("LiveNode._flush", "delivered-at marks (`LiveNode._flush` → UPDATE inbox)"),
    ("gc_collect_main", "CPython's cyclic garbage collector (triggered anywhere)"),
)


def _parse(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame)
    if not m:
        return frame, ""
    return m.group(1), m.group(2)


def _sample_area(frames: list[tuple[str, str]]) -> str:
    """Native frames first (the collector, zlib), then the nearest Python frame's file."""
    names = [fn for fn, _ in frames]
    if any(n.startswith("gc_collect") for n in names):
        return GC_AREA
    if any("libz." in path or fn.startswith(("deflate", "zlib_")) for fn, path in frames):
        return ZLIB_AREA
    for _fn, path in reversed(frames):
        if ".py" in path:
            area = _area(path)
            if area.startswith("asyncio") and frames[-1][1].startswith("libc"):
                return "socket syscalls (send, recv, epoll) from the event loop"
            return area
    return "other native code"


def summarise_profile(
    raw: str, wall_s: float, rate_hz: int, delivered: dict[str, Any], clients: int
) -> dict[str, Any]:
    """Samples of the event-loop thread only (other threads, such as the
    default executor's idle workers, are left out); a sample whose Python leaf
    is the selector's wait is idle."""
    busy = idle = 0
    self_fn: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    triggers: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_parse(f) for f in stack.split(";")]
        names = {f for f, _ in frames}
        if not any(name.endswith("run_forever") for name in names):
            continue
        py = [f for f in frames if ".py" in f[1]] or frames
        fn, path = py[-1]
        if fn.endswith("Selector.select") and not any(x.startswith("gc_collect") for x in names):
            idle += n
            continue
        busy += n
        area = _sample_area(frames)
        areas[area] += n
        if area != GC_AREA:
            self_fn[f"{fn} ({_short(path)})"] += n
        else:
            triggers[_trigger(frames)] += n
        for key, _ in INCLUSIVE:
            if key in names:
                incl[key] += n
    return {
        "samples": busy,
        "wall_s": wall_s,
        "busy": busy / max(1, busy + idle),
        "top": self_fn.most_common(12),
        "gc_triggers": triggers.most_common(5),
        "areas": areas.most_common(),
        "inclusive": [(label, incl[key]) for key, label in INCLUSIVE],
        "received": delivered.get("received", 0),
        "expected": delivered.get("expected", 0),
        "clients": clients,
    }


def _trigger(frames: list[tuple[str, str]]) -> str:
    """Where a collection started: asyncpg decoding rows (a C callee of the
    transport's data_received), else the innermost Python function."""
    if any(fn.startswith(("CoreProtocol", "BaseProtocol__decode_row")) for fn, _ in frames):
        return "asyncpg decoding result rows (Record, UUID, timestamptz objects)"
    py = [f for f in frames if ".py" in f[1]]
    fn, path = py[-1] if py else frames[-1]
    return f"{fn} ({_short(path)})"


def _short(path: str) -> str:
    for root in ("site-packages/", "python3.11/", "/work/main/"):
        if root in path:
            return path.split(root, 1)[1]
    return path


def _area(path: str) -> str:
    for needle, name in AREAS:
        if needle in path:
            return name
    return "other"


# ---- the section ---------------------------------------------------------------------------


def _ms(lat: dict[str, Any], key: str) -> str:
    v = lat.get(key)
    return "–" if v is None else f"{v:,.0f}"


def _cores(lv: Level, hub: bool) -> str:
    keys = ["server", "loadgen"] + (["postgres"] if hub else [])
    if "redis" in lv.cores:
        keys.append("redis")
    keys.append("other")
    return " / ".join(f"{lv.cores.get(k, 0):.2f}" for k in keys)


def _level_row(lv: Level, base: Level | None, hub: bool) -> str:
    single, burst = lv.single.get("latency", {}), lv.burst.get("latency", {})
    delivered = f"{lv.burst.get('received_all', 0):,} / {lv.burst.get('expected_all', 0):,}"
    ratio = ""
    if base is not None and base.frames_per_s:
        ratio = f" | **{lv.frames_per_s / base.frames_per_s:.2f}×**"
    rows = f" | {lv.rows_per_announcement:,.0f}" if hub else ""
    connects = lv.connect["ok"] / max(1e-9, lv.connect["seconds"])
    return (
        f"| {lv.clients:,}{rows} | {lv.post_ms:,.0f} | {_ms(single, 'p50')} | {_ms(single, 'p99')} "
        f"| {lv.frames_per_s:,.0f}{ratio} | {_ms(burst, 'p50')} | {_ms(burst, 'p99')} "
        f"| {delivered} | {lv.rss_kib_per_conn:.1f} | {connects:,.0f} | {_cores(lv, hub)} |"
    )


def _table(sc: Scenario, base: Scenario | None, hub: bool) -> str:
    by_n = {lv.clients: lv for lv in base.levels} if base else {}
    ratio_h = " | frames/s ÷ baseline" if base else ""
    rows_h = " | inbox rows per announcement" if hub else ""
    post_h = "POST ms (single, median)" if hub else "trigger → ok ms (single, median)"
    cores_h = "server / load gen" + (" / PostgreSQL" if hub else "")
    if any("redis" in lv.cores for lv in sc.levels):
        cores_h += " / Redis"
    cores_h += " / rest of the machine"
    head = (
        f"| clients{rows_h} | {post_h} | single p50 ms | single p99 ms "
        f"| burst frames/s{ratio_h} | burst p50 ms | burst p99 ms "
        f"| burst frames delivered / expected (all bursts) | KiB per idle connection | connects/s "
        f"| cores used in the burst: {cores_h} |"
    )
    cols = head.count("|") - 1
    lines = [head, "|" + "---:|" * cols]
    lines += [_level_row(lv, by_n.get(lv.clients), hub) for lv in sc.levels]
    extra = [f"- {n}" for n in sc.notes]
    for lv in sc.levels:
        if lv.closed:
            extra.append(f"- {lv.clients:,} clients: connections closed by then: {lv.closed}")
        missing = lv.burst.get("expected_all", 0) - lv.burst.get("received_all", 0)
        per_client = lv.burst.get("clients_by_frames", {})
        if (
            not missing
            and per_client
            and set(per_client) != {str(lv.burst["expected"] // lv.clients)}
        ):
            extra.append(
                f"- {lv.clients:,} clients: uneven delivery (duplicates or losses): clients by "
                f"frames received: {per_client}"
            )
        if missing:
            extra.append(
                f"- {lv.clients:,} clients: {missing:,} burst frames not received within the "
                f"timeout; clients by frames received: {lv.burst.get('clients_by_frames')}"
            )
    return "\n".join(lines + (["", *extra] if extra else []))


def _verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def render(res: Results) -> str:
    from bench import fanout as f

    pop, levels = res.pop, res.levels
    base, mem, red = res.base, res.mem, res.red
    offered = (
        "offer permessage-deflate as browsers do; the baseline accepts it (the `websockets` "
        "default), the hub declines it (`core.cli.WS_PER_MESSAGE_DEFLATE`: it would cost "
        "~44 KiB per connection against the 32 KiB bound, for little on ~600-byte frames), so "
        "the baseline compresses every frame and the hub none; the diagnostics below and the "
        "last ratio rows of the targets compare the two with neither compressing"
        if res.compression == "deflate"
        else "do not offer compression"
    )
    out = [
        "## Live fan-out (`python3 dev.py bench --only fanout`)",
        "",
        f"One run on {os.cpu_count()} cores shared by everything: the server(s), the load "
        "generator (one Python process, `websockets` asyncio client), PostgreSQL, Redis and "
        "the publisher. Absolute numbers are therefore lower than on separate machines, for "
        "the baseline and the hub alike; the ratios compare scenarios run minutes apart on "
        f"the same machine with the same load generator. Clients {offered}. Open-file limit "
        f"{res.nofile:,}. Whole benchmark {res.elapsed_s:.0f} s.",
        "",
        f"- **single**: {f.SINGLES} announcements one at a time, each delivered to every client "
        "before the next; latency = receive time − the publisher's `time.time()` stamped into "
        "the body just before the POST (same machine, same clock), over all clients and "
        "announcements. *POST ms*: how long the POST itself took (the transaction and the "
        "hand-off to the sessions' queues; baseline: the broadcast call).",
        f"- **burst**: {f.BURST} announcements posted at once (the hub runs them on its pool; "
        "the baseline gets the triggers back to back); frames/s = frames received ÷ (last "
        "receive − first publish); the burst's latencies include queueing behind the other "
        f"announcements of the burst. {f.BURSTS} bursts per level, one after the other; the "
        "table shows the median one (frames/s and latencies), the frames of all of them "
        "(delivered / expected), and the cores over all of them.",
        "- **KiB per idle connection**: server RSS (VmRSS; both nodes summed for Redis) with N "
        "clients connected and idle, minus RSS before the first client, ÷ N. Levels are "
        "connected incrementally, so later levels include what earlier bursts left allocated.",
        f"- **database upkeep**: this PostgreSQL server runs with `autovacuum = "
        f"{res.autovacuum or '?'}`; the benchmark runs `VACUUM (ANALYZE)` on its database "
        "after the seed and before each measured level and the rate test, as autovacuum would "
        "have: plans made against unanalysed, just-filled tables (the seed's roster, the "
        "inbox growing by thousands of rows per announcement) can scan where an index "
        "serves. (Earlier, with foreign keys on `inbox`, the cached plan of the `inbox` → "
        "`messages` check scanned the tenant's messages per inbox row without it; `inbox` "
        "has no foreign keys now, see migration 0002.)",
        "- **cores used**: CPU seconds ÷ wall seconds during the burst, from /proc "
        "(PostgreSQL: the backends connected to the scenario's database; *rest of the "
        "machine*: all other CPU use meanwhile — the publisher, other databases' work, "
        "other people's processes — so that interference would show).",
        "",
    ]
    if base is not None:
        out += [
            "### Baseline: `websockets.broadcast` server",
            "",
            "`bench/fanout_baseline.py`: no auth, no database, the same ~300-byte frame for "
            "everyone (the hub's frame is a message view with the recipient's own `seq`, "
            "~600 bytes). With the load generator and the server each near one core, the "
            "baseline is bounded by this machine; on more cores it would be faster, and the "
            "hub's ratios would be lower.",
            "",
            _table(base, None, hub=False),
            "",
        ]
    if mem is not None:
        out += [
            "### Hub, memory broker, one node",
            "",
            "`reppu serve`; clients are demo persons (learners, guardians, staff of the first "
            "schools by name), each with its own dev-login token and single-use live ticket. "
            "`POST /v1/events` (service token) to a union of whole schools (`school` selectors: "
            f"{len(pop.schools_for(levels[0]))} school(s) at {levels[0]:,} clients, "
            f"{len(pop.schools_for(levels[-1]))} at {levels[-1]:,}); every connected client is "
            "a recipient; recipients not connected get inbox rows only. A module's "
            "notification has no sender and so no delivery report: no delivered-at marks are "
            "written for it (a person's announcement to the same audience would add one "
            "UPDATE of an inbox row per delivered frame, about 5 µs of PostgreSQL each). "
            "Every announcement of a level goes to the same audience and the roster does not "
            "change during the run, so the node resolves it once and then finds it in its "
            "audience cache (per roster version, docs/security.md); resolving a fresh audience "
            "of 5,415 recipients costs about 30 ms more (about 15 ms of the node's CPU, the "
            "rest PostgreSQL's).",
            "",
            _table(mem.scenario, base, hub=True),
            "",
        ]
    if red is not None:
        out += [
            "### Hub, Redis broker, two nodes",
            "",
            "Two `reppu serve` on one PostgreSQL database and Redis 127.0.0.1:6379; clients "
            "alternate between the nodes; events are posted to node 1, which publishes every "
            "frame to Redis; each node forwards its own clients' frames.",
            "",
            _table(red.scenario, base, hub=True),
            "",
        ]
    out += _targets(res)
    if mem is not None and mem.rates:
        out += _rates(mem.rates, pop, f.RATE_P99_MS, f.RATE_SECONDS)
    if mem is not None and mem.profile:
        out += _profile(mem.profile)
    if res.diags:
        out += _diagnostics(res)
    return "\n".join(out) + "\n"


def _targets(res: Results) -> list[str]:
    from bench import fanout as f

    base, mem, red = res.base, res.mem, res.red
    rows = ["### Targets of the issue", "", "| target | measured | verdict |", "|---|---|---|"]
    if base and (mem or red):
        by_n = {lv.clients: lv for lv in base.levels}
        for run in (mem, red):
            if run is None:
                continue
            for lv in run.scenario.levels:
                b = by_n.get(lv.clients)
                if b is None or not b.frames_per_s:
                    continue
                ratio = lv.frames_per_s / b.frames_per_s
                rows.append(
                    f"| {run.scenario.name}: ≥ {RATIO_TARGET}× baseline frames/s at "
                    f"{lv.clients:,} clients | {lv.frames_per_s:,.0f} vs {b.frames_per_s:,.0f} "
                    f"= {ratio:.2f}× | {_verdict(ratio >= RATIO_TARGET)} |"
                )
    # The hub never compresses (permessage-deflate would cost ~44 KiB per
    # connection); the baseline above accepts it as a websockets server does by
    # default. Without it on both sides, at the diagnostic level:
    plain = {sc.name: sc for sc in res.diags}
    pb, ph = (
        plain.get("baseline, no compression"),
        plain.get("hub, memory broker, one node, no compression"),
    )
    if pb and ph:
        for b, h in zip(pb.levels, ph.levels, strict=False):
            if b.frames_per_s:
                ratio = h.frames_per_s / b.frames_per_s
                rows.append(
                    f"| hub, memory broker, one node: ≥ {RATIO_TARGET}× baseline frames/s at "
                    f"{h.clients:,} clients, neither compressing | {h.frames_per_s:,.0f} vs "
                    f"{b.frames_per_s:,.0f} = {ratio:.2f}× | {_verdict(ratio >= RATIO_TARGET)} |"
                )
    if mem:
        for lv in (lv for lv in mem.scenario.levels if lv.clients == P99_TARGET_CLIENTS):
            p99 = lv.single.get("latency", {}).get("p99", 1e9)
            bp99 = lv.burst.get("latency", {}).get("p99", 1e9)
            rows.append(
                f"| p99 ≤ {P99_TARGET_MS:.0f} ms at {lv.clients:,} clients, one node "
                f"(single announcements) | {p99:,.0f} ms | {_verdict(p99 <= P99_TARGET_MS)} |"
            )
            b = next((x for x in base.levels if x.clients == lv.clients), None) if base else None
            bb = b.burst.get("latency", {}).get("p99") if b is not None else None
            # Not the target (its baseline figure, p99 ≈ 150 ms at 5,000
            # clients, is a single announcement's): a burst is BURST × clients
            # frames, which the load generator alone cannot read within the
            # bound (the baseline's own burst p99 is shown beside it).
            rows.append(
                f"| … the same within a burst of {f.BURST} announcements posted at once "
                f"({f.BURST * lv.clients:,} frames) "
                + (f"(the baseline's: {bb:,.0f} ms) " if bb is not None else "")
                + f"| {bp99:,.0f} ms | context, not a target: "
                + (
                    f"the baseline's own is {bb / P99_TARGET_MS:.1f}× the bound |"
                    if bb is not None
                    else "no baseline in this run |"
                )
            )
        for lv in mem.scenario.levels:
            rows.append(
                f"| ≤ {KIB_TARGET:.0f} KiB per idle connection ({lv.clients:,} clients, one node) "
                f"| {lv.rss_kib_per_conn:.1f} KiB | {_verdict(lv.rss_kib_per_conn <= KIB_TARGET)} |"
            )
        if mem.rates:
            best = max((r for r in mem.rates if r["pass"]), key=lambda r: r["target"], default=None)
            at300 = next((r for r in mem.rates if r["target"] == RATE_TARGET), None)
            got = (
                f"highest passing rate tried: {best['target']}/s "
                f"(p99 {best['latency']['p99']:,.0f} ms)"
                if best
                else "no rate tried passed"
            )
            if at300 is not None:
                got += (
                    f"; at {RATE_TARGET}/s: {at300['achieved_per_s']:,.0f}/s achieved, "
                    f"p99 {at300['latency'].get('p99', 0):,.0f} ms"
                )
            ok = bool(best and best["target"] >= RATE_TARGET)
            rows.append(
                f"| ≥ {RATE_TARGET} group messages/s with p99 ≤ 100 ms, one node | {got} "
                f"| {_verdict(ok)} |"
            )
    return [*rows, ""]


def _rates(rates: list[dict[str, Any]], pop: Population, p99: float, secs: float) -> list[str]:
    recips = sum(r for _, _, r in pop.pairs) / max(1, len(pop.pairs))
    out = [
        "### Sustained group messages, memory node",
        "",
        f"`POST /v1/messages` from {len(pop.pairs)} different teachers, each to their own "
        f"class's guardians (`group_guardians`, {recips:.1f} recipients on average), "
        f"open loop at a fixed rate for {secs:.0f} s per step; latency is measured from each "
        "request's scheduled time, so a server that falls behind shows it. Keep-alive "
        "connections from the load generator; no websocket clients connected; rates go up "
        "until a step fails, each starting after the previous one's requests have all been "
        "answered. A step passes when "
        f"every request got 201, p99 ≤ {p99:.0f} ms and ≥ 95 % of the rate was achieved.",
        "",
        "| target/s | achieved/s | p50 ms | p90 ms | p99 ms | max ms | statuses "
        "| cores: server / load gen / PostgreSQL / rest of the machine "
        "| CPU ms per message: server / PostgreSQL | verdict |",
        "|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in rates:
        lat = r["latency"]
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["statuses"].items()))
        if r.get("unfinished"):
            statuses += f", unfinished: {r['unfinished']}"
        c = r.get("cores", {})
        cores = " / ".join(f"{c.get(k, 0):.2f}" for k in ("server", "loadgen", "postgres", "other"))
        # cores are averaged over the step's wall time, which includes its drain
        per = max(1e-9, r.get("wall_s", 0) and r["ok"] / r["wall_s"])
        cpu_ms = f"{c.get('server', 0) / per * 1000:.1f} / {c.get('postgres', 0) / per * 1000:.1f}"
        out.append(
            f"| {r['target']} | {r['achieved_per_s']:,.0f} | {_ms(lat, 'p50')} | {_ms(lat, 'p90')} "
            f"| {_ms(lat, 'p99')} | {_ms(lat, 'max')} | {statuses} | {cores} | {cpu_ms} "
            f"| {_verdict(r['pass'])} |"
        )
    out += [
        "",
        "What the node's PostgreSQL backends were doing (pg_stat_activity sampled every "
        "0.1 s; average number of backends in that state):",
        "",
    ]
    for r in rates:
        top = "; ".join(f"{n:.1f} × {w} `{q}…`" for w, q, n in r.get("activity", [])[:3])
        out.append(f"- {r['target']}/s: {top}")
    return [*out, ""]


def _profile(p: dict[str, Any]) -> list[str]:
    total = max(1, p["samples"])
    out = [
        "### Where the time goes (py-spy, memory node)",
        "",
        f"`py-spy record --native --rate 100` on the node during one extra burst to "
        f"{p['clients']:,} clients ({p['received']:,} of {p['expected']:,} frames delivered in "
        f"{p['wall_s']:.1f} s; the profiler pauses the process for each sample, so this burst "
        f"is slower than the measured ones): the event loop was busy in "
        f"{p['busy'] * 100:.0f} % of its samples. Shares below are of the busy samples.",
        "",
        "| area (native frames first, else the file of the innermost Python frame) | share |",
        "|---|---:|",
    ]
    out += [
        f"| {name} | {n * 100 / total:.1f} % |" for name, n in p["areas"] if n * 100 / total >= 0.5
    ]
    out += ["", "| inclusive: time under | share |", "|---|---:|"]
    out += [f"| {label} | {n * 100 / total:.1f} % |" for label, n in p["inclusive"]]
    if p.get("gc_triggers"):
        out += [
            "",
            "| the collector ran inside (innermost frame) | share of all busy |",
            "|---|---:|",
        ]
        out += [f"| {fn} | {n * 100 / total:.1f} % |" for fn, n in p["gc_triggers"]]
    out += [
        "",
        "| top Python functions outside the collector (own time, native callees included) "
        "| share |",
        "|---|---:|",
    ]
    out += [f"| `{fn}` | {n * 100 / total:.1f} % |" for fn, n in p["top"]]
    return [*out, ""]


def _diagnostics(res: Results) -> list[str]:
    from bench import fanout as f

    n = res.diags[0].levels[0].clients if res.diags and res.diags[0].levels else 0
    same = [
        (sc.name, lv)
        for sc in (res.base, res.mem.scenario if res.mem else None)
        if sc is not None
        for lv in sc.levels
        if lv.clients == n
    ]
    rows = same + [(sc.name, lv) for sc in res.diags for lv in sc.levels]
    out = [
        f"### Diagnostics at {n:,} clients (not the shipped configuration; not targets)",
        "",
        "The same measurement with one setting changed: clients that do not offer "
        "permessage-deflate (the hub never compresses; the baseline then does not either), "
        "and, when run, the cyclic garbage collector set from outside "
        f"(`{f.GC_DIAG}` before `core.cli.main`). The first rows repeat the main runs at "
        "this level.",
        "",
        "| run | POST ms | single p50 ms | single p99 ms | burst frames/s | burst p99 ms "
        "| KiB per idle connection | cores: server / load gen |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, lv in rows:
        single, burst = lv.single.get("latency", {}), lv.burst.get("latency", {})
        out.append(
            f"| {name} | {lv.post_ms:,.0f} | {_ms(single, 'p50')} | {_ms(single, 'p99')} "
            f"| {lv.frames_per_s:,.0f} | {_ms(burst, 'p99')} | {lv.rss_kib_per_conn:.1f} "
            f"| {lv.cores.get('server', 0):.2f} / {lv.cores.get('loadgen', 0):.2f} |"
        )
    return [*out, ""]
