"""The sync engine: change detection in the warehouse, payloads, delivery, bookkeeping."""
