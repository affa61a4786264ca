"""Delivery: built messages → Tracking API `/v1/batch` requests, with limits, retries and deadlines.

Must never build or change a message, nor read a warehouse.
"""
