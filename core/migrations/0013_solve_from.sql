-- A re-solve after a change starts from an earlier solve's timetable of the
-- same school (`from_solve`) and minimises the lessons that move from it
-- (`moved`, once it has a timetable). No foreign key: the earlier solve is
-- read when the job starts; if it has gone by then, the job says so.
ALTER TABLE timetable_solves ADD COLUMN from_solve uuid;
ALTER TABLE timetable_solves ADD COLUMN moved int;
