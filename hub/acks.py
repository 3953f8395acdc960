"""Acknowledgement quorum, in one place: the delivery report, the reminders
and the deadline summary all ask the same two questions — which learners'
guardians have acknowledged, and whose acknowledgement is still wanted.

* quorum `any`: a learner is done when any recipient who got the message for
  that learner has acknowledged;
* quorum `all_custodial`: a learner is done when every custodial guardian who
  got it for that learner has acknowledged (information-right guardians do not
  count and are not reminded).

A recipient addressed directly (staff, a learner: no `for_learners`) is done
when they have acknowledged themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class AckRow:
    person_id: UUID
    for_learners: Sequence[UUID]
    acked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AckStatus:
    #: per learner: is the quorum met
    learners: dict[UUID, bool]
    #: per learner: who has acknowledged for them
    acked_by: dict[UUID, list[UUID]]
    #: recipients whose acknowledgement is still wanted (reminders go to them)
    pending: set[UUID]


def ack_status(
    rows: Sequence[AckRow], quorum: str | None, custodians: Mapping[UUID, set[UUID]]
) -> AckStatus:
    learner_ids = sorted({lid for r in rows for lid in r.for_learners}, key=str)
    learners: dict[UUID, bool] = {}
    acked_by: dict[UUID, list[UUID]] = {}
    for lid in learner_ids:
        for_them = [r for r in rows if lid in r.for_learners]
        acked = [r.person_id for r in for_them if r.acked_at is not None]
        acked_by[lid] = acked
        if quorum == "all_custodial":
            needed = {r.person_id for r in for_them} & custodians.get(lid, set())
            learners[lid] = bool(needed) and needed <= set(acked)
        else:
            learners[lid] = bool(acked)
    pending: set[UUID] = set()
    for r in rows:
        if r.acked_at is not None:
            continue
        if not r.for_learners:
            pending.add(r.person_id)
            continue
        for lid in r.for_learners:
            if learners[lid]:
                continue
            if quorum == "all_custodial" and r.person_id not in custodians.get(lid, set()):
                continue
            pending.add(r.person_id)
            break
    return AckStatus(learners=learners, acked_by=acked_by, pending=pending)
