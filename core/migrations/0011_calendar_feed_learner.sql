-- Whose timetable a personal calendar feed (calendar_feeds, 0009) serves:
-- learner_id is a guardian's child; NULL is the feed owner's own lessons.
-- No foreign key on purpose: a roster import replaces guardianships, and the
-- feed must then answer 404 rather than block the import. The guardianship
-- and the 18-year line are checked again at every fetch (scheduling.calendar).
ALTER TABLE calendar_feeds ADD COLUMN learner_id uuid;
