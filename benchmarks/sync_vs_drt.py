"""Benchmark: segprof's sync against drt-core (the peer) and against the minimal diff (the bound).

One command measures every figure of the sync goals in one run, on loopback only:

  1  first full sync of N rows: drt-core vs `segprof sync --self-hosted` vs the embedded workspace
     (`segprof apply --auto-approve`, then `segprof sync --all` is timed) — wall time, rows/s, peak RSS
  2  after 1 % updated, 0.5 % new, 0.5 % deleted: segprof's incremental sync vs drt's cursor mode
  3  no change: the same
  4  segprof self-hosted peak RSS on a large table (--rows-large) against the N-row run
  5  change detection alone (`ChangeTracker.begin()`) on the large table vs the minimal diff

Ratios are printed as drt/segprof for time (above 1: segprof is faster) and segprof/drt or
large/small for memory. Each figure is the median of --repeat runs (one run for the large sync).
It prints a table and a PASS/MISS line per goal, and exits 0 whatever the figures: a measurement,
not a test. --quick skips the large table and runs figure 5 on the N-row table instead.

    python benchmarks/sync_vs_drt.py [--rows N] [--quick] [--repeat R] [--rows-large M]
"""

from __future__ import annotations

import argparse
import json
import operator
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import change_bound  # noqa: E402 - sibling modules of this script
import drt_peer  # noqa: E402
from sync_contenders import (  # noqa: E402
    CACHE,
    SEGPROF_PYTHON,
    Drt,
    Embedded,
    Measured,
    SelfHosted,
    Sink,
    apply_changes,
    base_table,
    change_statements,
    expected_changes,
    install_segprof,
    measure,
    python_env,
)

PHASES = {"full": "1 first full sync", "changes": "2 after 2 % changes", "none": "3 no change"}
TOOLS = [Drt, SelfHosted, Embedded]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def expected_events(tool: str, phase: str, rows: int) -> int:
    """What each tool should send: drt's cursor never sees a deleted row, segprof sends all three kinds."""
    if phase == "full":
        return rows
    if phase == "none":
        return 0
    c = expected_changes(rows)
    return c["updated"] + c["new"] + (0 if tool == Drt.name else c["deleted"])


def progress(label: str, m: Measured) -> None:
    sent = f"{m.sink.get('events', '?')} events / {m.sink.get('distinct_message_ids', '-')} ids"
    state = "ok" if m.ok else ("TIMEOUT" if m.timed_out else f"exit {m.rc}")
    print(f"   {label:<42} {m.seconds:8.2f} s  {m.peak_rss_mb:7.0f} MB  {sent}  [{state}]", flush=True)
    if not m.ok:
        print("     " + (m.stderr.strip() or m.stdout.strip())[-1500:].replace("\n", "\n     "), flush=True)


def sync_figures(args: argparse.Namespace, drt: Path, sink: Sink) -> dict[str, dict[str, list[Measured]]]:
    """Figures 1-3: every repeat starts the three tools from a fresh copy of the base table."""
    base = base_table(args.rows)
    results: dict[str, dict[str, list[Measured]]] = {t.name: {p: [] for p in PHASES} for t in TOOLS}
    for rep in range(args.repeat):
        print(f"-- repeat {rep + 1}/{args.repeat}: {args.rows:,} rows", flush=True)
        order = TOOLS[rep % 3 :] + TOOLS[: rep % 3]  # rotate, so load drift does not favour one tool
        tools = [t(args.workdir / t.__name__.lower(), base, sink, args.timeout, drt) for t in order]
        for phase in PHASES:
            if phase == "changes":
                for tool in tools:
                    apply_changes(tool.warehouse, args.rows)
            for tool in tools:
                m = tool.sync()
                results[tool.name][phase].append(m)
                progress(f"{PHASES[phase]} · {tool.name}", m)
    return results


def large_run(args: argparse.Namespace, drt: Path, sink: Sink) -> Measured:
    """Figure 4: one self-hosted full sync of the large table."""
    base = base_table(args.rows_large)
    tool = SelfHosted(args.workdir / "large", base, sink, args.large_timeout, drt)
    m = tool.sync()
    progress(f"4 full sync {args.rows_large:,} rows · {tool.name}", m)
    shutil.rmtree(tool.root, ignore_errors=True)
    return m


def change_figure(args: argparse.Namespace, rows: int) -> dict[str, list[dict[str, float]]]:
    """Figure 5: ref and segprof alternated, each in a fresh process on a fresh copy of the prepared file."""
    prepared = args.workdir / f"changes_{rows}.duckdb"
    print(f"-- figure 5 on {rows:,} rows: preparing both snapshots", flush=True)
    rebaseline_s = change_bound.prepare(base_table(rows), prepared, change_statements(rows))
    print(f"   (segprof rebaseline took {rebaseline_s:.2f} s)", flush=True)
    out: dict[str, list[dict[str, float]]] = {"ref": [], "segprof": []}
    scratch = args.workdir / "changes_scratch.duckdb"
    for _ in range(args.repeat):
        for op in ("ref", "segprof"):
            scratch.unlink(missing_ok=True)
            shutil.copyfile(prepared, scratch)
            cmd = [sys.executable, str(HERE / "change_bound.py"), "--child", op, "--db", str(scratch)]
            m = measure(cmd, args.workdir, python_env(), args.large_timeout)
            if not m.ok:
                progress(f"5 change detection · {op}", m)
                continue
            got = json.loads(m.stdout.strip().splitlines()[-1]) | {"peak_rss_mb": m.peak_rss_mb}
            out[op].append(got)
            print(
                f"   5 change detection · {op:<8} {got['seconds']:8.2f} s  {m.peak_rss_mb:7.0f} MB "
                f"(own {got['own_peak_rss_mb']:.0f} MB)  "
                f"new {got['new']:,} updated {got['updated']:,} deleted {got['deleted']:,}",
                flush=True,
            )
    scratch.unlink(missing_ok=True)
    prepared.unlink(missing_ok=True)
    return out


def goal(passed: bool | None, text: str) -> str:
    mark = "n/a " if passed is None else ("PASS" if passed else "MISS")
    return f"{mark}  {text}"


def report(args: argparse.Namespace, syncs: dict, large: Measured | None, cd: dict, cd_rows: int) -> None:
    print()
    print(
        f"{'figure':<22} {'tool':<20} {'wall s':>8} {'rows/s':>10} {'peak RSS MB':>12}  sent (events / ids; want)"
    )
    med: dict[tuple[str, str], tuple[float, float]] = {}
    for phase, title in PHASES.items():
        for tool in TOOLS:
            runs = [m for m in syncs[tool.name][phase] if m.ok]
            if not runs:
                print(f"{title:<22} {tool.name:<20} {'failed':>8}")
                continue
            secs, rss = median([m.seconds for m in runs]), median([m.peak_rss_mb for m in runs])
            med[(tool.name, phase)] = (secs, rss)
            # rows/s: the rows each run had to look at (the whole table), not only the ones it sent
            rate = args.rows / secs
            events = runs[-1].sink.get("events", "?")
            ids = runs[-1].sink.get("distinct_message_ids", "-")
            want = expected_events(tool.name, phase, args.rows)
            flag = "" if events == want else "  <- not what it should send"
            if ids not in ("-", events):
                flag += "  <- a messageId repeated"
            print(
                f"{title:<22} {tool.name:<20} {secs:8.2f} {rate:10,.0f} {rss:12.0f}  "
                f"{events} / {ids}; {want}{flag}"
            )
    if large is not None and (large.ok or large.timed_out):
        events = int(large.sink.get("events", 0))
        note = f"; {args.rows_large}" if large.ok else f" of {args.rows_large} when cut at the timeout"
        print(
            f"{'4 large full sync':<22} {SelfHosted.name:<20} {large.seconds:8.2f} "
            f"{events / large.seconds:10,.0f} {large.peak_rss_mb:12.0f}  "
            f"{events} / {large.sink.get('distinct_message_ids')}{note}"
        )
    for op in ("ref", "segprof"):
        if cd[op]:
            secs = median([r["seconds"] for r in cd[op]])
            rss = median([r["peak_rss_mb"] for r in cd[op]])
            name = "minimal diff (md5)" if op == "ref" else "ChangeTracker.begin"
            print(f"{'5 change detection':<22} {name:<20} {secs:8.2f} {cd_rows / secs:10,.0f} {rss:12.0f}")
    print(f"\n(medians of {args.repeat} runs; the machine is shared, so absolute times carry its load)")

    goals(args, med, large)


def goals(
    args: argparse.Namespace, med: dict[tuple[str, str], tuple[float, float]], large: Measured | None
) -> None:
    """PASS/MISS for goals 1-4, from the medians (time is index 0, peak RSS index 1)."""

    def ratio(a: tuple[str, str], b: tuple[str, str], i: int) -> float | None:
        return med[a][i] / med[b][i] if a in med and b in med else None

    d, s, e = Drt.name, SelfHosted.name, Embedded.name
    small = med.get((s, "full"))
    rss_ratio = None
    if large is not None and small and (large.ok or large.timed_out):
        rss_ratio = large.peak_rss_mb / small[1]
        if not large.ok and rss_ratio <= 1.3:
            rss_ratio = None  # cut short: its peak so far is a floor, which can show a miss but no pass
    at_least, at_most = operator.ge, operator.le
    checks = [
        (ratio((d, "full"), (s, "full"), 0), at_least, 5, "1 full sync time, drt/segprof self-hosted"),
        (ratio((d, "full"), (e, "full"), 0), at_least, 4, "1 full sync time, drt/segprof embedded"),
        (ratio((s, "full"), (d, "full"), 1), at_most, 1, "1 full sync peak RSS, segprof self-hosted/drt"),
        (ratio((e, "full"), (d, "full"), 1), at_most, 1, "1 full sync peak RSS, segprof embedded/drt"),
        (
            ratio((d, "changes"), (s, "changes"), 0),
            at_least,
            1,
            "2 incremental time, drt/segprof self-hosted",
        ),
        (ratio((d, "none"), (s, "none"), 0), at_least, 1, "3 no-change time, drt/segprof self-hosted"),
        (rss_ratio, at_most, 1.3, f"4 peak RSS, {args.rows_large:,} / {args.rows:,} rows, self-hosted"),
    ]
    print("\nGoals (time ratios are drt/segprof: above 1 means segprof is faster)")
    for value, compare, bound, text in checks:
        sign = ">=" if compare is at_least else "<="
        shown = "?" if value is None else f"{value:.2f}x"
        print(
            goal(None if value is None else compare(value, bound), f"{text}: {shown} (goal {sign} {bound}x)")
        )


def change_goals(cd: dict[str, list[dict[str, float]]], cd_rows: int) -> None:
    """PASS/MISS for goal 5."""
    if cd["ref"] and cd["segprof"]:
        t = median([r["seconds"] for r in cd["segprof"]]) / median([r["seconds"] for r in cd["ref"]])
        rss = max(r["peak_rss_mb"] for r in cd["segprof"])
        same = all(cd["ref"][0][k] == r[k] for r in cd["segprof"] for k in ("new", "updated", "deleted"))
        print(
            goal(
                t <= 1.5,
                f"5 change detection on {cd_rows:,} rows, segprof/minimal diff: {t:.2f}x (goal <= 1.5x)",
            )
        )
        print(goal(rss <= 1024, f"5 change detection peak RSS: {rss:.0f} MB (goal <= 1024 MB)"))
        print(goal(same, "5 both found the same new/updated/deleted counts"))
    else:
        print(goal(None, "5 change detection: a side failed, see above"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows of figures 1-3 (default 200,000)")
    parser.add_argument("--rows-large", type=int, default=10_000_000, help="rows of figures 4-5")
    parser.add_argument("--quick", action="store_true", help="skip the large table; figure 5 on --rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, the median is shown")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run of --rows may take")
    parser.add_argument("--large-timeout", type=float, default=3600, help="seconds a large run may take")
    parser.add_argument("--workdir", type=Path, default=CACHE / "run")
    parser.add_argument("--drt-venv", type=Path, default=drt_peer.DEFAULT_VENV)
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="run segprof from this interpreter and checkout instead of a virtual environment of its own",
    )
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)

    drt = drt_peer.ensure_venv(args.drt_venv)
    if not args.in_place:
        SEGPROF_PYTHON.append(install_segprof())
    sink = Sink()
    try:
        syncs = sync_figures(args, drt, sink)
        large = None if args.quick else large_run(args, drt, sink)
    finally:
        sink.stop()
    cd_rows = args.rows if args.quick else args.rows_large
    cd = change_figure(args, cd_rows)
    report(args, syncs, large, cd, cd_rows)
    change_goals(cd, cd_rows)


if __name__ == "__main__":
    main()
