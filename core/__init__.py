"""Reppu's core: configuration, errors, tenants, people, roles, groups,
guardianships, authentication, the PostgreSQL pool and migrations, the audit
log and the clock. It knows nothing about messages or channels."""
