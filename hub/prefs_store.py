"""SQL of delivery preferences, push subscriptions, e-mail bounces and the
tenant's privacy switches (migration 0005). Every function runs inside a
tenant transaction (`Database.tenant`): row-level security keeps each
statement in that tenant, and inserts take the tenant from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from channels.webpush import PushKeys, PushSubscription
from core.db import Connection
from hub.policy import Kind, Mode, Preferences, default_kinds

#: longest bounce reason kept (an SMTP reply line is far shorter)
MAX_BOUNCE_REASON_CHARS = 500

_PREF_COLUMNS = "push, email, kinds, language, quiet_start, quiet_end, quiet_weekends, digest_time"
_kinds_decoder = msgspec.json.Decoder(dict[Kind, Mode])
_encoder = msgspec.json.Encoder()


def _preferences(row: asyncpg.Record) -> Preferences:
    # Kinds added after the row was written are "instant", as for a new person.
    kinds = {**default_kinds(), **_kinds_decoder.decode(row["kinds"])}
    return Preferences(
        push=row["push"],
        email=row["email"],
        kinds=kinds,
        language=row["language"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        quiet_weekends=row["quiet_weekends"],
        digest_time=row["digest_time"],
    )


async def load_preferences(conn: Connection, person_ids: Sequence[UUID]) -> dict[UUID, Preferences]:
    """Each person's preferences (the defaults for those with no row), in one query."""
    rows = await conn.fetch(
        f"SELECT person_id, {_PREF_COLUMNS} FROM preferences WHERE person_id = ANY($1::uuid[])",
        list(person_ids),
    )
    found = {r["person_id"]: _preferences(r) for r in rows}
    default = Preferences()
    return {p: found.get(p, default) for p in person_ids}


async def save_preferences(
    conn: Connection, person_id: UUID, prefs: Preferences, at: datetime
) -> None:
    """Insert or replace the person's row (whole: PUT semantics)."""
    await conn.execute(
        f"INSERT INTO preferences (tenant_id, person_id, {_PREF_COLUMNS}, updated_at) "
        "VALUES (reppu_tenant(), $1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (tenant_id, person_id) DO UPDATE SET push = EXCLUDED.push, "
        "email = EXCLUDED.email, kinds = EXCLUDED.kinds, language = EXCLUDED.language, "
        "quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, "
        "quiet_weekends = EXCLUDED.quiet_weekends, digest_time = EXCLUDED.digest_time, "
        "updated_at = EXCLUDED.updated_at",
        person_id,
        prefs.push,
        prefs.email,
        _encoder.encode({**default_kinds(), **prefs.kinds}).decode(),
        prefs.language,
        prefs.quiet_start,
        prefs.quiet_end,
        prefs.quiet_weekends,
        prefs.digest_time,
        at,
    )


async def disable_email(conn: Connection, person_id: UUID, at: datetime) -> None:
    """preferences.email = false, the rest as it was. Idempotent; a person who
    no longer exists is left alone (nothing to insert a row for)."""
    await conn.execute(
        "INSERT INTO preferences (tenant_id, person_id, email, updated_at) "
        "SELECT tenant_id, id, false, $2 FROM persons WHERE id = $1 "
        "ON CONFLICT (tenant_id, person_id) DO UPDATE SET email = false, "
        "updated_at = EXCLUDED.updated_at WHERE preferences.email",
        person_id,
        at,
    )


async def person_language(conn: Connection, person_id: UUID) -> str | None:
    """The language a person is addressed in: their preference, else the roster's."""
    language: str | None = await conn.fetchval(
        "SELECT coalesce(pr.language, p.language) FROM persons p "
        "LEFT JOIN preferences pr ON pr.person_id = p.id WHERE p.id = $1",
        person_id,
    )
    return language


async def lock_person(conn: Connection, person_id: UUID) -> bool:
    """Serialise changes to one person's subscriptions until commit (their
    count is bounded); False if the person does not exist."""
    found = await conn.fetchval(
        "SELECT true FROM persons WHERE id = $1 FOR NO KEY UPDATE", person_id
    )
    return bool(found)


async def upsert_subscription(
    conn: Connection,
    person_id: UUID,
    sub: PushSubscription,
    user_agent: str | None,
    new_id: UUID,
    at: datetime,
) -> tuple[UUID, datetime]:
    """Register `sub.endpoint` to the person; returns its (id, created_at).

    The same endpoint again from the same person keeps its id and created_at
    (keys and user agent are refreshed). An endpoint registered to someone
    else moves to this person under `new_id`: the former owner's id no longer
    names anything. The caller compares the id with `new_id` to tell a new
    registration from a repeated one."""
    row = await conn.fetchrow(
        """
        INSERT INTO push_subscriptions AS s
            (tenant_id, id, person_id, endpoint, p256dh, auth, user_agent, created_at)
        VALUES (reppu_tenant(), $1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant_id, endpoint) DO UPDATE SET
            id = CASE WHEN s.person_id = EXCLUDED.person_id THEN s.id ELSE EXCLUDED.id END,
            created_at = CASE WHEN s.person_id = EXCLUDED.person_id
                              THEN s.created_at ELSE EXCLUDED.created_at END,
            person_id = EXCLUDED.person_id,
            p256dh = EXCLUDED.p256dh,
            auth = EXCLUDED.auth,
            user_agent = EXCLUDED.user_agent
        RETURNING id, created_at
        """,
        new_id,
        person_id,
        sub.endpoint,
        sub.keys.p256dh,
        sub.keys.auth,
        user_agent,
        at,
    )
    assert row is not None
    return row["id"], row["created_at"]


async def trim_subscriptions(conn: Connection, person_id: UUID, keep: int) -> int:
    """Delete the person's oldest subscriptions beyond the newest `keep`;
    returns how many went."""
    status = await conn.execute(
        "DELETE FROM push_subscriptions WHERE person_id = $1 AND id NOT IN ("
        " SELECT id FROM push_subscriptions WHERE person_id = $1"
        " ORDER BY created_at DESC, id DESC LIMIT $2)",
        person_id,
        keep,
    )
    return int(status.rpartition(" ")[2])


async def list_subscriptions(conn: Connection, person_id: UUID) -> list[asyncpg.Record]:
    """The person's subscriptions (id, endpoint, user_agent, created_at), newest first."""
    return await conn.fetch(
        "SELECT id, endpoint, user_agent, created_at FROM push_subscriptions "
        "WHERE person_id = $1 ORDER BY created_at DESC, id DESC",
        person_id,
    )


async def subscriptions_of(
    conn: Connection, person_id: UUID
) -> list[tuple[UUID, PushSubscription]]:
    """Where to push to the person: every device they registered, newest first."""
    rows = await conn.fetch(
        "SELECT id, endpoint, p256dh, auth FROM push_subscriptions "
        "WHERE person_id = $1 ORDER BY created_at DESC, id DESC",
        person_id,
    )
    return [
        (
            r["id"],
            PushSubscription(
                endpoint=r["endpoint"], keys=PushKeys(p256dh=r["p256dh"], auth=r["auth"])
            ),
        )
        for r in rows
    ]


async def delete_own_subscription(conn: Connection, person_id: UUID, sub_id: UUID) -> bool:
    """Delete a subscription if it is the person's; False if there was none such."""
    status = await conn.execute(
        "DELETE FROM push_subscriptions WHERE id = $1 AND person_id = $2", sub_id, person_id
    )
    return status != "DELETE 0"


async def delete_subscription(conn: Connection, sub_id: UUID) -> None:
    """Forget a subscription the push service says is gone (404/410). Idempotent."""
    await conn.execute("DELETE FROM push_subscriptions WHERE id = $1", sub_id)


async def mark_bounced(
    conn: Connection, person_id: UUID, address: str, reason: str, at: datetime
) -> None:
    """Record that mail to `address` bounced: no more mail to the person until
    their roster address is another one."""
    await conn.execute(
        "INSERT INTO email_status (tenant_id, person_id, address, bounced_at, bounce_reason) "
        "VALUES (reppu_tenant(), $1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, person_id) DO UPDATE SET address = EXCLUDED.address, "
        "bounced_at = EXCLUDED.bounced_at, bounce_reason = EXCLUDED.bounce_reason",
        person_id,
        address,
        at,
        reason[:MAX_BOUNCE_REASON_CHARS],
    )


async def email_destination(conn: Connection, person_id: UUID) -> tuple[str, str, str] | None:
    """(address, display name, language) to mail the person at, or None when
    they have no address or it bounced. The opt-out (preferences.email) is
    policy, not checked here: a critical message ignores it."""
    row = await conn.fetchrow(
        "SELECT p.email, p.given_name, p.family_name, coalesce(pr.language, p.language) AS lang "
        "FROM persons p LEFT JOIN preferences pr ON pr.person_id = p.id "
        "WHERE p.id = $1 AND p.email IS NOT NULL AND p.email <> '' AND NOT EXISTS ("
        " SELECT 1 FROM email_status e WHERE e.person_id = p.id"
        " AND e.bounced_at IS NOT NULL AND lower(e.address) = lower(p.email))",
        person_id,
    )
    if row is None:
        return None
    name = f"{row['given_name']} {row['family_name']}".strip()
    return row["email"], name, row["lang"]


async def tenant_flags(conn: Connection) -> tuple[bool, bool]:
    """The tenant's (push_subjects, email_full_text): may a push carry the
    message subject, may a notification mail carry the message text."""
    row = await conn.fetchrow(
        "SELECT push_subjects, email_full_text FROM tenants WHERE id = (SELECT reppu_tenant())"
    )
    if row is None:
        return False, False
    return bool(row["push_subjects"]), bool(row["email_full_text"])
