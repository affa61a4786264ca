"""The command line: typer commands only (parse flags, call the core, render). No logic here.

Each module in this package that defines `register(app)` adds its commands; `ORDER` sets where
they appear in `--help`. Modules import only typer and the standard library at the top, and
load the core inside the command body, so that `segprof --help` starts fast.
Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""
