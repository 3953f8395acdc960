-- Delivery beyond the live socket (docs/delivery.md): what each channel did
-- for each recipient of each message, and who is in a web client right now.

-- One row per (message, recipient, channel, purpose, step): the delivery
-- report's per-channel state. purpose: 'new' (the escalation of an unread
-- message) or 'reminder' (an acknowledgement reminder, step = its seconds
-- before the deadline). A send job records its outcome
-- here before it finishes, and a re-run of the same job (at-least-once) that
-- finds a final state does nothing: that makes the effect idempotent.
CREATE TABLE channel_deliveries (
    tenant_id   uuid NOT NULL,
    message_id  uuid NOT NULL,
    person_id   uuid NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('push', 'email')),
    purpose     text NOT NULL CHECK (purpose IN ('new', 'reminder')),
    -- which reminder (seconds before the deadline); 0 for 'new'
    step        int NOT NULL DEFAULT 0,
    state       text NOT NULL CHECK (state IN ('pushed', 'emailed', 'bounced',
                                               'subscription_gone', 'undelivered')),
    at          timestamptz NOT NULL,
    detail      text,
    PRIMARY KEY (tenant_id, message_id, person_id, channel, purpose, step)
);

-- Live sessions' persons, refreshed by each node every PRESENCE_INTERVAL_S:
-- a person seen within ACTIVE_WINDOW is "active in a web client" and gets no
-- Web Push for what the client shows anyway.
CREATE TABLE presence (
    tenant_id  uuid NOT NULL,
    person_id  uuid NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, person_id)
) WITH (fillfactor = 50);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['channel_deliveries', 'presence'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON channel_deliveries, presence TO %APP_ROLE%;
