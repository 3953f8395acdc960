-- A solve that proves no timetable exists ends as 'infeasible', its reason in
-- `error` (for example a class with more lesson hours than free slots),
-- rather than 'incomplete', which says only that none was found in time.
ALTER TABLE timetable_solves DROP CONSTRAINT timetable_solves_state_check;
ALTER TABLE timetable_solves ADD CONSTRAINT timetable_solves_state_check
    CHECK (state IN ('queued', 'running', 'solved', 'incomplete', 'infeasible',
                     'stopped', 'failed'));
