-- Durable jobs: escalations, reminders, digests and channel sends
-- (core/jobs.py queues, cancels, claims and finishes them).
--
-- Delivery is at least once: a job is claimed with a lease (locked_until);
-- a worker that dies holding it leaves it 'running' until the lease expires,
-- when any worker claims it again. Handlers are therefore idempotent.
--
-- Times that decide anything (due_at, locked_until, finished_at of a worker's
-- finish) come from the caller's injected clock (p_now), never from the
-- database's now(), so tests move a FixedClock instead of waiting.

CREATE TABLE jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    kind          text NOT NULL,
    -- Idempotency key: the same (tenant, kind, key) is queued once, ever
    -- (also after it is done). NULL: no dedupe (NULLs are distinct).
    key           text,
    payload       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    -- The domain columns a job is cancelled by (core.jobs.cancel).
    message_id    uuid,
    person_id     uuid,
    due_at        timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'cancelled', 'failed')),
    -- Claims so far, the current one included; also the lease's fencing token
    -- (reppu_finish_jobs below).
    attempts      int NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    UNIQUE (tenant_id, kind, key)
);
-- Claiming: the live jobs in due order. A running job's due_at is never later
-- than the instant it was claimed (a claim needs due_at <= p_now, and only a
-- retry, which makes it pending again, moves due_at), hence never later than
-- its locked_until: "due_at <= p_now" bounds both halves of the claim and the
-- scan is one index range.
CREATE INDEX jobs_due ON jobs (due_at) WHERE state IN ('pending', 'running');
-- Cancelling by message (and person): only live jobs are indexed.
CREATE INDEX jobs_message ON jobs (tenant_id, message_id, person_id)
    WHERE state IN ('pending', 'running');

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (tenant_id = (SELECT reppu_tenant())) WITH CHECK (tenant_id = (SELECT reppu_tenant()));
-- Claiming crosses tenants: the functions below run as the owner, which
-- this policy (like owner_login_lookup in 0001) lets see every tenant's jobs.
-- The application role reaches other tenants' jobs only through them, and
-- they return nothing but the claimed jobs.
CREATE POLICY owner_worker ON jobs TO CURRENT_USER USING (true) WITH CHECK (true);

-- Claim up to p_limit due jobs: pending ones whose time has come, and running
-- ones whose lease expired (their worker died: run again, at least once).
-- SKIP LOCKED: concurrent claimers each take different rows without waiting;
-- a row that another claimer has just updated and committed is re-checked
-- against the WHERE clause by FOR UPDATE, so no job is claimed twice.
CREATE FUNCTION reppu_claim_jobs(p_limit int, p_now timestamptz, p_lease_s int)
    RETURNS TABLE (id bigint, tenant_id uuid, kind text, payload jsonb, message_id uuid,
                   person_id uuid, due_at timestamptz, attempts int)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        UPDATE jobs j
        SET state = 'running',
            locked_until = p_now + make_interval(secs => p_lease_s),
            attempts = j.attempts + 1
        -- An array of ids, not a join with a CTE: the planner cannot tell how
        -- few rows the CTE holds and hashed the whole table (every done job
        -- too: 8 ms at 20,000 rows); this is p_limit primary-key lookups.
        WHERE j.id = ANY (ARRAY(
            SELECT c.id FROM jobs c
            WHERE c.state IN ('pending', 'running') AND c.due_at <= p_now
              AND (c.state = 'pending' OR c.locked_until < p_now)
            ORDER BY c.due_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
        RETURNING j.id, j.tenant_id, j.kind, j.payload, j.message_id, j.person_id, j.due_at,
                  j.attempts
    $$;

-- Record what became of a claimed job, in one statement for many jobs.
-- p_states[i]: 'done', 'failed', 'cancelled'; 'retry' (pending again at
-- p_due_ats[i], p_errors[i] kept); 'release' (pending again, due unchanged, the
-- claim not counted: a worker hands back jobs it did not get to run).
--
-- Fencing: a row changes only while it is still 'running' under the same
-- claim (p_attempts[i] = attempts). A worker whose lease expired mid-job may
-- finish late; by then another worker may have claimed the job again
-- (attempts moved on) and its outcome is the one that counts — the late
-- finish must not turn that claim's 'running' into 'pending' (a third run) or
-- 'done' (while it still runs). A job cancelled meanwhile is no longer
-- 'running', so a late 'retry' cannot revive it. If the lease expired but
-- nobody claimed it again, the late finish still applies: the job ran.
-- Returns the ids that were updated.
CREATE FUNCTION reppu_finish_jobs(p_ids bigint[], p_attempts int[], p_states text[],
                                  p_due_ats timestamptz[], p_errors text[], p_now timestamptz)
    RETURNS SETOF bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM unnest(p_states) s
                   WHERE s IS NULL OR s NOT IN ('done', 'failed', 'cancelled', 'retry', 'release')) THEN
            RAISE EXCEPTION 'reppu_finish_jobs: unknown state in %', p_states
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN QUERY
        UPDATE jobs j
        SET state = CASE WHEN f.st IN ('retry', 'release') THEN 'pending' ELSE f.st END,
            due_at = CASE WHEN f.st = 'retry' THEN f.due ELSE j.due_at END,
            attempts = CASE WHEN f.st = 'release' THEN j.attempts - 1 ELSE j.attempts END,
            last_error = coalesce(f.err, j.last_error),
            locked_until = NULL,
            finished_at = CASE WHEN f.st IN ('retry', 'release') THEN NULL ELSE p_now END
        FROM unnest(p_ids, p_attempts, p_states, p_due_ats, p_errors) AS f(id, att, st, due, err)
        WHERE j.id = f.id AND j.state = 'running' AND j.attempts = f.att
        RETURNING j.id;
    END
    $$;

-- One job at a time, as the issue names it; the worker uses the batch form.
CREATE FUNCTION reppu_finish_job(p_id bigint, p_attempts int, p_state text, p_due_at timestamptz,
                                 p_error text, p_now timestamptz)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE n int;
    BEGIN
        SELECT count(*) INTO n FROM reppu_finish_jobs(ARRAY[p_id], ARRAY[p_attempts],
                                                      ARRAY[p_state], ARRAY[p_due_at],
                                                      ARRAY[p_error], p_now);
        RETURN n > 0;
    END
    $$;

REVOKE ALL ON FUNCTION reppu_claim_jobs(int, timestamptz, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION reppu_finish_jobs(bigint[], int[], text[], timestamptz[], text[],
                                         timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION reppu_finish_job(bigint, int, text, timestamptz, text, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reppu_claim_jobs(int, timestamptz, int) TO %APP_ROLE%;
GRANT EXECUTE ON FUNCTION reppu_finish_jobs(bigint[], int[], text[], timestamptz[], text[],
                                            timestamptz) TO %APP_ROLE%;
GRANT EXECUTE ON FUNCTION reppu_finish_job(bigint, int, text, timestamptz, text, timestamptz)
    TO %APP_ROLE%;

GRANT SELECT, INSERT, UPDATE ON jobs TO %APP_ROLE%;
