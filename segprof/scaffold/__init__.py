"""Starter projects: the quickstart template, its demo warehouse, and `segprof init`.

Owns: the template shipped as package data (`quickstart/`), copying it into a folder, and
building its DuckDB demo warehouse. Must never overwrite a user's files without being told to
(`force`), nor leave a half-written project behind.
"""
