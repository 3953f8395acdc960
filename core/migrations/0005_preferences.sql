-- Delivery preferences, Web Push subscriptions, e-mail bounces and the
-- tenant's privacy switches (docs/delivery.md).
--
-- Every row belongs to one person of one tenant; each person reads and
-- writes only their own (hub/prefs.py). Row-level security is forced as on
-- every tenant table, with the once-per-statement predicate of 0003.

-- A person's delivery preferences. No row: every column's default
-- (hub.policy.Preferences), so the table holds only people who changed one.
CREATE TABLE preferences (
    tenant_id       uuid NOT NULL,
    person_id       uuid NOT NULL,
    push            boolean NOT NULL DEFAULT true,
    email           boolean NOT NULL DEFAULT true,
    -- per message kind: 'instant', 'digest' or 'off'
    kinds           jsonb NOT NULL
                    DEFAULT '{"message": "instant", "announcement": "instant", "notification": "instant"}',
    -- NULL: the person's roster language (persons.language)
    language        text CHECK (language IN ('fi', 'sv', 'en')),
    -- wall-clock times in Europe/Helsinki; start = end: no quiet hours
    quiet_start     time NOT NULL DEFAULT '21:00',
    quiet_end       time NOT NULL DEFAULT '07:00',
    quiet_weekends  boolean NOT NULL DEFAULT false,
    digest_time     time NOT NULL DEFAULT '17:00',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, person_id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE,
    CHECK (jsonb_typeof(kinds) = 'object')
);

-- A browser's PushSubscription (RFC 8030): one row per endpoint. An endpoint
-- names one browser profile, so it belongs to one person at a time: whoever
-- registered it last (a shared device changes hands).
CREATE TABLE push_subscriptions (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    person_id   uuid NOT NULL,
    endpoint    text NOT NULL,
    -- the browser's P-256 public key (65-byte uncompressed point), base64url
    p256dh      text NOT NULL,
    -- the 16-byte authentication secret, base64url
    auth        text NOT NULL,
    user_agent  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, endpoint),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX push_subscriptions_person ON push_subscriptions (tenant_id, person_id, created_at);

-- The last address of a person that bounced (an SMTP 5xx to RCPT or DATA).
-- It blocks mail only while persons.email is still that address: a roster
-- update with a new address unblocks without anyone clearing this row.
CREATE TABLE email_status (
    tenant_id      uuid NOT NULL,
    person_id      uuid NOT NULL,
    address        text NOT NULL,
    bounced_at     timestamptz,
    bounce_reason  text,
    PRIMARY KEY (tenant_id, person_id),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);

-- Privacy-minimised by default: a push payload carries no message subject and
-- a notification mail no message text unless the tenant allows it.
ALTER TABLE tenants
    ADD COLUMN push_subjects boolean NOT NULL DEFAULT false,
    ADD COLUMN email_full_text boolean NOT NULL DEFAULT false;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['preferences', 'push_subscriptions', 'email_status'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;

-- Preferences and bounces are overwritten, never deleted by the application
-- (when a person is deleted, the foreign keys' cascade runs as the tables'
-- owner); subscriptions come and go.
GRANT SELECT, INSERT, UPDATE ON preferences, email_status TO %APP_ROLE%;
GRANT SELECT, INSERT, UPDATE, DELETE ON push_subscriptions TO %APP_ROLE%;
