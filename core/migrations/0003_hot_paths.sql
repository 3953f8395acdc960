-- Row-level security, evaluated once per statement instead of once per row.
--
-- The policies of 0001/0002 compare each row's tenant_id with reppu_tenant(),
-- an inlined SQL function: wherever the comparison is a filter rather than an
-- index condition (a sequential scan, a hash join's input, an UPDATE ... FROM),
-- PostgreSQL evaluated current_setting() and the text-to-uuid cast for every
-- row. Measured on the city seed: resolving the guardians of one school's
-- learners scanned 46,000 guardianships in 50 ms, of which ~44 ms was that
-- per-row filter. As a scalar subquery, (SELECT reppu_tenant()) becomes an
-- InitPlan: computed once, then a plain parameter, still usable as an index
-- condition. Same predicate, same isolation; the RLS tests cover it.
DO $$
DECLARE p record;
DECLARE col text;
BEGIN
    FOR p IN SELECT tablename FROM pg_policies
             WHERE schemaname = 'public' AND policyname = 'tenant_isolation' LOOP
        col := CASE WHEN p.tablename = 'tenants' THEN 'id' ELSE 'tenant_id' END;
        EXECUTE format('DROP POLICY tenant_isolation ON %I', p.tablename);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%I = (SELECT reppu_tenant())) '
                       'WITH CHECK (%I = (SELECT reppu_tenant()))', p.tablename, col, col);
    END LOOP;
END $$;

-- The inbox: one index fewer on the table every publish writes a row per
-- recipient into. The primary key leads with the message, so it serves both
-- "this message's recipients" (the report, delivered-at marks) and "this
-- person's row of this message" (read, acknowledge); inbox_message was the
-- first half of it.
ALTER TABLE inbox DROP CONSTRAINT inbox_pkey;
ALTER TABLE inbox ADD PRIMARY KEY (tenant_id, message_id, person_id);
DROP INDEX inbox_message;
-- Room on each page for the row's later versions (delivered, read,
-- acknowledged, archived: none of them indexed), so that those updates are
-- HOT: a new version on the same page and no new index entries.
ALTER TABLE inbox SET (fillfactor = 70);
-- Every publish bumps each recipient's head: the same, for a small table.
ALTER TABLE inbox_heads SET (fillfactor = 50);
