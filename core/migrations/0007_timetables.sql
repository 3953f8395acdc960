-- Timetables (scheduling/): drafts to solve and the solves that run on them.

-- Workers claim only the kinds they have handlers for: the hub's delivery
-- worker and the scheduling module's solver worker share the jobs table, and
-- neither may claim (and fail) the other's jobs. This replaces
-- reppu_claim_jobs (0004): the same claim, with a kind filter.
CREATE FUNCTION reppu_claim_jobs_of(p_kinds text[], p_limit int, p_now timestamptz,
                                    p_lease_s int)
    RETURNS TABLE (id bigint, tenant_id uuid, kind text, payload jsonb, message_id uuid,
                   person_id uuid, due_at timestamptz, attempts int)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        UPDATE jobs j
        SET state = 'running',
            locked_until = p_now + make_interval(secs => p_lease_s),
            attempts = j.attempts + 1
        WHERE j.id = ANY (ARRAY(
            SELECT c.id FROM jobs c
            WHERE c.state IN ('pending', 'running') AND c.due_at <= p_now
              AND (c.state = 'pending' OR c.locked_until < p_now)
              AND c.kind = ANY (p_kinds)
            ORDER BY c.due_at
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED))
        RETURNING j.id, j.tenant_id, j.kind, j.payload, j.message_id, j.person_id, j.due_at,
                  j.attempts
    $$;
REVOKE ALL ON FUNCTION reppu_claim_jobs_of(text[], int, timestamptz, int) FROM PUBLIC;
DROP FUNCTION reppu_claim_jobs(int, timestamptz, int);
GRANT EXECUTE ON FUNCTION reppu_claim_jobs_of(text[], int, timestamptz, int) TO %APP_ROLE%;

-- A school's timetabling problem for one period (scheduling.model.Instance as
-- JSON): imported from a FET file or built from the roster. Staff data only.
CREATE TABLE timetable_drafts (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    school_id   uuid NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    instance    jsonb NOT NULL,
    created_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX timetable_drafts_school ON timetable_drafts (tenant_id, school_id, created_at);

-- One run of the solver on a draft. The durable job 'timetable.solve' runs it
-- (at least once: a re-run after a lost node starts from `best`). `best` is the
-- best timetable so far (scheduling.model.Timetable as JSON), saved as the
-- solver improves it, so a stop or a lost node keeps it.
CREATE TABLE timetable_solves (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    draft_id         uuid NOT NULL REFERENCES timetable_drafts (id) ON DELETE CASCADE,
    requested_by     uuid NOT NULL,
    state            text NOT NULL
                     CHECK (state IN ('queued', 'running', 'solved', 'incomplete',
                                      'stopped', 'failed')),
    seed             int NOT NULL,
    workers          int NOT NULL,
    time_limit_s     int NOT NULL,
    stop_requested   boolean NOT NULL DEFAULT false,
    progress         jsonb,
    best             jsonb,
    hard             int,
    soft             double precision,
    error            text,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX timetable_solves_draft ON timetable_solves (tenant_id, draft_id, created_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['timetable_drafts', 'timetable_solves'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON timetable_drafts, timetable_solves TO %APP_ROLE%;
