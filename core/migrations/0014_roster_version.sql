-- Each tenant's roster version: raised once by every transaction that
-- changes what an audience of that tenant resolves to (who has which role
-- where, who is in which group, who is whose guardian and how, a learner's
-- birth date or consent, a person added or removed). hub.audience keeps
-- resolved audiences per version, so a publish reads this one row instead
-- of re-resolving a school's thousands of recipients when nothing changed.
--
-- The version is raised at COMMIT (deferred constraint triggers, row level:
-- each row names its tenant), so that:
--  * a reader that sees the new version also sees the change (same commit);
--  * the row is locked only from a writer's commit to its end, never while
--    the writer still waits for other locks (no other constraint here is
--    deferred): two roster transactions cannot deadlock on it, whatever
--    else they touch;
--  * a transaction of many roster rows raises it once (a local setting
--    remembers the tenant it raised).
-- The trigger runs as the writer: the app role, under the row-level
-- security of every tenant table, raises only its own tenant's version.
CREATE TABLE roster_versions (
    tenant_id  uuid PRIMARY KEY,
    version    bigint NOT NULL
);
ALTER TABLE roster_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE roster_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON roster_versions
    USING (tenant_id = reppu_tenant()) WITH CHECK (tenant_id = reppu_tenant());

CREATE FUNCTION reppu_roster_changed() RETURNS trigger
    LANGUAGE plpgsql SET search_path = public, pg_temp
    AS $$
DECLARE
    t uuid;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        -- TRUNCATE (never the app's: it has no TRUNCATE right): every tenant.
        -- A superuser's works; under forced row-level security an owner that
        -- is not one is refused here (a loud error, never a stale cache).
        INSERT INTO roster_versions (tenant_id, version) SELECT id, 1 FROM tenants
        ON CONFLICT (tenant_id) DO UPDATE SET version = roster_versions.version + 1;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        t := OLD.tenant_id;
    ELSE
        t := NEW.tenant_id;
    END IF;
    IF coalesce(current_setting('reppu.roster_changed', true), '') <> t::text THEN
        INSERT INTO roster_versions (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = roster_versions.version + 1;
        PERFORM set_config('reppu.roster_changed', t::text, true);
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['person_roles', 'group_learners', 'group_teachers',
                             'guardianships'] LOOP
        EXECUTE format('CREATE CONSTRAINT TRIGGER roster_changed AFTER INSERT OR UPDATE OR DELETE '
                       'ON %I DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
                       'EXECUTE FUNCTION reppu_roster_changed()', t);
        EXECUTE format('CREATE TRIGGER roster_truncated AFTER TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION reppu_roster_changed()', t);
    END LOOP;
END $$;
-- persons: only what resolution reads (a changed e-mail address is not a
-- roster change)
CREATE CONSTRAINT TRIGGER roster_changed
    AFTER INSERT OR DELETE OR UPDATE OF id, tenant_id, birth_date, guardians_may_see ON persons
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reppu_roster_changed();
CREATE TRIGGER roster_truncated AFTER TRUNCATE ON persons
    FOR EACH STATEMENT EXECUTE FUNCTION reppu_roster_changed();

GRANT SELECT, INSERT, UPDATE ON roster_versions TO %APP_ROLE%;
