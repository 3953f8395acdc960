"""School-year calendar, events, lessons, homework and assessments.

Empty until a planning issue lands; see ../shared/ARCHITECTURE.md."""
