"""The hub: messages, audiences, inboxes, live sessions and (later) delivery
policy. Other modules use only this public API:

    from hub import Hub, NewMessage, ModuleEvent, selectors
    await hub.publish(principal, NewMessage(...))

`hub.actions.Hub` publishes (idempotent by key) through one transaction and
fans out after commit; `hub.model` holds the selectors of audiences.
"""
