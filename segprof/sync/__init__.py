"""Sync engine: extract, in-warehouse diff, payloads, batching and delivery, checkpoints."""
