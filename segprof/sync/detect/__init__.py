"""Change detection: which records of a mapping are new, updated or deleted since the last run.

Owns the record checksum, the change tracker and its bookkeeping tables in `__segprof`, message
ids (fixed when a change is first recorded) and the record of failed deliveries. Must never build
a message or talk HTTP.
"""
