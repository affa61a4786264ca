"""Run a command and write its peak RSS: a tiny launcher, so the figure is the command's own.

Owns: spawning one command, waiting for it with `wait4`, and writing `{"maxrss_kb", "exit"}` to
the result file. It exists because a child forked or vforked straight from a large process
inherits that process's resident high-water mark in `ru_maxrss` (Linux records the old memory
map's peak at exec); from this launcher, started bare (`python -I -S`), the floor is a few MB.
Must stay free of imports beyond the standard library's smallest modules.

    python -I -S benchmarks/peak_rss.py RESULT.json -- COMMAND [ARGS...]
"""

import json
import os
import sys


def main() -> None:
    result, sep, *command = sys.argv[1:]
    if sep != "--" or not command:
        sys.exit("usage: peak_rss.py RESULT.json -- COMMAND [ARGS...]")
    pid = os.posix_spawnp(command[0], command, os.environ)
    _pid, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as out:
        json.dump({"maxrss_kb": usage.ru_maxrss, "exit": code}, out)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
