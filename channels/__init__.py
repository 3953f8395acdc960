"""Channel adapters, one per way out, each behind `channels.base.Deliverer`:
`webpush` (VAPID, RFC 8291 encryption) and `email` (SMTP with STARTTLS).
Policy-free: whether and when to deliver is the hub's decision; an adapter
makes one attempt and returns a typed result."""
