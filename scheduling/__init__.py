"""Timetables: model, CP-SAT solver, FET import/export, changes and rooms.

Empty until the timetable issues land; see ../shared/ARCHITECTURE.md."""
