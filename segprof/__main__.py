"""`python -m segprof`: the command line.

Must never hold anything but the call to the entry point.
"""

from segprof.cli.main import run

run()
