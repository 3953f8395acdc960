"""Delivery policy: how a message reaches a person who has not seen it live
(docs/delivery.md). Hub policy, not channel code (ARCHITECTURE.md, invariant
8): the channels only try once and say what happened; this module decides
whether, when and how often.

The escalation ladder, per recipient:

1. live websocket — at once, on every connected device (hub.live);
2. Web Push — if still unread after PUSH_AFTER and the person is not active
   in a web client (seen within ACTIVE_WINDOW);
3. email — if still unread after EMAIL_AFTER;

each step waiting for the end of the person's quiet hours unless the message
is critical, and honouring their channel and per-kind choices (critical
messages ignore both). Everything stops the moment the person reads, on any
device: reading cancels their pending sends in the same transaction, and a
send that is already running checks again before it sends.

Acknowledgements: a message that requires one gets reminder jobs at
REMINDERS_BEFORE its deadline, which remind — by push, then by email after
REMINDER_EMAIL_AFTER — only those whose acknowledgement is still wanted
(hub.acks); at the deadline the sender gets a summary in their inbox of who
has not acknowledged. An acknowledgement cancels that person's pending
reminders at once.

Digests: a person who chose "digest" for a kind gets one email a day at their
digest time listing what is unread.

Everything here is a durable job (core.jobs): at least once, each effect made
idempotent by `channel_deliveries` (a send that finds its outcome recorded does
nothing) and by idempotency keys (escalations, summaries, digests).

Job fan-out is per message, not per recipient, at publish time: a publish
writes at most five job rows whatever the audience; the per-recipient send
jobs are made when a step falls due, only for those still unread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

from channels.base import Delivered, PermanentFailure, Rendered, Result, TemporaryFailure, Urgency
from channels.email import EmailDeliverer, EmailDestination
from channels.webpush import PushSubscription, WebPushDeliverer
from core.clock import HELSINKI, Clock
from core.config import Settings
from core.db import Connection, Database
from core.errors import ReppuError
from core.jobs import Cancel, Job, JobWorker, NewJob, Outcome, Retry, enqueue
from hub import prefs_store, store
from hub.acks import AckRow, AckStatus, ack_status
from hub.fanout import Fanout
from hub.model import ModuleEvent, PersonSel, Published
from hub.policy import Preferences, channel_allowed, mode, send_at
from hub.prefs import unsubscribe_url
from hub.schedule import (
    ACK_SUMMARY,
    ACTIVE_WINDOW,
    DIGEST,
    DIGEST_MAX_ITEMS,
    ESCALATE,
    MAX_SEND_ATTEMPTS,
    NOTIFY,
    REMIND,
    REMIND_SEND,
    REMINDER_EMAIL_AFTER,
    SEND,
    SUMMARY_MAX_NAMES,
    backoff,
    digest_job,
)

log = logging.getLogger("reppu.hub.delivery")

#: an inbox row `i` of message $1 not read (nor archived) yet
_UNREAD = "i.message_id = $1 AND i.read_at IS NULL AND i.archived_at IS NULL"
#: a person `p` with an address that has not bounced
_MAILABLE = (
    "p.email IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM email_status e WHERE e.person_id = p.id AND e.bounced_at IS NOT NULL)"
)

Channel = Literal["push", "email"]
Language = Literal["fi", "sv", "en"]

# ---- texts -------------------------------------------------------------------------------

_PUSH_TITLE: dict[str, dict[Language, str]] = {
    "message": {
        "fi": "Uusi viesti: {org}",
        "sv": "Nytt meddelande: {org}",
        "en": "New message from {org}",
    },
    "announcement": {
        "fi": "Uusi tiedote: {org}",
        "sv": "Nytt meddelande: {org}",
        "en": "New announcement from {org}",
    },
    "notification": {
        "fi": "Uusi ilmoitus: {org}",
        "sv": "Ny avisering: {org}",
        "en": "New notification from {org}",
    },
    "reminder": {
        "fi": "Muistutus: kuittausta odotetaan ({org})",
        "sv": "Påminnelse: kvittering väntas ({org})",
        "en": "Reminder: please acknowledge ({org})",
    },
}
_REMINDER_PREFIX: dict[Language, str] = {"fi": "Muistutus", "sv": "Påminnelse", "en": "Reminder"}
_DIGEST_TITLE: dict[Language, str] = {
    "fi": "{n} lukematonta viestiä",
    "sv": "{n} olästa meddelanden",
    "en": "{n} unread messages",
}
_MORE: dict[Language, str] = {
    "fi": "… ja {n} muuta",
    "sv": "… och {n} till",
    "en": "… and {n} more",
}
_SUMMARY: dict[Language, tuple[str, str, str]] = {
    # subject, intro, "everyone acknowledged"
    "fi": (
        "Kuittaukset: {subject}",
        "Kuittausaika päättyi {deadline}. Kuittaamatta ({n}):",
        "Kuittausaika päättyi {deadline}. Kaikki kuittasivat.",
    ),
    "sv": (
        "Kvitteringar: {subject}",
        "Tiden för kvittering gick ut {deadline}. Okvitterade ({n}):",
        "Tiden för kvittering gick ut {deadline}. Alla har kvitterat.",
    ),
    "en": (
        "Acknowledgements: {subject}",
        "The deadline passed at {deadline}. Not acknowledged ({n}):",
        "The deadline passed at {deadline}. Everyone acknowledged.",
    ),
}
_GUARDIANS_OF: dict[Language, str] = {
    "fi": "{name} (huoltajat)",
    "sv": "{name} (vårdnadshavare)",
    "en": "{name} (guardians)",
}


def _lang(value: str | None) -> Language:
    return value if value in ("fi", "sv", "en") else "fi"  # type: ignore[return-value]


def push_urgency(urgency: str) -> Urgency:
    """RFC 8030 Urgency from the message's: high for high and critical."""
    return "high" if urgency in ("high", "critical") else "normal"


def render_push(
    *,
    kind: str,
    reminder: bool,
    language: Language,
    org: str,
    subject: str | None,
    url: str,
    urgency: str,
    message_id: UUID,
    ttl: timedelta,
) -> Rendered:
    """A push notification, privacy-minimised: a generic title naming the
    school (never a person, never the body), the subject only when the tenant
    allows it (`subject`), a link. One topic per message, so a reminder or a
    redelivery replaces an undelivered earlier one on the push service."""
    title_key = "reminder" if reminder else kind
    return Rendered(
        title=_PUSH_TITLE[title_key][language].format(org=org),
        text=subject or "",
        url=url,
        kind=kind,
        urgency=push_urgency(urgency),
        topic=f"m{message_id.hex}",
        ttl=ttl,
    )


# ---- the policy engine ---------------------------------------------------------------------


class Delivery:
    """The job handlers of the delivery policy, and the worker that runs them."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        fanout: Fanout,
        notify: Callable[[UUID, ModuleEvent], Awaitable[Published]],
        *,
        push: WebPushDeliverer | None,
        email: Mapping[bool, EmailDeliverer] | None,
        concurrency: int = 16,
    ) -> None:
        """`notify`: the hub's in-process intake (Hub.notify), for summaries.
        `email`: deliverers by the tenant's full-text choice (False, True)."""
        self.db = db
        self.clock = clock
        self.settings = settings
        self.fanout = fanout
        self.notify = notify
        self.push = push
        self.email = email
        self.sent: dict[str, int] = {}
        self.worker = JobWorker(
            db,
            clock,
            {
                ESCALATE: self._escalate,
                SEND: self._send,
                REMIND_SEND: self._send,
                REMIND: self._remind,
                ACK_SUMMARY: self._summary,
                DIGEST: self._digest,
                NOTIFY: self._notify_again,
            },
            concurrency=concurrency,
        )

    async def run_due(self) -> int:
        return await self.worker.run_due()

    async def _notify_again(self, job: Job) -> Outcome:
        """A module's notification from its outbox (hub.actions.notify_later)."""
        event = msgspec.convert(job.payload["event"], ModuleEvent)
        try:
            await self.notify(job.tenant_id, event)
        except ReppuError as exc:
            if exc.temporary:
                raise
            # e.g. empty_audience: nobody left to tell; trying again would not help
            log.info("notification %s not sent: %s", event.idempotency_key, exc.code)
            return Cancel(exc.code)
        return None

    # -- presence --

    async def record_presence(self, tenant_id: UUID, persons: Sequence[UUID]) -> None:
        if not persons:
            return
        async with self.db.tenant(tenant_id) as conn:
            await conn.execute(
                "INSERT INTO presence (tenant_id, person_id, seen_at) "
                "SELECT $1, p, $3 FROM unnest($2::uuid[]) AS p "
                "ON CONFLICT (tenant_id, person_id) DO UPDATE SET seen_at = excluded.seen_at",
                tenant_id,
                sorted(set(persons)),
                self.clock.now(),
            )

    # -- ladder steps --

    async def _escalate(self, job: Job) -> Outcome:
        channel: Channel = job.payload["channel"]
        now = self.clock.now()
        assert job.message_id is not None
        async with self.db.tenant(job.tenant_id) as conn:
            msg = await store.message(conn, job.message_id)
            if msg is None:
                return Cancel("no such message")
            # the unread who can be reached on this channel at all, in one query
            # driven by the few with a push subscription (or an address), not by
            # every recipient: a school-wide announcement has thousands
            reachable = sorted(
                await self._unread_reachable(conn, channel, job.message_id, now), key=str
            )
            if not reachable:
                return None
            prefs = await prefs_store.load_preferences(conn, reachable)
            jobs = []
            for person in reachable:
                p = prefs[person]
                if mode(p, msg["kind"], msg["urgency"]) != "instant":
                    continue  # digest (its own job) or off
                if not channel_allowed(p, channel, msg["urgency"]):
                    continue
                jobs.append(
                    NewJob(
                        kind=SEND,
                        due_at=send_at(now, p, msg["urgency"]),
                        key=f"{job.message_id}:{person}:{channel}",
                        payload={"channel": channel},
                        message_id=job.message_id,
                        person_id=person,
                    )
                )
            await enqueue(conn, job.tenant_id, jobs)
        self.worker.wake()
        return None

    async def _unread_reachable(
        self, conn: Connection, channel: Channel, message_id: UUID, now: datetime
    ) -> set[UUID]:
        """The message's unread recipients who can be reached on `channel`:
        push — a subscription, and not active in a web client (the client shows
        it); email — an address that has not bounced. Driven by the few with a
        subscription or an address, not by every recipient."""
        if channel == "push":
            rows = await conn.fetch(
                "SELECT DISTINCT s.person_id FROM push_subscriptions s "
                f"JOIN inbox i ON i.person_id = s.person_id AND {_UNREAD} "
                "WHERE NOT EXISTS (SELECT 1 FROM presence p "
                " WHERE p.person_id = s.person_id AND p.seen_at >= $2)",
                message_id,
                now - ACTIVE_WINDOW,
            )
        else:
            rows = await conn.fetch(
                "SELECT i.person_id FROM inbox i JOIN persons p ON p.id = i.person_id "
                f"WHERE {_UNREAD} AND {_MAILABLE}",
                message_id,
            )
        return {r["person_id"] for r in rows}

    async def _reachable(
        self, conn: Connection, channel: Channel, persons: list[UUID]
    ) -> set[UUID]:
        """Which of `persons` can be reached on `channel` at all (reminders: being
        in a web client does not matter, the acknowledgement is still wanted)."""
        if channel == "push":
            sql = "SELECT DISTINCT person_id FROM push_subscriptions WHERE person_id = ANY($1)"
        else:
            sql = f"SELECT p.id AS person_id FROM persons p WHERE p.id = ANY($1) AND {_MAILABLE}"
        return {r["person_id"] for r in await conn.fetch(sql, persons)}

    # -- one send --

    async def _send(self, job: Job) -> Outcome:
        channel: Channel = job.payload["channel"]
        purpose = "reminder" if job.kind == REMIND_SEND else "new"
        step = int(job.payload.get("step", 0))
        mid, pid = job.message_id, job.person_id
        assert mid is not None and pid is not None
        now = self.clock.now()
        async with self.db.tenant(job.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT i.read_at, i.acked_at, i.archived_at, m.kind, m.urgency, m.subject, "
                "m.body, m.sender_id, m.ack_deadline, p.language "
                "FROM inbox i JOIN messages m ON m.id = i.message_id "
                "JOIN persons p ON p.id = i.person_id "
                "WHERE i.message_id = $1 AND i.person_id = $2",
                mid,
                pid,
            )
            if row is None:
                return Cancel("not in the inbox")
            if purpose == "new" and (row["read_at"] or row["archived_at"]):
                return Cancel("read")
            if purpose == "reminder" and not await self._still_wanted(conn, mid, pid):
                return Cancel("acknowledged")
            done = await conn.fetchval(
                "SELECT state FROM channel_deliveries WHERE message_id = $1 AND person_id = $2 "
                "AND channel = $3 AND purpose = $4 AND step = $5",
                mid,
                pid,
                channel,
                purpose,
                step,
            )
            if done is not None:
                return Cancel(f"already {done}")  # a re-run after the effect was recorded
            p = (await prefs_store.load_preferences(conn, [pid]))[pid]
            if not channel_allowed(p, channel, row["urgency"]):
                return Cancel("channel turned off")
            at = send_at(now, p, row["urgency"])
            if at > now:  # preferences changed since this was planned
                await enqueue(conn, job.tenant_id, [_again(job, at)])
                return Cancel("quiet hours: moved")
            push_subjects, full_text = await prefs_store.tenant_flags(conn)
            org = await _org_name(conn, row["sender_id"])
            language = _lang(p.language or row["language"])
            subs: list[tuple[UUID, PushSubscription]] = []
            dest: tuple[str, str, str] | None = None
            if channel == "push":
                subs = await prefs_store.subscriptions_of(conn, pid)
                if not subs:
                    return Cancel("no push subscription")
            else:
                dest = await prefs_store.email_destination(conn, pid)
                if dest is None:
                    return Cancel("no email address")
        url = f"{self.settings.public_url.rstrip('/')}/?message={mid}"
        ttl = timedelta(hours=24)
        if purpose == "reminder" and row["ack_deadline"] is not None:
            ttl = max(timedelta(minutes=1), min(ttl, row["ack_deadline"] - now))
        if channel == "push":
            if self.push is None:
                return Cancel("Web Push not configured")
            rendered = render_push(
                kind=row["kind"],
                reminder=purpose == "reminder",
                language=language,
                org=org,
                subject=row["subject"] if push_subjects else None,
                url=url,
                urgency=row["urgency"],
                message_id=mid,
                ttl=ttl,
            )
            state, outcome, gone = await self._push_all(rendered, subs, job, now, p, row["urgency"])
        else:
            if self.email is None:
                return Cancel("email not configured")
            assert dest is not None
            address, name, mail_language = dest
            subject = row["subject"]
            if purpose == "reminder":
                subject = f"{_REMINDER_PREFIX[_lang(mail_language)]}: {subject}"
            rendered = Rendered(title=subject, text=row["body"], url=url, kind=row["kind"], ttl=ttl)
            destination = EmailDestination(
                address=address,
                display_name=name,
                language=_lang(mail_language),
                unsubscribe_url=unsubscribe_url(self.settings, job.tenant_id, pid),
            )
            result = await self.email[full_text].deliver(rendered, destination)
            state, outcome = self._settle(result, job, now, p, row["urgency"], "emailed")
            gone = []
            if isinstance(result, PermanentFailure) and result.gone:
                state = "bounced"
        if state is None:
            return outcome  # a retry
        async with self.db.tenant(job.tenant_id) as conn:
            for sub_id in gone:
                await prefs_store.delete_subscription(conn, sub_id)
            if state == "bounced" and dest is not None:
                await prefs_store.mark_bounced(conn, pid, dest[0], "smtp 5xx", now)
            await conn.execute(
                "INSERT INTO channel_deliveries (tenant_id, message_id, person_id, channel, "
                "purpose, step, state, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT DO NOTHING",
                job.tenant_id,
                mid,
                pid,
                channel,
                purpose,
                step,
                state,
                now,
            )
        self.sent[state] = self.sent.get(state, 0) + 1
        if row["sender_id"] is not None:
            await self.fanout.reports(job.tenant_id, [(row["sender_id"], mid, pid, state, now)])
        return None

    async def _push_all(
        self,
        rendered: Rendered,
        subs: list[tuple[UUID, PushSubscription]],
        job: Job,
        now: datetime,
        prefs: Preferences,
        urgency: str,
    ) -> tuple[str | None, Outcome, list[UUID]]:
        """One push to each of the person's devices: pushed if any took it;
        subscriptions that are gone (404/410) are deleted."""
        assert self.push is not None
        push = self.push
        results = await asyncio.gather(*(push.deliver(rendered, sub) for _, sub in subs))
        gone = [
            sid
            for (sid, _), r in zip(subs, results, strict=True)
            if isinstance(r, PermanentFailure) and r.gone
        ]
        if any(isinstance(r, Delivered) for r in results):
            return "pushed", None, gone
        temporary = [r for r in results if isinstance(r, TemporaryFailure)]
        if temporary:
            state, outcome = self._settle(temporary[0], job, now, prefs, urgency, "pushed")
            if state is None and gone:
                # delete what is gone now; the retry goes to the rest
                async with self.db.tenant(job.tenant_id) as conn:
                    for sid in gone:
                        await prefs_store.delete_subscription(conn, sid)
            return state, outcome, gone
        return ("subscription_gone" if len(gone) == len(subs) else "undelivered"), None, gone

    def _settle(
        self,
        result: Result,
        job: Job,
        now: datetime,
        prefs: Preferences,
        urgency: str,
        success: str,
    ) -> tuple[str | None, Outcome]:
        """A channel result → the state to record (None: not final, retry)."""
        if isinstance(result, Delivered):
            return success, None
        if isinstance(result, PermanentFailure):
            return "undelivered", None
        if job.attempts >= MAX_SEND_ATTEMPTS:
            return "undelivered", None
        wait = backoff(job.attempts)
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        # a retry, too, waits for the end of quiet hours unless critical
        return None, Retry(at=send_at(now + wait, prefs, urgency), error=result.reason)

    # -- acknowledgements --

    async def _still_wanted(self, conn: Connection, message_id: UUID, person_id: UUID) -> bool:
        """Is `person_id`'s acknowledgement still wanted? Decided on the rows
        that share a learner with theirs only: one reminder send does not read
        the whole audience of a school-wide request."""
        msg = await store.message(conn, message_id)
        if msg is None or not msg["requires_ack"]:
            return False
        status, _ = await _ack_status(conn, message_id, msg["ack_quorum"], about=person_id)
        return person_id in status.pending

    async def _remind(self, job: Job) -> Outcome:
        assert job.message_id is not None
        now = self.clock.now()
        async with self.db.tenant(job.tenant_id) as conn:
            msg = await store.message(conn, job.message_id)
            if msg is None or not msg["requires_ack"] or msg["ack_deadline"] is None:
                return Cancel("nothing to acknowledge")
            deadline: datetime = msg["ack_deadline"]
            if now >= deadline:
                return Cancel("deadline passed")
            status, _ = await _ack_status(conn, job.message_id, msg["ack_quorum"])
            pending = sorted(status.pending, key=str)
            step = int(job.payload.get("step", 0))
            if not pending:
                return None
            prefs = await prefs_store.load_preferences(conn, pending)
            push_ok = await self._reachable(conn, "push", pending)
            mail_ok = await self._reachable(conn, "email", pending)
            jobs = []
            for person in pending:
                p = prefs[person]
                plan: list[tuple[Channel, datetime]] = []
                if person in push_ok and channel_allowed(p, "push", msg["urgency"]):
                    plan.append(("push", send_at(now, p, msg["urgency"])))
                if person in mail_ok and channel_allowed(p, "email", msg["urgency"]):
                    plan.append(("email", send_at(now + REMINDER_EMAIL_AFTER, p, msg["urgency"])))
                for channel, at in plan:
                    if at >= deadline:
                        continue  # quiet hours last past the deadline: too late to remind
                    jobs.append(
                        NewJob(
                            kind=REMIND_SEND,
                            due_at=at,
                            key=f"{job.message_id}:{person}:{channel}:{step}",
                            payload={"channel": channel, "step": step},
                            message_id=job.message_id,
                            person_id=person,
                        )
                    )
            await enqueue(conn, job.tenant_id, jobs)
        self.worker.wake()
        return None

    async def _summary(self, job: Job) -> Outcome:
        """At the deadline: the sender is told, in their inbox, who has not acknowledged."""
        assert job.message_id is not None
        async with self.db.tenant(job.tenant_id) as conn:
            msg = await store.message(conn, job.message_id)
            if msg is None or not msg["requires_ack"] or msg["sender_id"] is None:
                return Cancel("no summary to give")
            status, direct = await _ack_status(conn, job.message_id, msg["ack_quorum"])
            open_learners = [lid for lid, ok in status.learners.items() if not ok]
            open_direct = [pid for pid in direct if pid in status.pending]
            names = await store.names(conn, [*open_learners, *open_direct])
            language = _lang(
                await conn.fetchval("SELECT language FROM persons WHERE id = $1", msg["sender_id"])
            )
        subject_t, intro_t, all_t = _SUMMARY[language]
        deadline = msg["ack_deadline"].astimezone(HELSINKI).strftime("%d.%m.%Y %H:%M")
        lines = sorted(
            [_GUARDIANS_OF[language].format(name=names.get(lid, "?")) for lid in open_learners]
            + [names.get(pid, "?") for pid in open_direct]
        )
        if lines:
            shown = lines[:SUMMARY_MAX_NAMES]
            out = [intro_t.format(deadline=deadline, n=len(lines)), *(f"- {x}" for x in shown)]
            if len(lines) > len(shown):
                out.append(_MORE[language].format(n=len(lines) - len(shown)))
            body = "\n".join(out)
        else:
            body = all_t.format(deadline=deadline)
        subject = subject_t.format(subject=msg["subject"])[:200]
        await self.notify(
            job.tenant_id,
            ModuleEvent(
                idempotency_key=f"ack-summary:{job.message_id}",
                source="reppu",
                audience=PersonSel(id=msg["sender_id"]),
                subject=subject,
                body=body,
                language=language,
            ),
        )
        return None

    # -- digest --

    async def _digest(self, job: Job) -> Outcome:
        pid = job.person_id
        assert pid is not None
        now = self.clock.now()
        after = int(job.payload.get("after_seq", 0))
        async with self.db.tenant(job.tenant_id) as conn:
            p = (await prefs_store.load_preferences(conn, [pid]))[pid]
            kinds = [k for k, m in p.kinds.items() if m == "digest"]
            if not kinds:
                return Cancel("no digest chosen")
            head = await store.head(conn, pid)
            # the next one first: a failing send below must not end the series
            await enqueue(conn, job.tenant_id, [digest_job(pid, p, now, head)])
            if not channel_allowed(p, "email", "normal"):
                return None
            rows = await conn.fetch(
                "SELECT m.subject, m.sender_name FROM inbox i "
                "JOIN messages m ON m.id = i.message_id "
                "WHERE i.person_id = $1 AND i.seq > $2 AND i.seq <= $3 "
                "AND i.read_at IS NULL AND i.archived_at IS NULL "
                "AND m.kind = ANY($4::text[]) ORDER BY i.seq",
                pid,
                after,
                head,
                kinds,
            )
            dest = await prefs_store.email_destination(conn, pid)
        if not rows or dest is None or self.email is None:
            return None
        address, name, mail_language = dest
        language = _lang(mail_language)
        shown = rows[:DIGEST_MAX_ITEMS]
        lines = [f"- {r['subject']} ({r['sender_name']})" for r in shown]
        if len(rows) > len(shown):
            lines.append(_MORE[language].format(n=len(rows) - len(shown)))
        rendered = Rendered(
            title=_DIGEST_TITLE[language].format(n=len(rows)),
            text="\n".join(lines),
            url=f"{self.settings.public_url.rstrip('/')}/",
            kind="digest",
        )
        result = await self.email[False].deliver(
            rendered,
            EmailDestination(
                address=address,
                display_name=name,
                language=language,
                unsubscribe_url=unsubscribe_url(self.settings, job.tenant_id, pid),
            ),
        )
        if isinstance(result, TemporaryFailure) and job.attempts < MAX_SEND_ATTEMPTS:
            return Retry(at=now + backoff(job.attempts), error=result.reason)
        state = "emailed" if isinstance(result, Delivered) else "undelivered"
        self.sent[f"digest_{state}"] = self.sent.get(f"digest_{state}", 0) + 1
        return None


def _again(job: Job, at: datetime) -> NewJob:
    """The same send, planned for later (a new key: the old job ends cancelled)."""
    return NewJob(
        kind=job.kind,
        due_at=at,
        key=f"{job.message_id}:{job.person_id}:{job.payload['channel']}:{at.isoformat()}",
        payload=dict(job.payload),
        message_id=job.message_id,
        person_id=job.person_id,
    )


async def _ack_status(
    conn: Connection, message_id: UUID, quorum: str | None, *, about: UUID | None = None
) -> tuple[AckStatus, list[UUID]]:
    """hub.acks over the message's inbox rows — with `about`, only that
    person's row and those sharing a learner with it, which is all their own
    status depends on; also the directly addressed recipients."""
    rows = await conn.fetch(
        "SELECT person_id, for_learners, acked_at FROM inbox WHERE message_id = $1 "
        "AND ($2::uuid IS NULL OR person_id = $2 OR for_learners && (SELECT for_learners "
        " FROM inbox WHERE message_id = $1 AND person_id = $2))",
        message_id,
        about,
    )
    acks = [AckRow(r["person_id"], list(r["for_learners"]), r["acked_at"]) for r in rows]
    learners = sorted({lid for a in acks for lid in a.for_learners}, key=str)
    custodians = await store.custodial_guardians(conn, learners) if learners else {}
    direct = [a.person_id for a in acks if not a.for_learners]
    return ack_status(acks, quorum, custodians), direct


async def _org_name(conn: Connection, sender_id: UUID | None) -> str:
    """Who a push says a message is from: the sender's school, else the
    education provider — never a person's name."""
    if sender_id is not None:
        name = await conn.fetchval(
            "SELECT s.name FROM person_roles r JOIN schools s ON s.id = r.school_id "
            "WHERE r.person_id = $1 ORDER BY s.name LIMIT 1",
            sender_id,
        )
        if name:
            return str(name)
    return str(await conn.fetchval("SELECT name FROM tenants") or "Reppu")
