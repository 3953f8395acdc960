"""Channel adapters (websocket, Web Push, email) behind one Deliverer protocol.

Empty until the channels issue lands; see ../shared/ARCHITECTURE.md."""
