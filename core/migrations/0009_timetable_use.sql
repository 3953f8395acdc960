-- Timetables in daily use (scheduling/): published timetables and their
-- weekly lessons, changes on a date, the notices they caused, teachers'
-- absences, personal calendar feeds, room reservations and comments on a
-- draft. Times of day are Europe/Helsinki wall-clock times, dates local.

-- A school's valid timetable for a date range (a period, jakso). Publishing a
-- new one supersedes any published timetable of the school whose range
-- overlaps it.
CREATE TABLE timetables (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    school_id      uuid NOT NULL,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts         date NOT NULL,
    ends           date NOT NULL CHECK (ends >= starts),
    solve_id       uuid,
    published_by   uuid,
    published_at   timestamptz NOT NULL,
    superseded_at  timestamptz,
    FOREIGN KEY (tenant_id, school_id) REFERENCES schools (tenant_id, id)
);
CREATE INDEX timetables_school ON timetables (tenant_id, school_id, starts);

-- One weekly lesson of a published timetable: weekday 1 (Monday) … 7.
-- group_id: the teaching group (or the subgroup it was split into);
-- teacher_ids: persons. activity_id: the model's activity it came from.
CREATE TABLE timetable_lessons (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    timetable_id  uuid NOT NULL REFERENCES timetables (id) ON DELETE CASCADE,
    weekday       smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts        time NOT NULL,
    ends          time NOT NULL CHECK (ends > starts),
    subject       text NOT NULL,
    group_id      uuid,
    teacher_ids   uuid[] NOT NULL DEFAULT '{}',
    room          text,
    activity_id   int
);
CREATE INDEX timetable_lessons_day ON timetable_lessons (tenant_id, timetable_id, weekday);
CREATE INDEX timetable_lessons_group ON timetable_lessons (tenant_id, group_id);
CREATE INDEX timetable_lessons_teachers ON timetable_lessons USING gin (teacher_ids);

-- A teacher's absence (poissaolo) over a date range; substitutions follow.
CREATE TABLE teacher_absences (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    school_id     uuid NOT NULL,
    teacher_id    uuid NOT NULL,
    starts        date NOT NULL,
    ends          date NOT NULL CHECK (ends >= starts),
    note          text,
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    cancelled_at  timestamptz
);
CREATE INDEX teacher_absences_teacher ON teacher_absences (tenant_id, teacher_id, starts);

-- A change to the timetable on one date. For a lesson (lesson_id set) the
-- effective change of (lesson, date) is its latest row that is not undone:
-- a later change to the same lesson supersedes the earlier one, and undoing
-- the latest brings back the one before. kind:
--   cancel      the lesson does not take place
--   move        new time (starts/ends) and/or room
--   substitute  substitute_id teaches instead of the lesson's teachers
--               (may also carry a new room)
--   extra       an extra lesson (no lesson_id): subject, group, teachers, time, room
--   programme   a day with a different programme (no lesson_id): title; for
--               group_id, or the whole school when null; replaces that day's lessons
CREATE TABLE timetable_changes (
    id             uuid PRIMARY KEY,
    -- the order changes were made in (created_at comes from the injected clock)
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    school_id      uuid NOT NULL,
    on_date        date NOT NULL,
    lesson_id      uuid REFERENCES timetable_lessons (id) ON DELETE CASCADE,
    kind           text NOT NULL
                   CHECK (kind IN ('cancel', 'move', 'substitute', 'extra', 'programme')),
    starts         time,
    ends           time,
    room           text,
    substitute_id  uuid,
    subject        text,
    group_id       uuid,
    teacher_ids    uuid[] NOT NULL DEFAULT '{}',
    title          text,
    note           text,
    absence_id     uuid REFERENCES teacher_absences (id),
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL,
    undone_at      timestamptz,
    undone_by      uuid,
    CHECK ((lesson_id IS NULL) = (kind IN ('extra', 'programme')))
);
CREATE INDEX timetable_changes_day ON timetable_changes (tenant_id, school_id, on_date);
CREATE INDEX timetable_changes_lesson ON timetable_changes (tenant_id, lesson_id, on_date);

-- The change notice a person holds for a date (one per person per day): the
-- hub message it is, and a hash of its lines, so an unchanged summary is not
-- sent again. A new notice for the same (person, date) replaces the row.
CREATE TABLE timetable_notices (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    person_id   uuid NOT NULL,
    on_date     date NOT NULL,
    school_id   uuid NOT NULL,
    message_id  uuid,
    lines_hash  bytea NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, person_id, on_date, school_id)
);
CREATE INDEX timetable_notices_day ON timetable_notices (tenant_id, school_id, on_date);

-- Personal iCalendar feeds: a secret token (only its SHA-256 is kept) in the
-- URL, revocable.
CREATE TABLE calendar_feeds (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    person_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX calendar_feeds_person ON calendar_feeds (tenant_id, person_id);

-- A room booked outside lessons (an event, a meeting). Clashes with the
-- timetable and with other reservations are refused when booking.
CREATE TABLE room_reservations (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    school_id     uuid NOT NULL,
    room          text NOT NULL,
    on_date       date NOT NULL,
    starts        time NOT NULL,
    ends          time NOT NULL CHECK (ends > starts),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    booked_by     uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    cancelled_at  timestamptz
);
CREATE INDEX room_reservations_day ON room_reservations (tenant_id, school_id, on_date, room);

-- Teachers' comments on a draft timetable (a solve's timetable), per lesson
-- (activity_id) or per day (day: the model's day index), and the scheduler's
-- answer.
CREATE TABLE draft_comments (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    draft_id     uuid NOT NULL REFERENCES timetable_drafts (id) ON DELETE CASCADE,
    solve_id     uuid REFERENCES timetable_solves (id) ON DELETE CASCADE,
    author_id    uuid NOT NULL,
    activity_id  int,
    day          int,
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at   timestamptz NOT NULL,
    answer       text CHECK (length(answer) BETWEEN 1 AND 2000),
    answered_by  uuid,
    answered_at  timestamptz
);
CREATE INDEX draft_comments_draft ON draft_comments (tenant_id, draft_id, created_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['timetables', 'timetable_lessons', 'teacher_absences',
                             'timetable_changes', 'timetable_notices', 'calendar_feeds',
                             'room_reservations', 'draft_comments'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT reppu_tenant())) '
                       'WITH CHECK (tenant_id = (SELECT reppu_tenant()))', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON timetables, timetable_lessons, teacher_absences,
    timetable_changes, calendar_feeds, room_reservations, draft_comments TO %APP_ROLE%;
GRANT SELECT, INSERT, UPDATE, DELETE ON timetable_notices TO %APP_ROLE%;
