"""SQL analysis of model queries with sqlglot: dialects, parsing, output columns, column checks.

Owns everything segprof knows about a model's SQL offline. Must never connect to a warehouse,
and must never import sqlglot at package import time (the CLI starts without it).
"""
