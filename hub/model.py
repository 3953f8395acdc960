"""The hub's types: audience selectors, publish requests, inbox views and the
live protocol's frames. Tagged msgspec Structs; new fields get defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from core.model import Language

Kind = Literal["message", "announcement", "notification"]
Urgency = Literal["normal", "high", "critical"]
ReplyPolicy = Literal["everyone", "sender", "nobody"]
Quorum = Literal["any", "all_custodial"]

#: Largest message body, in characters (plain text). Named bound: a longer
#: body is refused with 413 `body_too_large`.
MAX_BODY_CHARS = 20_000
MAX_SUBJECT_CHARS = 200
#: Most selectors in one audience expression (unions and exclusions count).
MAX_SELECTORS = 100
MAX_IDEMPOTENCY_KEY = 200

Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SUBJECT_CHARS)]
Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY_CHARS)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_IDEMPOTENCY_KEY)]


# ---- audience selectors ------------------------------------------------------------------


class Base(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    pass


class PersonSel(Base, tag="person", frozen=True):
    id: UUID


#: Most persons one `Persons` selector names.
MAX_PERSONS = 10_000


class Persons(Base, tag="persons", frozen=True):
    """Persons by id: for a module that has worked out, with `Hub.recipients`,
    who gets which version of a notice."""

    ids: Annotated[list[UUID], msgspec.Meta(max_length=MAX_PERSONS)]


class GroupLearners(Base, tag="group_learners", frozen=True):
    group: UUID


class GroupGuardians(Base, tag="group_guardians", frozen=True):
    group: UUID


class LearnerGuardians(Base, tag="learner_guardians", frozen=True):
    learner: UUID


class GroupTeachers(Base, tag="group_teachers", frozen=True):
    group: UUID


class SchoolStaff(Base, tag="school_staff", frozen=True):
    school: UUID


class WholeSchool(Base, tag="school", frozen=True):
    """Learners, their guardians and the staff of a school."""

    school: UUID


class Union(Base, tag="union", frozen=True):
    of: list[Selector]


class Exclude(Base, tag="exclude", frozen=True):
    """Everyone in `base` who is not in `minus`."""

    base: Selector
    minus: Selector


Selector = (
    PersonSel
    | Persons
    | GroupLearners
    | GroupGuardians
    | LearnerGuardians
    | GroupTeachers
    | SchoolStaff
    | WholeSchool
    | Union
    | Exclude
)


# ---- publishing --------------------------------------------------------------------------


class Ack(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    deadline: datetime | None = None
    #: for a learner's guardians: one of them suffices, or every custodial one
    quorum: Quorum = "any"


class NewMessage(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """`POST /v1/messages`, and what `hub.publish` takes."""

    idempotency_key: IdempotencyKey
    audience: Selector
    subject: Subject
    body: Body
    kind: Literal["message", "announcement"] = "message"
    language: Language = "fi"
    urgency: Urgency = "normal"
    reply_policy: ReplyPolicy = "everyone"
    ack: Ack | None = None
    #: a request that needs custody (a consent, a decision's acknowledgement):
    #: guardians with information right only do not receive it
    needs_custody: bool = False
    #: the learners the message is about
    about: list[UUID] = []


class NewReply(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    idempotency_key: IdempotencyKey
    body: Body


class ModuleEvent(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """`POST /v1/events`: a platform module's notification."""

    idempotency_key: IdempotencyKey
    source: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{1,40}$")]
    audience: Selector
    subject: Subject
    body: Body = ""
    language: Language = "fi"
    urgency: Urgency = "normal"
    about: list[UUID] = []
    needs_custody: bool = False
    ack: Ack | None = None


# ---- views -------------------------------------------------------------------------------


class MessageView(msgspec.Struct, kw_only=True):
    """A message as its recipient sees it: never the other recipients."""

    id: UUID
    thread_id: UUID
    reply_to: UUID | None
    kind: Kind
    sender_id: UUID | None
    sender_name: str
    subject: str
    body: str
    language: str
    urgency: Urgency
    reply_policy: ReplyPolicy
    requires_ack: bool
    ack_deadline: datetime | None
    about: list[UUID]
    created_at: datetime


class InboxState(msgspec.Struct, kw_only=True):
    read_at: datetime | None
    acked_at: datetime | None
    archived_at: datetime | None
    #: the sending module took it back before it was read (`Hub.withdraw`): the
    #: client drops it from the inbox; it is archived at the same instant
    withdrawn_at: datetime | None = None


class InboxItem(msgspec.Struct, kw_only=True):
    seq: int
    message: MessageView
    state: InboxState
    for_learners: list[UUID]


class InboxPage(msgspec.Struct, kw_only=True):
    items: list[InboxItem]
    head: int


class ThreadItem(msgspec.Struct, kw_only=True):
    message: MessageView
    #: my state of it; None for a message I sent
    state: InboxState | None


class Thread(msgspec.Struct, kw_only=True):
    thread_id: UUID
    items: list[ThreadItem]
    #: more messages than the hub returns at once (hub.actions.MAX_THREAD)
    truncated: bool = False


class SentItem(msgspec.Struct, kw_only=True):
    message: MessageView
    recipients: int


class Counts(msgspec.Struct, kw_only=True):
    unread: int
    awaiting_ack: int


class Published(msgspec.Struct, kw_only=True):
    id: UUID
    thread_id: UUID
    recipients: int
    created: bool


class ChannelReport(msgspec.Struct, kw_only=True):
    """What a channel did for one recipient (hub.delivery): `purpose` new (the
    escalation of an unread message) or reminder; `state` pushed, emailed,
    bounced, subscription_gone or undelivered (after MAX_SEND_ATTEMPTS)."""

    channel: str
    purpose: str
    state: str
    at: datetime


class RecipientReport(msgspec.Struct, kw_only=True):
    person_id: UUID
    name: str
    for_learners: list[UUID]
    delivered_at: datetime | None
    read_at: datetime | None
    acked_at: datetime | None
    channels: list[ChannelReport] = []


class LearnerAck(msgspec.Struct, kw_only=True):
    learner_id: UUID
    name: str
    acknowledged: bool
    by: list[UUID]


class Report(msgspec.Struct, kw_only=True):
    message_id: UUID
    recipients: list[RecipientReport]
    total: int
    delivered: int
    read: int
    acked: int
    #: channel sends recorded: pushed, emailed, and the rest (bounced,
    #: subscription gone, undelivered)
    pushed: int = 0
    emailed: int = 0
    not_reached: int = 0
    learners: list[LearnerAck] | None = None
