"""Planning: a school's events with registration and a waiting list, and
parent–teacher meeting slots (vanhempainvartti); see docs/planning.md.

Still to come here: the school-year calendar, lessons, lesson entries
(attendance), homework, assessments (../shared/ARCHITECTURE.md)."""
