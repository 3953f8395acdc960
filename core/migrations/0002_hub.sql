-- The hub: messages, their recipients' inboxes, per-recipient event
-- sequences, live tickets.
--
-- Invariant 2 (ARCHITECTURE.md): every recipient has a gap-free sequence of
-- events in commit order. inbox_heads holds each person's last seq; a
-- publish or a state change bumps it with INSERT .. ON CONFLICT DO UPDATE,
-- which holds the head's row lock until commit, so two transactions that
-- touch the same person are serialised and their seqs follow commit order.

CREATE TABLE messages (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('message', 'announcement', 'notification')),
    thread_id        uuid NOT NULL,
    reply_to         uuid,
    sender_id        uuid,
    sender_name      text NOT NULL,
    source           text,
    school_id        uuid,
    subject          text NOT NULL,
    body             text NOT NULL,
    language         text NOT NULL CHECK (language IN ('fi', 'sv', 'en')),
    urgency          text NOT NULL CHECK (urgency IN ('normal', 'high', 'critical')),
    reply_policy     text NOT NULL CHECK (reply_policy IN ('everyone', 'sender', 'nobody')),
    requires_ack     boolean NOT NULL DEFAULT false,
    ack_deadline     timestamptz,
    ack_quorum       text CHECK (ack_quorum IN ('any', 'all_custodial')),
    needs_custody    boolean NOT NULL DEFAULT false,
    about            uuid[] NOT NULL DEFAULT '{}',
    audience         jsonb NOT NULL,
    idempotency_key  text NOT NULL,
    content_hash     bytea NOT NULL,
    recipient_count  int NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, sender_id) REFERENCES persons (tenant_id, id)
);
CREATE INDEX messages_thread ON messages (tenant_id, thread_id, created_at);
CREATE INDEX messages_sender ON messages (tenant_id, sender_id, created_at);

-- One row per (message, recipient): the recipient's inbox and the state the
-- delivery report shows. for_learners: the learners on whose behalf a
-- guardian receives it (quorum of acknowledgements is per learner).
CREATE TABLE inbox (
    tenant_id     uuid NOT NULL,
    person_id     uuid NOT NULL,
    message_id    uuid NOT NULL,
    seq           bigint NOT NULL,
    for_learners  uuid[] NOT NULL DEFAULT '{}',
    custodial     boolean,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    read_at       timestamptz,
    acked_at      timestamptz,
    archived_at   timestamptz,
    PRIMARY KEY (tenant_id, person_id, message_id),
    UNIQUE (tenant_id, person_id, seq)
    -- No foreign keys, on purpose: this is the table every publish writes one
    -- row per recipient into, and the two per-row RI checks made that insert
    -- 2.4x slower (71 ms vs 30 ms for 5,400 rows, measured). Its only writer,
    -- hub.store.deliver, inserts the message and resolves the persons in the
    -- same transaction; row-level security keeps every row in its tenant.
);
CREATE INDEX inbox_message ON inbox (tenant_id, message_id);

CREATE TABLE inbox_heads (
    tenant_id  uuid NOT NULL,
    person_id  uuid NOT NULL,
    last_seq   bigint NOT NULL,
    PRIMARY KEY (tenant_id, person_id)
);

-- A person's sequence is shared by two tables: an inbox row takes the next
-- seq when a message arrives, an inbox_events row when a message is read,
-- acknowledged or archived (on any device). Every seq from 1 to
-- inbox_heads.last_seq is in exactly one of them; live clients resume from
-- their union. (Arrivals are not written twice: they are most of the rows.)
CREATE TABLE inbox_events (
    tenant_id   uuid NOT NULL,
    person_id   uuid NOT NULL,
    seq         bigint NOT NULL,
    message_id  uuid NOT NULL,
    type        text NOT NULL CHECK (type IN ('state')),
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, person_id, seq)
);

-- Single use of live tickets: a ticket's nonce may be claimed once.
CREATE TABLE live_ticket_uses (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    nonce       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, nonce)
);
-- every claim deletes its tenant's expired uses: an index, not a scan
CREATE INDEX live_ticket_uses_expiry ON live_ticket_uses (tenant_id, expires_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['messages', 'inbox', 'inbox_heads', 'inbox_events',
                             'live_ticket_uses'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = reppu_tenant()) '
                       'WITH CHECK (tenant_id = reppu_tenant())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT ON messages TO %APP_ROLE%;
GRANT SELECT, INSERT, UPDATE ON inbox, inbox_heads TO %APP_ROLE%;
GRANT SELECT, INSERT ON inbox_events TO %APP_ROLE%;
GRANT SELECT, INSERT, DELETE ON live_ticket_uses TO %APP_ROLE%;
