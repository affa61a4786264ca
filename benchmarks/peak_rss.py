"""Run a command and write its peak RSS: a tiny launcher, so the figure is the command's own.

Owns: spawning one command, waiting for it with `wait4` (killing it after `--timeout` seconds,
so a run cut short still reports its peak), and writing `{"maxrss_kb", "exit", "timed_out"}` to
the result file. It exists because a child forked or vforked straight from a large process
inherits that process's resident high-water mark in `ru_maxrss` (Linux records the old memory
map's peak at exec); from this launcher, started bare (`python -I -S`), the floor is a few MB.
Must stay free of imports beyond the standard library's smallest modules.

    python -I -S benchmarks/peak_rss.py RESULT.json [--timeout SECONDS] -- COMMAND [ARGS...]
"""

import json
import os
import signal
import sys

USAGE = "usage: peak_rss.py RESULT.json [--timeout SECONDS] -- COMMAND [ARGS...]"


def main() -> None:
    args = sys.argv[1:]
    if "--" not in args or len(args) < 3:
        sys.exit(USAGE)
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    result, timeout = options[0], float(options[2]) if options[1:2] == ["--timeout"] else None
    pid = os.posix_spawnp(command[0], command, os.environ)
    timed_out = False

    def expire(_signum: int, _frame: object) -> None:
        nonlocal timed_out
        timed_out = True
        os.kill(pid, signal.SIGKILL)

    if timeout:
        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    _pid, status, usage = os.wait4(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as out:
        json.dump({"maxrss_kb": usage.ru_maxrss, "exit": code, "timed_out": timed_out}, out)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
