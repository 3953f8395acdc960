"""The `reppu` command.

reppu serve [--host H] [--port P]     serve the API
reppu demo  [--host H] [--port P]     seed the demo if empty, print logins, serve
reppu migrate                         create the app role, apply migrations
reppu seed [--size small|city] [--seed N]
reppu roster import FILE --tenant SLUG
reppu token --tenant SLUG --name NAME --scope roster:import
reppu vapid-keys                      print a new VAPID key pair (touches nothing)
reppu timetable import-fet|export-fet|solve …   timetables (scheduling/cli.py; the
                                      console script, core/entry.py, hands these
                                      over without importing this module)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from core import actions
from core.clock import SystemClock, today_in_helsinki
from core.config import ConfigError, Settings
from core.db import Database, admin_dsn_for, migrate, open_database
from core.errors import ReppuError

log = logging.getLogger("reppu")

#: Seconds open connections get to finish when the server stops.
SHUTDOWN_GRACE_S = 10
#: CPython's cyclic collector ran in half of the live fan-out's busy time
#: (docs/benchmarks.md): every frame makes short-lived objects and each
#: generation-0 run walks the objects of every open session. Objects alive at
#: start-up are frozen out of collection and generation 0 runs 140× less often.
GC_THRESHOLDS = (100_000, 50, 1000)
#: permessage-deflate costs ~44 KiB per connection and a zlib call per frame,
#: and saves little on ~600-byte JSON frames; off.
WS_PER_MESSAGE_DEFLATE = False
#: uvicorn's own websocket pings (by default every 20 s on every connection):
#: off, as the live protocol has its own (hub.live.PING_INTERVAL_S, a close
#: 4002 without a pong), which a client sees and answers; the protocol-level
#: ones doubled the pings and showed in the fan-out profile.
WS_PROTOCOL_PING_INTERVAL_S: float | None = None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["timetable"]:
        # standalone file tools: no settings, no database
        from core.entry import timetable

        return timetable(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "vapid-keys":
        print(vapid_keys())
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"reppu: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        settings = _with_dev_login(settings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_dispatch(args, settings))
    except ReppuError as exc:
        print(f"reppu: {exc.code}: {exc.message}", file=sys.stderr)
        if exc.details:
            for item in exc.details if isinstance(exc.details, list) else [exc.details]:
                print(f"  {item}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed: uvicorn picks it only when it owns the loop, and
    `reppu serve` runs uvicorn inside its own (socket writes were a third of the
    live fan-out's time on the default loop)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a runtime dependency
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _with_dev_login(settings: Settings) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, dev_login=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reppu", description="Reppu messaging hub")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "serve the API"), ("demo", "seed a demo municipality and serve")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=8000)
    sub.add_parser("migrate", help="create the application role and apply migrations")
    s = sub.add_parser("seed", help="generate the demo tenants")
    s.add_argument("--size", choices=["small", "city"], default="small")
    s.add_argument("--seed", type=int, default=None)
    r = sub.add_parser("roster", help="roster feeds").add_subparsers(
        dest="roster_command", required=True
    )
    ri = r.add_parser("import", help="import a roster JSON document")
    ri.add_argument("file", type=Path)
    ri.add_argument("--tenant", required=True, help="tenant slug")
    t = sub.add_parser("token", help="issue a service token")
    t.add_argument("--tenant", required=True)
    t.add_argument("--name", required=True)
    t.add_argument("--scope", action="append", required=True)
    sub.add_parser("vapid-keys", help="print a new VAPID key pair for VAPID_PRIVATE_KEY")
    sub.add_parser(
        "timetable", help="timetables: import-fet, export-fet, solve (reppu timetable -h)"
    )
    return p


def vapid_keys() -> str:
    """A new P-256 key pair: the private key as VAPID_PRIVATE_KEY takes it (the
    base64url 32-byte scalar) and the public key browsers subscribe with (the
    base64url uncompressed point), as `.env` lines. Reads no settings and
    writes nothing: the key in the data directory is left as it is."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return (
        f"VAPID_PRIVATE_KEY={_b64url(scalar)}\n"
        f"# public key (applicationServerKey; served at GET /v1/push/vapid-public-key): "
        f"{_b64url(point)}"
    )


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        async with admin_dsn_for(settings) as admin:
            applied = await migrate(admin, settings)
        print(f"applied migrations: {applied or 'none (up to date)'}")
        return 0
    if args.command in ("serve", "demo"):
        return await _serve(settings, args.host, args.port, demo=args.command == "demo")
    async with open_database(settings) as db:
        if args.command == "seed":
            await seed(db, size=args.size, seed_value=args.seed, verbose=True)
            return 0
        if args.command == "roster":
            tenant_id = await actions.find_tenant(db, args.tenant)
            if tenant_id is None:
                print(f"reppu: no tenant {args.tenant!r}", file=sys.stderr)
                return 1
            result = await actions.import_roster_bytes(db, tenant_id, args.file.read_bytes())
            print(
                f"imported {result.schools} schools, {result.persons} persons, "
                f"{result.groups} groups, {result.guardianships} guardianships"
            )
            return 0
        if args.command == "token":
            from core.auth import TokenIssuer

            tenant_id = await actions.find_tenant(db, args.tenant)
            if tenant_id is None:
                print(f"reppu: no tenant {args.tenant!r}", file=sys.stderr)
                return 1
            if settings.secret_generated:
                print(
                    "reppu: set REPPU_SECRET: a token signed with a random secret is "
                    "useless after this process",
                    file=sys.stderr,
                )
                return 2
            print(
                TokenIssuer(settings, SystemClock()).issue_service(tenant_id, args.name, args.scope)
            )
            return 0
    raise AssertionError(args.command)


async def seed(
    db: Database,
    *,
    size: str,
    seed_value: int | None,
    verbose: bool = False,
    today: date | None = None,
) -> dict[str, list[str]]:
    """Generate and import the demo tenant (of `size`) and the second small
    tenant, through the same roster import any municipality uses."""
    from core import seed as demo

    today = today or today_in_helsinki(SystemClock())
    seed_kw = {} if seed_value is None else {"seed": seed_value}
    logins: dict[str, list[str]] = {}
    sizes: list[tuple[demo.TenantSpec, demo.SizeName]] = [
        (demo.DEMO_TENANT, "city" if size == "city" else "small"),
        (demo.SECOND_TENANT, "small"),
    ]
    for spec, spec_size in sizes:
        started = time.perf_counter()
        doc = demo.generate(spec, spec_size, today=today, **seed_kw)
        generated = time.perf_counter()
        tenant_id = await actions.ensure_tenant(db, spec.slug, spec.name, spec.kind)
        result = await actions.import_roster(db, tenant_id, doc)
        done = time.perf_counter()
        if verbose:
            print(
                f"seeded {spec.slug} ({spec_size}): {result.schools} schools, "
                f"{result.persons} persons, {result.groups} groups, "
                f"{result.guardianships} guardianships in {done - started:.1f} s "
                f"(generate {generated - started:.1f} s, import {done - generated:.1f} s)"
            )
        if spec is demo.DEMO_TENANT:
            logins = demo.demo_logins(doc)
    return logins


async def _demo_logins(db: Database) -> dict[str, list[str]]:
    """Seed the small demo if the database has no demo tenant; then a few
    logins of each role, from the database (whatever size was seeded)."""
    from core import seed as demo
    from core import store

    tenant_id = await actions.find_tenant(db, demo.DEMO_TENANT.slug)
    if tenant_id is None:
        await seed(db, size="small", seed_value=None, verbose=True)
        tenant_id = actions.tenant_id_for(demo.DEMO_TENANT.slug)
    async with db.tenant(tenant_id) as conn:
        return await store.sample_logins(conn, "7B", 2)


async def _serve(settings: Settings, host: str, port: int, *, demo: bool) -> int:
    import uvicorn

    from core.api import Services, create_app, load_modules

    async with open_database(settings) as db:
        logins = await _demo_logins(db) if demo else {}
        app = create_app(Services(settings, db, SystemClock()), modules=load_modules())
        # modules may prepare demo data of their own as they start (scheduling:
        # solves and publishes the demo schools' timetables in the background)
        app.state["demo"] = demo
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_config=None,
            ws="websockets-sansio",
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
            ws_ping_interval=WS_PROTOCOL_PING_INTERVAL_S,
        )
        server = uvicorn.Server(config)
        if demo:
            _print_demo(f"http://{host}:{port}", logins)
        # uvicorn re-raises the signal it caught after a graceful shutdown; with
        # these handlers that re-raise is a no-op, so the database (and an
        # embedded server) is closed below instead of the process dying.
        previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            await server.serve()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    log.info("stopped")
    return 0


def _print_demo(url: str, logins: dict[str, list[str]]) -> None:
    lines = [f"Reppu demo at {url}", "Log in (dev login) as, for example:"]
    for role, names in logins.items():
        lines.append(f"  {role:<10} {', '.join(names)}")
    lines.append(
        f"  curl -s -X POST {url}/v1/auth/dev-login -H 'content-type: application/json'"
        f' -d \'{{"username": "{next(iter(logins.values()), [""])[0]}"}}\''
    )
    print("\n".join(lines), flush=True)
