"""Local Segment: the emulated Public API and Tracking API over a SQLite data folder.

Owns nothing itself; `segprof.emulator.app.create_app` is the entry point. Must never import the
CLI.
"""
