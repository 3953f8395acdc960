-- Planning (planning/): events with registration and a waiting list, and
-- parent–teacher meeting slots (vanhempainvartti) with their bookings.
-- Instants are timestamptz; a day is reckoned in Europe/Helsinki.

-- An event of a school (parents' evening, excursion, club). Its audience is
-- the school's learners (audience_groups empty) or the learners of some of
-- its groups; `participants` says who takes a place: the learners themselves,
-- or their guardians (a parents' evening). `next_seq` numbers registrations
-- in the order they came, which is the waiting list's order; it is taken
-- under the row's lock (SELECT … FOR UPDATE), like every change to the
-- event's registrations, so two registrations never race for one place.
CREATE TABLE planning_events (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    school_id              uuid NOT NULL,
    title                  text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description            text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    location               text CHECK (length(location) BETWEEN 1 AND 200),
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL CHECK (ends_at > starts_at),
    capacity               int NOT NULL CHECK (capacity BETWEEN 1 AND 1000),
    max_waiting            int NOT NULL CHECK (max_waiting BETWEEN 0 AND 1000),
    participants           text NOT NULL CHECK (participants IN ('learners', 'guardians')),
    audience_groups        uuid[] NOT NULL DEFAULT '{}',
    registration_deadline  timestamptz CHECK (registration_deadline <= starts_at),
    next_seq               bigint NOT NULL DEFAULT 0,
    created_by             uuid NOT NULL,
    created_at             timestamptz NOT NULL,
    cancelled_at           timestamptz,
    cancelled_by           uuid,
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX planning_events_school ON planning_events (tenant_id, school_id, starts_at);

-- One participant's place (a learner, or a guardian for a guardians' event).
-- One row per (event, participant): registering again after a cancellation
-- reuses it with a new seq (the end of the queue).
CREATE TABLE planning_registrations (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    event_id       uuid NOT NULL REFERENCES planning_events (id) ON DELETE CASCADE,
    participant_id uuid NOT NULL,
    state          text NOT NULL CHECK (state IN ('registered', 'waiting', 'cancelled')),
    seq            bigint NOT NULL,
    registered_by  uuid NOT NULL,
    registered_at  timestamptz NOT NULL,
    promoted_at    timestamptz,
    cancelled_at   timestamptz,
    cancelled_by   uuid,
    PRIMARY KEY (tenant_id, event_id, participant_id)
);
CREATE INDEX planning_registrations_queue
    ON planning_registrations (tenant_id, event_id, state, seq);
CREATE INDEX planning_registrations_participant
    ON planning_registrations (tenant_id, participant_id);

-- A teacher's open meeting time. A teacher's slots never overlap (checked
-- under a per-teacher advisory lock when slots are opened).
CREATE TABLE meeting_slots (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    school_id     uuid NOT NULL,
    teacher_id    uuid NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL CHECK (ends_at > starts_at),
    location      text CHECK (length(location) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL,
    cancelled_at  timestamptz,
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX meeting_slots_teacher ON meeting_slots (tenant_id, teacher_id, starts_at);

-- A guardian's booking of a slot for one learner. At most one live booking
-- per slot (the index below backs the per-teacher lock).
CREATE TABLE meeting_bookings (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    slot_id       uuid NOT NULL REFERENCES meeting_slots (id) ON DELETE CASCADE,
    teacher_id    uuid NOT NULL,
    learner_id    uuid NOT NULL,
    booked_by     uuid NOT NULL,
    booked_at     timestamptz NOT NULL,
    cancelled_at  timestamptz,
    cancelled_by  uuid
);
CREATE UNIQUE INDEX meeting_bookings_slot ON meeting_bookings (tenant_id, slot_id)
    WHERE cancelled_at IS NULL;
CREATE INDEX meeting_bookings_learner ON meeting_bookings (tenant_id, learner_id, teacher_id)
    WHERE cancelled_at IS NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['planning_events', 'planning_registrations', 'meeting_slots',
                             'meeting_bookings'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON planning_events, planning_registrations, meeting_slots,
    meeting_bookings TO %APP_ROLE%;
