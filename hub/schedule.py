"""When delivery happens: the named delays of the escalation ladder and of
acknowledgement reminders, the job kinds, and the jobs a publish writes
(hub.delivery runs them; docs/delivery.md explains them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from core.clock import HELSINKI
from core.db import Connection
from core.jobs import NewJob, enqueue, exponential_backoff
from hub.policy import Preferences, next_digest

#: unread this long after publishing → Web Push (if not active in a web client)
PUSH_AFTER = timedelta(minutes=2)
#: unread this long after publishing → email
EMAIL_AFTER = timedelta(minutes=30)
#: a person whose live session was seen this recently is active in a web client
ACTIVE_WINDOW = timedelta(seconds=75)
#: how often each node records its live sessions' persons as present
PRESENCE_INTERVAL_S = 30.0
#: acknowledgement reminders, before the deadline
REMINDERS_BEFORE = (timedelta(hours=24), timedelta(hours=2))
#: a reminder goes by push first, then by email this much later if still unacknowledged
REMINDER_EMAIL_AFTER = timedelta(minutes=30)
#: tries of one send (push to all of a person's devices, or one email) before
#: it is recorded as undelivered; below core.jobs.MAX_ATTEMPTS
MAX_SEND_ATTEMPTS = 5
#: a failed send waits SEND_BACKOFF_BASE_S doubling per try (core.jobs.exponential_backoff)
SEND_BACKOFF_BASE_S = 30.0
#: most unread items listed in one digest (the rest are counted)
DIGEST_MAX_ITEMS = 30
#: most names listed in a deadline summary (the rest are counted)
SUMMARY_MAX_NAMES = 200

# job kinds
ESCALATE = "escalate"  # message_id; payload channel: a ladder step falls due
SEND = "send"  # message_id, person_id; payload channel: cancelled when read
REMIND = "remind"  # message_id: an acknowledgement reminder falls due
REMIND_SEND = "remind_send"  # message_id, person_id; payload channel: cancelled when acked
ACK_SUMMARY = "ack_summary"  # message_id: the deadline; summary to the sender
DIGEST = "digest"  # person_id: the daily digest
NOTIFY = "notify"  # payload event: a module's notification, sent again (hub.actions.notify_later)


def message_jobs(
    message_id: UUID,
    *,
    requires_ack: bool,
    deadline: datetime | None,
    sender_id: UUID | None,
    now: datetime,
) -> list[NewJob]:
    """The jobs a publish writes in its own transaction (invariant 3: none
    exist for a publish that did not commit)."""
    jobs = [
        NewJob(
            kind=ESCALATE,
            due_at=now + PUSH_AFTER,
            key=f"{message_id}:push",
            payload={"channel": "push"},
            message_id=message_id,
        ),
        NewJob(
            kind=ESCALATE,
            due_at=now + EMAIL_AFTER,
            key=f"{message_id}:email",
            payload={"channel": "email"},
            message_id=message_id,
        ),
    ]
    if requires_ack and deadline is not None:
        for before in REMINDERS_BEFORE:
            if deadline - before > now:
                jobs.append(
                    NewJob(
                        kind=REMIND,
                        due_at=deadline - before,
                        key=f"{message_id}:{int(before.total_seconds())}",
                        payload={"step": int(before.total_seconds())},
                        message_id=message_id,
                    )
                )
        if sender_id is not None:
            jobs.append(
                NewJob(
                    kind=ACK_SUMMARY, due_at=deadline, key=str(message_id), message_id=message_id
                )
            )
    return jobs


def digest_job(person_id: UUID, prefs: Preferences, now: datetime, after_seq: int) -> NewJob:
    """The person's next digest: it lists their unread items of digest kinds
    that arrived after `after_seq` (the head of their sequence when the
    previous digest went, or when they chose one)."""
    at = next_digest(now, prefs)
    return NewJob(
        kind=DIGEST,
        due_at=at,
        key=f"{person_id}:{at.astimezone(HELSINKI).date().isoformat()}",
        person_id=person_id,
        payload={"after_seq": after_seq},
    )


async def schedule_digest(
    conn: Connection, tenant_id: UUID, person_id: UUID, prefs: Preferences, now: datetime
) -> None:
    """After a person's preferences change: their next digest, if they chose one."""
    if any(m == "digest" for m in prefs.kinds.values()):
        head = await conn.fetchval(
            "SELECT last_seq FROM inbox_heads WHERE person_id = $1", person_id
        )
        await enqueue(conn, tenant_id, [digest_job(person_id, prefs, now, head or 0)])


def backoff(attempts: int) -> timedelta:
    """The wait before a send's next try: the jobs' exponential backoff with
    jitter, from SEND_BACKOFF_BASE_S (a push service or relay that is down
    is given minutes, not seconds)."""
    return exponential_backoff(attempts, base_s=SEND_BACKOFF_BASE_S)
