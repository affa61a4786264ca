"""The sync engine, by stage: detect changes, build messages, deliver them.

`detect/` finds a mapping's changed records inside the warehouse and keeps the bookkeeping that
never loses a change; `messages/` turns a changed record into the message Segment's destination
would send; `deliver/` packs messages into Tracking API batches and sends them. `engine` runs one
mapping through the three stages; `job` builds what it runs (`spec.SyncJob`) from the project or
the workspace.
Must never choose a workspace backend or print: the operations layer does both.
"""
