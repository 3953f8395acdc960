"""Forms, applications, guardians' consent and decisions.

Empty until a decisions issue lands; see ../shared/ARCHITECTURE.md."""
