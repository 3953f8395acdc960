"""The hub: messages, audiences, inboxes, live sessions and delivery policy.

Other modules (scheduling, planning, decisions) use only this public API:

* `Hub.notify(tenant_id, ModuleEvent(...))` — a notification to an audience
  (`hub.model` selectors), idempotent by key, through one transaction, fanned
  out after commit; `hub.actions.notify_later(conn, …)` puts the same event in
  the hub's outbox in the module's own transaction (sent again later, so a
  notification survives a process that dies after the module's commit);
* `Hub.recipients(conn, selector)` — whom an audience reaches under the hub's
  rules, for a module that tailors a notice to each person and then publishes
  each version to its `Persons`;
* `Hub.withdraw(tenant_id, [(person, message)])` — take back notifications not
  yet read (a change undone, a notice superseded);
* `Hub.signal(tenant_id, person_id, kind, data)` — a transient live frame.

The app holds the one `Hub` as `app.state["hub"]`.
"""
