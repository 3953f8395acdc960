-- Reppu core schema: tenants, schools, people, roles, groups, guardianships,
-- logins and the audit log.
--
-- Tenant isolation (ARCHITECTURE.md, invariant 6): every table below has row
-- level security enabled AND forced, with a policy that compares tenant_id
-- with reppu_tenant(), the tenant set for the current transaction by
-- core.db (set_config('reppu.tenant', ..., true)). With no tenant set,
-- reppu_tenant() is NULL and no row matches: a query that forgot the tenant
-- sees nothing. `%APP_ROLE%` is replaced by the configured application role,
-- which logs in separately and is neither owner, superuser nor BYPASSRLS.

CREATE FUNCTION reppu_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('reppu.tenant', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,39}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('municipality', 'private')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('comprehensive', 'primary', 'lower_secondary',
                                              'upper_secondary', 'vocational', 'other')),
    language    text NOT NULL CHECK (language IN ('fi', 'sv', 'en')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE persons (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id       text NOT NULL,
    given_name        text NOT NULL,
    family_name       text NOT NULL,
    language          text NOT NULL DEFAULT 'fi' CHECK (language IN ('fi', 'sv', 'en')),
    email             text,
    phone             text,
    street_address    text,
    postal_code       text,
    municipality      text,
    -- turvakielto: address and municipality never leave authorised staff views
    protection_order  boolean NOT NULL DEFAULT false,
    birth_date        date,
    -- an adult learner's (18+) consent for guardians to see their matters
    guardians_may_see boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE person_roles (
    tenant_id  uuid NOT NULL,
    person_id  uuid NOT NULL,
    school_id  uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('learner', 'guardian', 'teacher', 'principal',
                                             'secretary', 'staff')),
    PRIMARY KEY (tenant_id, person_id, school_id, role),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX person_roles_school ON person_roles (tenant_id, school_id, role);

CREATE TABLE groups (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id text NOT NULL,
    school_id   uuid NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('class', 'teaching_group')),
    grade       smallint CHECK (grade BETWEEN 0 AND 13),
    subject     text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX groups_school ON groups (tenant_id, school_id);

CREATE TABLE group_learners (
    tenant_id  uuid NOT NULL,
    group_id   uuid NOT NULL,
    learner_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, group_id, learner_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, learner_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_learners_learner ON group_learners (tenant_id, learner_id);

CREATE TABLE group_teachers (
    tenant_id  uuid NOT NULL,
    group_id   uuid NOT NULL,
    teacher_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, group_id, teacher_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, teacher_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_teachers_teacher ON group_teachers (tenant_id, teacher_id);

CREATE TABLE guardianships (
    tenant_id   uuid NOT NULL,
    guardian_id uuid NOT NULL,
    learner_id  uuid NOT NULL,
    -- custodial: huoltaja; information_right: a parent without custody whose
    -- right to information has been confirmed (tiedonsaantioikeus)
    kind        text NOT NULL CHECK (kind IN ('custodial', 'information_right')),
    PRIMARY KEY (tenant_id, guardian_id, learner_id),
    CHECK (guardian_id <> learner_id),
    FOREIGN KEY (tenant_id, guardian_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, learner_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX guardianships_learner ON guardianships (tenant_id, learner_id);

-- How a person logs in: (provider, subject) is globally unique, so that a
-- login can be resolved before the tenant is known (reppu_find_login below).
CREATE TABLE logins (
    tenant_id  uuid NOT NULL,
    provider   text NOT NULL CHECK (provider IN ('reppu', 'mpassid', 'suomifi')),
    subject    text NOT NULL,
    person_id  uuid NOT NULL,
    PRIMARY KEY (provider, subject),
    FOREIGN KEY (tenant_id, person_id) REFERENCES persons (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX logins_person ON logins (tenant_id, person_id);

-- Append-only: the application role may INSERT and SELECT, never UPDATE or
-- DELETE (grants below). Never holds a message body.
CREATE TABLE audit_log (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     uuid,
    actor_kind   text NOT NULL CHECK (actor_kind IN ('person', 'service', 'system')),
    actor_roles  text[] NOT NULL,
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    uuid NOT NULL,
    purpose      text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_object ON audit_log (tenant_id, object_id, at);

-- Row-level security, enabled and forced everywhere.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['schools', 'persons', 'person_roles', 'groups', 'group_learners',
                             'group_teachers', 'guardianships', 'logins', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = reppu_tenant()) '
                       'WITH CHECK (tenant_id = reppu_tenant())', t);
    END LOOP;
END $$;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = reppu_tenant()) WITH CHECK (id = reppu_tenant());

-- The one cross-tenant read: resolving a login to its tenant and person. It
-- runs as the owner (SECURITY DEFINER), which only this policy lets read
-- logins without a tenant; it returns nothing else.
CREATE POLICY owner_login_lookup ON logins FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_tenant_lookup ON tenants FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION reppu_find_login(p_provider text, p_subject text)
    RETURNS TABLE (tenant_id uuid, person_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT l.tenant_id, l.person_id FROM logins l
          WHERE l.provider = p_provider AND l.subject = p_subject $$;

CREATE FUNCTION reppu_find_tenant(p_slug text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT t.id FROM tenants t WHERE t.slug = p_slug $$;

REVOKE ALL ON FUNCTION reppu_find_login(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION reppu_find_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reppu_find_login(text, text) TO %APP_ROLE%;
GRANT EXECUTE ON FUNCTION reppu_find_tenant(text) TO %APP_ROLE%;

GRANT SELECT, INSERT, UPDATE ON tenants TO %APP_ROLE%;
GRANT SELECT, INSERT, UPDATE, DELETE ON schools, persons, person_roles, groups, group_learners,
    group_teachers, guardianships, logins TO %APP_ROLE%;
GRANT SELECT, INSERT ON audit_log TO %APP_ROLE%;
