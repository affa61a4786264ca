"""Real signals against a delivery in a child process: SIGTERM and Ctrl-C stop it cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.delivery.sink import Fault, Sink

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from segprof.sync.deliver.blocking import DeliveryInterrupted, deliver
from segprof.sync.deliver.delivery_config import DeliveryConfig

def items():
    for i in range(30):
        yield i, {"type": "identify", "userId": f"u{i}", "messageId": f"m-{i}"}

def on_report(report):
    failed = [[f.key, f.reason] for f in report.failed]
    print(json.dumps({"delivered": list(report.delivered), "failed": failed}), flush=True)

config = DeliveryConfig(
    write_key="wk_child_secret", tracking_base=sys.argv[1], max_batch_count=10,
    concurrency=1, cancel_grace=0.2, max_rps=None,
)
try:
    deliver(items(), config, on_report)
except DeliveryInterrupted as exc:
    print("INTERRUPTED", exc, flush=True)
    sys.exit(1)
except KeyboardInterrupt:
    print("KEYBOARD", flush=True)
    sys.exit(130)
print("DONE", flush=True)
"""


@pytest.mark.parametrize(
    ("signum", "marker", "code"), [(signal.SIGTERM, "INTERRUPTED", 1), (signal.SIGINT, "KEYBOARD", 130)]
)
def test_signal_stops_delivery_and_reports_every_batch(
    sink: Sink, signum: int, marker: str, code: int
) -> None:
    sink.script.extend([Fault(status=200), Fault(delay=5.0)])  # batch 1 acknowledged, batch 2 hangs
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sink.base],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while len(sink.requests) < 2:
        assert time.monotonic() < deadline, "the child never sent its second batch"
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.01)
    child.send_signal(signum)
    out, err = child.communicate(timeout=20)

    assert child.returncode == code, err
    lines = out.splitlines()
    (end,) = [i for i, line in enumerate(lines) if line.startswith(marker)]
    reports = [json.loads(line) for line in lines[:end]]
    delivered = [k for r in reports for k in r["delivered"]]
    failed = {k: reason for r in reports for k, reason in r["failed"]}
    assert delivered == list(range(10))
    assert sorted(failed) == list(range(10, 30))
    assert all("not delivered" in reason for reason in failed.values())
    assert "Traceback" not in err
    assert "wk_child_secret" not in out + err
    if signum == signal.SIGTERM:
        assert "10 records acknowledged, 20 not delivered" in lines[end]
