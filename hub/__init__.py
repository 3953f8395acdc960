"""The hub: messages, audiences, inboxes, live sessions and delivery policy.

Empty until the hub issue lands; see ../shared/ARCHITECTURE.md."""
