"""Building messages: one changed record and one mapping → the message Segment would send.

Owns Segment's mapping language, the Segment Profiles actions' payload rules, the JSON encoding of
warehouse values, and the same mapping compiled to SQL so the warehouse can build messages
itself. Pure: must never read a warehouse, send anything or keep state between records.
"""
