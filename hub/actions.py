"""The hub's actions: publish, reply, read/acknowledge/archive, and the reads
that go with them. The only place that changes hub state; frames go to the
broker only after the transaction commits.

Idempotent by key (invariant 4): the same key with the same content returns
the message already published; with different content it is `409
idempotency_conflict`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg
import msgspec

from core import jobs
from core.auth import Principal
from core.clock import Clock, today_in_helsinki
from core.db import Connection, Database
from core.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ReppuError
from core.rights import guardian_may_see
from hub import schedule, store
from hub.acks import AckRow, ack_status
from hub.audience import (
    AudienceCache,
    Recipient,
    count_selectors,
    not_addressable,
    resolve,
)
from hub.fanout import Fanout
from hub.frames import ENCODER, encode_message, signal_frame
from hub.model import (
    MAX_SELECTORS,
    ChannelReport,
    Counts,
    InboxItem,
    InboxPage,
    InboxState,
    LearnerAck,
    MessageView,
    ModuleEvent,
    NewMessage,
    NewReply,
    Published,
    RecipientReport,
    Report,
    Selector,
    SentItem,
    Thread,
    ThreadItem,
)

log = logging.getLogger("reppu.hub")

#: How often a publish is retried after a deadlock or serialization failure.
MAX_PUBLISH_ATTEMPTS = 3
#: Largest page of GET /v1/inbox and of a live replay batch.
MAX_PAGE = 500
#: Most messages GET /v1/threads/{id} returns (the oldest; a longer thread is
#: cut there — `truncated` says so).
MAX_THREAD = 500

StateAction = Literal["read", "ack", "archive"]
_COLUMN = {"read": "read_at", "ack": "acked_at", "archive": "archived_at"}
#: the delivery jobs (hub.delivery) a state change makes pointless
_CANCELS: dict[str, list[str]] = {
    "read": [schedule.SEND],
    "archive": [schedule.SEND],
    "ack": [schedule.SEND, schedule.REMIND_SEND],
}
#: A message row's columns that a recipient sees (MessageView), besides created_at.
_VIEW_FIELDS = tuple(f for f in MessageView.__struct_fields__ if f != "created_at")


#: when a module's notification is sent again by the durable job, by default
NOTIFY_BACKSTOP = timedelta(seconds=30)


async def notify_later(
    conn: Connection,
    tenant_id: UUID,
    events: Sequence[ModuleEvent],
    due_at: datetime,
) -> None:
    """The durable half of a module's notifications (a transactional outbox): in
    the module's own transaction, a job per event that sends it through
    `Hub.notify` at `due_at`. The module also sends each event itself after its
    commit (the fast path); the job's send is then a no-op, since the hub is
    idempotent by key, and it is the send when the process died in between.
    Nothing is queued for a transaction that does not commit (invariant 3)."""
    await jobs.enqueue(
        conn,
        tenant_id,
        [
            jobs.NewJob(
                kind=schedule.NOTIFY,
                key=f"{e.source}:{e.idempotency_key}",
                due_at=due_at,
                payload={"event": msgspec.to_builtins(e)},
            )
            for e in events
        ],
    )


def _hash(*parts: Any) -> bytes:
    return hashlib.sha256(ENCODER.encode(parts)).digest()


def view_of(row: asyncpg.Record) -> MessageView:
    return MessageView(
        id=row["id"],
        thread_id=row["thread_id"],
        reply_to=row["reply_to"],
        kind=row["kind"],
        sender_id=row["sender_id"],
        sender_name=row["sender_name"],
        subject=row["subject"],
        body=row["body"],
        language=row["language"],
        urgency=row["urgency"],
        reply_policy=row["reply_policy"],
        requires_ack=row["requires_ack"],
        ack_deadline=row["ack_deadline"],
        about=list(row["about"]),
        created_at=row["created_at"],
    )


def state_of(row: asyncpg.Record) -> InboxState:
    return InboxState(
        read_at=row["read_at"],
        acked_at=row["acked_at"],
        archived_at=row["archived_at"],
        withdrawn_at=row.get("withdrawn_at"),
    )


class Hub:
    """`hub.publish` and friends. One per process; stateless apart from its
    dependencies."""

    def __init__(self, db: Database, clock: Clock, fanout: Fanout) -> None:
        self.db = db
        self.clock = clock
        self.fanout = fanout
        #: resolved audiences, per roster version (hub.audience.AudienceCache)
        self.audiences = AudienceCache()

    # ---- publishing ----------------------------------------------------------------------

    async def publish(self, who: Principal, new: NewMessage) -> Published:
        """A message or announcement from a person to an audience."""
        if new.kind == "announcement" and new.reply_policy != "nobody":
            new = msgspec.structs.replace(new, reply_policy="nobody")
        return await self._publish(
            who.tenant_id,
            sender=who.require_person(),
            source=None,
            kind=new.kind,
            key=new.idempotency_key,
            audience=new.audience,
            subject=new.subject,
            body=new.body,
            language=new.language,
            urgency=new.urgency,
            reply_policy=new.reply_policy,
            ack=new.ack,
            needs_custody=new.needs_custody,
            about=new.about,
        )

    async def publish_event(self, who: Principal, event: ModuleEvent) -> Published:
        """A platform module's notification (service token, scope events:publish)."""
        return await self._publish(
            who.tenant_id,
            sender=None,
            source=event.source,
            kind="notification",
            key=f"{event.source}:{event.idempotency_key}",
            audience=event.audience,
            subject=event.subject,
            body=event.body,
            language=event.language,
            urgency=event.urgency,
            reply_policy="nobody",
            ack=event.ack,
            needs_custody=event.needs_custody,
            about=event.about,
        )

    async def notify(self, tenant_id: UUID, event: ModuleEvent) -> Published:
        """In-process module intake (scheduling, planning, decisions): the same path as
        POST /v1/events, without a token."""
        who = Principal(
            kind="service",
            tenant_id=tenant_id,
            person_id=None,
            scopes=("events:publish",),
            subject=f"service:{event.source}",
        )
        return await self.publish_event(who, event)

    async def signal(self, tenant_id: UUID, person_id: UUID, kind: str, data: object) -> None:
        """A transient live frame to one person's connected devices
        (`{"type": "signal", "kind": …, "data": …}`), for progress that is
        worth showing while it happens and worthless later (a timetable
        solve's best score so far). At most once: no inbox row, no seq, not
        replayed on resume, nothing for a person who is not connected. Never
        for anything the person must see — that is `notify`. `data` must be
        msgspec-encodable and is bounded by `MAX_SIGNAL_BYTES`."""
        await self.fanout.signal(tenant_id, person_id, signal_frame(kind, data))

    async def recipients(
        self, conn: Connection, audience: Selector, *, needs_custody: bool = False
    ) -> dict[UUID, Recipient]:
        """Whom `audience` reaches under the hub's rules (guardian rights, the
        18-year line), without publishing, in the caller's tenant transaction:
        for a module that tailors a notice to each person (a timetable change
        summary) and then publishes each version to its `Persons`."""
        return await resolve(
            conn, audience, needs_custody=needs_custody, today=today_in_helsinki(self.clock)
        )

    async def withdraw(
        self, tenant_id: UUID, pairs: Sequence[tuple[UUID, UUID]]
    ) -> list[tuple[UUID, UUID]]:
        """Take back notifications (kind `notification`) that their recipients
        have not read: for each (person, message) whose inbox row is unread, the
        row leaves the inbox (archived, `withdrawn_at` set), its pending push,
        e-mail and reminders are cancelled, and the person's devices get a
        `state` frame in their sequence (a resuming device learns it too). Rows
        already read stay as they are. Returns the pairs withdrawn now."""
        if not pairs:
            return []
        events: list[tuple[UUID, int, UUID, InboxState]] = []
        async with self.db.tenant(tenant_id) as conn:
            for r in await store.withdraw(conn, pairs):
                person, message = r["person_id"], r["message_id"]
                await jobs.cancel(conn, message_id=message, person_id=person)
                seq = await store.next_event(conn, tenant_id, person, message)
                events.append((person, seq, message, state_of(r)))
        for person, seq, message, state in events:
            await self.fanout.state(tenant_id, person, seq, message, state)
        return [(person, message) for person, _, message, _ in events]

    async def _publish(
        self,
        tenant_id: UUID,
        *,
        sender: UUID | None,
        source: str | None,
        kind: str,
        key: str,
        audience: Any,
        subject: str,
        body: str,
        language: str,
        urgency: str,
        reply_policy: str,
        ack: Any,
        needs_custody: bool,
        about: Sequence[UUID],
    ) -> Published:
        if count_selectors(audience) > MAX_SELECTORS:
            raise PayloadTooLarge(f"more than {MAX_SELECTORS} selectors", code="audience_too_large")
        content = _hash(
            sender,
            source,
            kind,
            audience,
            subject,
            body,
            language,
            urgency,
            reply_policy,
            ack,
            needs_custody,
            sorted(map(str, about)),
        )
        today = today_in_helsinki(self.clock)
        for attempt in range(1, MAX_PUBLISH_ATTEMPTS + 1):
            try:
                async with self.db.tenant(tenant_id) as conn:
                    # A repeated key is found by the insert (it writes nothing then);
                    # only a refusal looks for it first: a retry of a message that
                    # was sent gets that message, even if its audience has changed.
                    try:
                        recipients = await self._recipients(
                            conn, tenant_id, audience, sender, about, needs_custody, today
                        )
                    except ReppuError:
                        done = await self._existing(conn, key, content)
                        if done is not None:
                            return done
                        raise
                    sender_name = None if sender is not None else source or "Reppu"
                    message_id = uuid4()
                    written = await self._write(
                        conn,
                        tenant_id,
                        {
                            "id": message_id,
                            "kind": kind,
                            "thread_id": message_id,
                            "reply_to": None,
                            "sender_id": sender,
                            "sender_name": sender_name,
                            "source": source,
                            "school_id": None,
                            "subject": subject,
                            "body": body,
                            "language": language,
                            "urgency": urgency,
                            "reply_policy": reply_policy,
                            "requires_ack": ack is not None,
                            "ack_deadline": ack.deadline if ack else None,
                            "ack_quorum": ack.quorum if ack else None,
                            "needs_custody": needs_custody,
                            "about": list(about),
                            "audience": ENCODER.encode(audience).decode(),
                            "idempotency_key": key,
                            "content_hash": content,
                            "recipient_count": len(recipients),
                        },
                        recipients,
                    )
                    if isinstance(written, Published):
                        return written
                    view, deliveries = written
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == MAX_PUBLISH_ATTEMPTS:
                    raise
                log.info("publish retried after a lock conflict (attempt %d)", attempt)
        # committed: now, and only now, the fast path
        await self._fan_out(tenant_id, view, deliveries, recipients)
        return Published(
            id=message_id, thread_id=message_id, recipients=len(deliveries), created=True
        )

    async def _recipients(
        self,
        conn: Connection,
        tenant_id: UUID,
        audience: Any,
        sender: UUID | None,
        about: Sequence[UUID],
        needs_custody: bool,
        today: date,
    ) -> dict[UUID, Recipient]:
        """The audience resolved and checked: whom `sender` may address, and
        the learners the message is about."""
        recipients = await self.audiences.resolve(
            conn, tenant_id, audience, needs_custody=needs_custody, today=today
        )
        if about:
            await _check_about(conn, about, recipients, today)
        if sender is not None:
            recipients.pop(sender, None)
            refused = await not_addressable(conn, sender, recipients)
            if refused:
                # a count, never who: the sender may not learn who is in
                # an audience they have no right to address
                raise Forbidden(
                    f"{len(refused)} recipients are not yours to address",
                    code="recipient_not_allowed",
                    details={"not_allowed": len(refused)},
                )
        if not recipients:
            raise BadRequest("the audience has no recipients", code="empty_audience")
        return recipients

    async def _write(
        self,
        conn: Connection,
        tenant_id: UUID,
        row: dict[str, Any],
        recipients: dict[UUID, Recipient],
    ) -> tuple[MessageView, list[tuple[UUID, int]]] | Published:
        """Insert the message, its recipients' inbox rows, and the escalation
        ladder's and reminders' jobs, in one statement of the caller's
        transaction (invariant 3). A concurrent publish with the same key that
        won the insert — or an earlier one — is returned as Published instead."""
        written = await store.publish_rows(
            conn,
            tenant_id,
            row,
            list(recipients.values()),
            schedule.message_jobs(
                row["id"],
                requires_ack=row["requires_ack"],
                deadline=row["ack_deadline"],
                sender_id=row["sender_id"],
                now=self.clock.now(),
            ),
        )
        if written is None:
            done = await self._existing(conn, row["idempotency_key"], row["content_hash"])
            assert done is not None
            return done
        created, row["sender_name"], deliveries = written
        view = MessageView(**{f: row[f] for f in _VIEW_FIELDS}, created_at=created)
        return view, deliveries

    async def _existing(self, conn: Connection, key: str, content: bytes) -> Published | None:
        row = await store.by_key(conn, key)
        if row is None:
            return None
        if bytes(row["content_hash"]) != content:
            raise Conflict(
                "this idempotency key was used for different content", code="idempotency_conflict"
            )
        return Published(
            id=row["id"],
            thread_id=row["thread_id"],
            recipients=row["recipient_count"],
            created=False,
        )

    async def _fan_out(
        self,
        tenant_id: UUID,
        view: MessageView,
        deliveries: Sequence[tuple[UUID, int]],
        recipients: dict[UUID, Recipient],
    ) -> None:
        await self.fanout.message(tenant_id, view.id, encode_message(view), deliveries, recipients)

    async def reply(self, who: Principal, message_id: UUID, new: NewReply) -> Published:
        """A reply in the thread of `message_id`, to whom the thread allows."""
        me = who.require_person()
        content = _hash("reply", me, message_id, new.body)
        async with self.db.tenant(who.tenant_id) as conn:
            done = await self._existing(conn, new.idempotency_key, content)
            if done is not None:
                return done
            parent = await store.message(conn, message_id)
            if parent is None:
                raise NotFound("message not found")
            root = await store.message(conn, parent["thread_id"])
            assert root is not None
            participants = set(await store.thread_participants(conn, root["id"]))
            if me not in participants:
                raise NotFound("message not found")
            policy = root["reply_policy"]
            if root["kind"] != "message" or policy == "nobody":
                raise Forbidden("this thread takes no replies", code="replies_closed")
            if policy == "sender" and me != root["sender_id"]:
                targets = {root["sender_id"]}
            else:
                targets = participants
            targets.discard(me)
            targets.discard(None)
            if not targets:
                raise BadRequest("nobody to reply to", code="empty_audience")
            recipients = {p: Recipient(p) for p in targets}
            name = None  # looked up as the message is inserted
            reply_id = uuid4()
            written = await self._write(
                conn,
                who.tenant_id,
                {
                    "id": reply_id,
                    "kind": "message",
                    "thread_id": root["id"],
                    "reply_to": message_id,
                    "sender_id": me,
                    "sender_name": name,
                    "source": None,
                    "school_id": None,
                    "subject": root["subject"],
                    "body": new.body,
                    "language": root["language"],
                    "urgency": "normal",
                    "reply_policy": policy,
                    "requires_ack": False,
                    "ack_deadline": None,
                    "ack_quorum": None,
                    "needs_custody": False,
                    "about": list(root["about"]),
                    "audience": '{"type":"reply"}',
                    "idempotency_key": new.idempotency_key,
                    "content_hash": content,
                    "recipient_count": len(recipients),
                },
                recipients,
            )
            if isinstance(written, Published):
                return written
            view, deliveries = written
        await self._fan_out(who.tenant_id, view, deliveries, recipients)
        return Published(
            id=reply_id, thread_id=root["id"], recipients=len(deliveries), created=True
        )

    # ---- state ---------------------------------------------------------------------------

    async def mark(self, who: Principal, message_id: UUID, action: StateAction) -> InboxState:
        """Read, acknowledge or archive one's own copy. Idempotent: a second call
        changes nothing and emits nothing."""
        person = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            msg = await store.message(conn, message_id)
            if msg is None:
                raise NotFound("message not found")
            if action == "ack" and not msg["requires_ack"]:
                raise BadRequest(
                    "this message asks for no acknowledgement", code="no_ack_requested"
                )
            row = await store.set_state(conn, person, message_id, _COLUMN[action])
            if row is None:  # a message that is not in this person's inbox
                raise NotFound("message not found")
            state = state_of(row)
            seq = 0
            if row["changed"]:
                # reading (on any device) stops the escalation; acknowledging also
                # the reminders — at once, in this transaction
                await jobs.cancel(
                    conn,
                    message_id=message_id,
                    person_id=person,
                    kinds=_CANCELS[action],
                )
                seq = await store.next_event(conn, who.tenant_id, person, message_id)
            sender = msg["sender_id"] if row["changed"] and action != "archive" else None
        if seq:
            await self.fanout.state(who.tenant_id, person, seq, message_id, state)
            if sender is not None:
                at = state.acked_at if action == "ack" else state.read_at
                assert at is not None
                event = "acked" if action == "ack" else "read"
                await self.fanout.reports(who.tenant_id, [(sender, message_id, person, event, at)])
        return state

    async def delivered(self, tenant_id: UUID, pairs: Sequence[tuple[UUID, UUID]]) -> None:
        """Record that live frames reached devices; tell the senders."""
        if not pairs:
            return
        async with self.db.tenant(tenant_id) as conn:
            rows = await store.mark_delivered(conn, pairs)
        await self.fanout.reports(
            tenant_id,
            [
                (sender, message, person, "delivered", at)
                for person, message, sender, at in rows
                if sender is not None
            ],
        )

    # ---- reads ---------------------------------------------------------------------------

    async def inbox(
        self, who: Principal, after: int, limit: int, archived: bool = False
    ) -> InboxPage:
        person = who.require_person()
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await store.inbox_rows(conn, person, after, limit, archived)
            head = await store.head(conn, person)
        return InboxPage(
            items=[
                InboxItem(
                    seq=r["seq"],
                    message=view_of(r),
                    state=state_of(r),
                    for_learners=list(r["for_learners"]),
                )
                for r in rows
            ],
            head=head,
        )

    async def thread(self, who: Principal, thread_id: UUID) -> Thread:
        """The messages of a thread I sent or received (404 if none)."""
        person = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await store.thread_for(conn, person, thread_id, MAX_THREAD + 1)
        if not rows:
            raise NotFound("thread not found")
        return Thread(
            thread_id=thread_id,
            truncated=len(rows) > MAX_THREAD,
            items=[
                ThreadItem(message=view_of(r), state=state_of(r) if r["seq"] is not None else None)
                for r in rows[:MAX_THREAD]
            ],
        )

    async def sent(self, who: Principal, before: datetime | None, limit: int) -> list[SentItem]:
        """What I sent, newest first."""
        person = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            rows = await store.sent_by(conn, person, before, max(1, min(limit, MAX_PAGE)))
        return [SentItem(message=view_of(r), recipients=r["recipient_count"]) for r in rows]

    async def counts(self, who: Principal) -> Counts:
        person = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            row = await store.counts(conn, person)
        return Counts(unread=row["unread"], awaiting_ack=row["awaiting_ack"])

    async def events_after(
        self, tenant_id: UUID, person_id: UUID, after: int, limit: int
    ) -> tuple[list[asyncpg.Record], int]:
        """A live session's replay: events after `after` and the current head."""
        async with self.db.tenant(tenant_id) as conn:
            rows = await store.events_after(conn, person_id, after, min(limit, MAX_PAGE))
            head = await store.head(conn, person_id)
        return rows, head

    async def report(self, who: Principal, message_id: UUID) -> Report:
        """Per recipient: delivered, read, acknowledged — for the sender and the
        principal or secretary of the sender's school; 404 for anyone else."""
        person = who.require_person()
        async with self.db.tenant(who.tenant_id) as conn:
            msg = await store.message(conn, message_id)
            if msg is None:
                raise NotFound("message not found")
            if msg["sender_id"] != person and not (
                msg["sender_id"] is not None
                and await store.is_authorised_staff_for(conn, person, msg["sender_id"])
            ):
                raise NotFound("message not found")
            rows = await store.report_rows(conn, message_id)
            channels = await store.channel_rows(conn, message_id)
            learners: list[LearnerAck] | None = None
            if msg["requires_ack"]:
                learner_ids = sorted({x for r in rows for x in r["for_learners"]})
                names = await store.names(conn, learner_ids)
                custodians = await store.custodial_guardians(conn, learner_ids)
                status = ack_status(
                    [AckRow(r["person_id"], r["for_learners"], r["acked_at"]) for r in rows],
                    msg["ack_quorum"],
                    custodians,
                )
                learners = [
                    LearnerAck(
                        learner_id=lid,
                        name=names.get(lid, ""),
                        acknowledged=status.learners[lid],
                        by=status.acked_by[lid],
                    )
                    for lid in learner_ids
                ]
        by_person: dict[UUID, list[ChannelReport]] = {}
        for c in channels:
            by_person.setdefault(c["person_id"], []).append(
                ChannelReport(
                    channel=c["channel"], purpose=c["purpose"], state=c["state"], at=c["at"]
                )
            )
        recipients = [
            RecipientReport(
                person_id=r["person_id"],
                name=r["name"],
                for_learners=list(r["for_learners"]),
                delivered_at=r["delivered_at"],
                read_at=r["read_at"],
                acked_at=r["acked_at"],
                channels=by_person.get(r["person_id"], []),
            )
            for r in rows
        ]
        states = [c["state"] for c in channels]
        return Report(
            message_id=message_id,
            recipients=recipients,
            total=len(rows),
            delivered=sum(1 for r in rows if r["delivered_at"]),
            read=sum(1 for r in rows if r["read_at"]),
            acked=sum(1 for r in rows if r["acked_at"]),
            pushed=states.count("pushed"),
            emailed=states.count("emailed"),
            not_reached=len(states) - states.count("pushed") - states.count("emailed"),
            learners=learners,
        )


async def _check_about(
    conn: Connection, about: Sequence[UUID], recipients: dict[UUID, Recipient], today: date
) -> None:
    """`about` names learners of this tenant; and a message about a learner of
    18 or over who has not allowed it does not go to that learner's guardians,
    however they were addressed (the 18-year line of hub/audience.py)."""
    rows = await conn.fetch(
        "SELECT p.id, p.birth_date, p.guardians_may_see FROM persons p WHERE p.id = ANY($1) "
        "AND EXISTS (SELECT 1 FROM person_roles r WHERE r.person_id = p.id "
        "AND r.role = 'learner')",
        list(about),
    )
    if len(rows) != len(set(about)):
        raise BadRequest("`about` must name learners", code="unknown_learner")
    private = [
        r["id"]
        for r in rows
        if not guardian_may_see(r["birth_date"], r["guardians_may_see"], today)
    ]
    if private:
        for g in await conn.fetch(
            "SELECT guardian_id FROM guardianships WHERE learner_id = ANY($1)", private
        ):
            recipients.pop(g["guardian_id"], None)
