-- Withdrawn notifications (hub.Hub.withdraw): a module may take back a
-- notification that its recipient has not read yet (a timetable change that
-- was undone, or superseded by a later notice for the same day). The row
-- stays, for the sequence and the sender's report, but leaves the inbox: it
-- is archived at the same instant, and the withdrawal is a 'state' event in
-- the person's sequence, so every device (live or resuming) learns of it.
ALTER TABLE inbox ADD COLUMN withdrawn_at timestamptz;
