"""A Tracking API that answers its headers, then one byte a second, cannot hold a sync."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from segprof.sync.deliver.blocking import deliver
from segprof.sync.deliver.delivery_config import DeliveryConfig


@pytest.fixture()
def trickle() -> Iterator[str]:
    """A loopback server that reads a request, sends 200 headers promising a long body, then one
    byte a second for as long as the client listens."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                conn.recv(1 << 20)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                )
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(1)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_trickling_answer_ends_at_the_request_deadline(trickle: str):
    config = DeliveryConfig(
        write_key="k",
        tracking_base=trickle,
        request_timeout=2.0,
        max_attempts=2,
        backoff_base=0.1,
        batch_deadline=20.0,
        max_rps=None,
    )
    reports = []
    started = time.monotonic()
    summary = deliver(
        [("r1", {"type": "identify", "userId": "1", "messageId": "m1"})], config, reports.append
    )
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"held for {elapsed:.1f} s"
    assert summary.delivered == 0 and summary.failed == 1
    (report,) = reports
    assert report.failed[0].key == "r1" and "timed out" in report.failed[0].reason
