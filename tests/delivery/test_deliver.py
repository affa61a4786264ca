"""Delivery against a real HTTP sink on 127.0.0.1: request shape, batching, retries, 400 isolation."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import json
import re
import time
from typing import Any

import httpx
import pytest

from segprof.errors import SegprofError
from segprof.sync.deliver.answers import parse_wait
from segprof.sync.deliver.batching import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, encode_message
from segprof.sync.deliver.blocking import deliver
from segprof.sync.deliver.delivery_config import DeliveryConfig, batch_url
from segprof.sync.deliver.reports import BatchReport
from segprof.sync.deliver.tracking import Deliverer
from tests.delivery.sink import Fault, Sink

WRITE_KEY = "wk_test_5f3c9a1b2d"


def identify(i: int, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"user-{i}",
        "traits": {"email": f"user{i}@example.com", "plan": "pro", **traits},
        "integrations": {"All": False},
        "context": {"consent": {}},
        "timestamp": "2026-01-02T03:04:05.678Z",
        "messageId": f"segprof-m1-{i:08d}",
    }


def config(sink: Sink, **overrides: Any) -> DeliveryConfig:
    settings: dict[str, Any] = {
        "write_key": WRITE_KEY,
        "tracking_base": sink.base,
        "concurrency": 2,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "request_timeout": 2.0,
        "gzip": False,
        "max_rps": None,
    }
    settings.update(overrides)
    return DeliveryConfig(**settings)


def run(items: list[tuple[Any, Any]], cfg: DeliveryConfig) -> tuple[list[BatchReport], Any]:
    reports: list[BatchReport] = []
    summary = deliver(items, cfg, reports.append)
    return reports, summary


def outcome(reports: list[BatchReport]) -> tuple[list[Any], dict[Any, str]]:
    delivered = [k for r in reports for k in r.delivered]
    failed = {f.key: f.reason for r in reports for f in r.failed}
    return delivered, failed


def test_request_shape_auth_and_body(sink: Sink) -> None:
    messages = [identify(i) for i in range(5)]
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    reports, summary = run([(f"k{i}", m) for i, m in enumerate(messages)], config(sink))
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    assert len(sink.requests) == 1
    request = sink.requests[0]
    assert request.path == "/v1/batch"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    assert request.headers["content-type"] == "application/json"
    assert "content-encoding" not in request.headers
    assert set(request.body) == {"batch", "sentAt"}
    assert request.body["batch"] == messages
    sent = request.body["sentAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sent)
    assert before <= dt.datetime.fromisoformat(sent) <= after
    assert request.raw.count(b" ") == 0  # compact JSON, no padding against the size limits
    assert [r.delivered for r in reports] == [("k0", "k1", "k2", "k3", "k4")]
    assert summary.delivered == 5 and summary.failed == 0 and summary.requests == 1


def test_batch_url_with_and_without_v1() -> None:
    assert batch_url("https://api.segment.io/v1") == "https://api.segment.io/v1/batch"
    assert (
        batch_url("https://events.eu1.segmentapis.com/v1/") == "https://events.eu1.segmentapis.com/v1/batch"
    )
    assert batch_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000/v1/batch"


def test_gzip_above_threshold_only(sink: Sink) -> None:
    small = [(0, identify(0))]
    large = [(i, identify(i)) for i in range(1, 200)]
    run(small, config(sink, gzip=True, gzip_min_bytes=4096))
    run(large, config(sink, gzip=True, gzip_min_bytes=4096))
    plain, packed = sink.requests
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert len(packed.raw) < len(gzip.decompress(packed.raw)) / 3
    assert packed.body["batch"] == [m for _, m in large]


def test_batches_split_by_count(sink: Sink) -> None:
    items = [(i, identify(i)) for i in range(25)]
    reports, summary = run(items, config(sink, max_batch_count=10, concurrency=1))
    assert [len(r.messages) for r in sink.requests] == [10, 10, 5]
    assert [m for r in sink.requests for m in r.messages] == [m for _, m in items]
    assert [r.delivered for r in reports] == [tuple(range(10)), tuple(range(10, 20)), tuple(range(20, 25))]
    assert summary.batches == 3


def test_batches_split_by_size_within_475000_bytes(sink: Sink) -> None:
    # ~9.9 KB messages: 475,000 bytes hold 47 of them, far below the count limit.
    items = [(i, identify(i, blob="x" * (9_800 + i))) for i in range(120)]
    run(items, config(sink, concurrency=1))
    sizes = [len(r.raw) for r in sink.requests]
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    assert len(sizes) >= 3
    # Each body was filled: the next message would not have fitted.
    seen = 0
    for request in sink.requests[:-1]:
        seen += len(request.messages)
        next_part = encode_message(items[seen][1])
        assert len(request.raw) + 1 + len(next_part) > MAX_BATCH_BYTES
    assert sink.accepted_ids() == {m["messageId"]: 1 for _, m in items}


def _padded(i: int, size: int) -> dict[str, Any]:
    message = identify(i, pad="")
    message["traits"]["pad"] = "p" * (size - len(encode_message(message)))
    assert len(encode_message(message)) == size
    return message


def test_message_over_32kb_fails_alone(sink: Sink) -> None:
    at_limit = _padded(1, MAX_MESSAGE_BYTES)
    over = _padded(2, MAX_MESSAGE_BYTES + 1)
    items = [(0, identify(0)), (1, at_limit), (2, over), (3, identify(3))]
    reports, summary = run(items, config(sink))
    delivered, failed = outcome(reports)
    assert sorted(delivered) == [0, 1, 3]
    assert list(failed) == [2]
    assert "32,769 bytes" in failed[2] and "32,768" in failed[2]
    assert set(sink.accepted_ids()) == {"segprof-m1-00000000", "segprof-m1-00000001", "segprof-m1-00000003"}
    assert summary.failed == 1


def test_unsendable_messages_are_rejected_with_reasons(sink: Sink) -> None:
    no_id = identify(1)
    del no_id["messageId"]
    long_id = identify(2)
    long_id["messageId"] = "m" * 101
    items = [(0, identify(0)), (1, no_id), (2, long_id), (3, {"messageId": "x-3", "userId": "u"})]
    reports, _ = run(items, config(sink))
    delivered, failed = outcome(reports)
    assert delivered == [0]
    assert "messageId" in failed[1] and "101 characters" in failed[2] and "type" in failed[3]


def test_pre_encoded_messages_are_sent_byte_for_byte(sink: Sink) -> None:
    parts = [b'{"type":"identify","userId":"a","messageId":"b-1","traits":{"n":1.50}}']
    reports, _ = run([("a", parts[0])], config(sink))
    assert parts[0] in sink.requests[0].raw
    assert outcome(reports)[0] == ["a"]


def test_retries_deliver_every_message_exactly_once(sink: Sink) -> None:
    sink.script.extend(
        [
            Fault(429, {"Retry-After": "0"}),
            Fault(500),
            Fault(503),
            Fault(drop=True),
            Fault(delay=1.0),  # longer than the request timeout below
            Fault(502),
        ]
    )
    items = [(i, identify(i)) for i in range(60)]
    reports, summary = run(items, config(sink, max_batch_count=20, request_timeout=0.3, max_attempts=6))
    delivered, failed = outcome(reports)
    assert failed == {}
    assert sorted(delivered) == list(range(60))
    assert sink.accepted_ids() == {m["messageId"]: 1 for _, m in items}
    outcomes = [r.outcome for r in sink.requests]
    assert {"fault 429", "fault 500", "fault 503", "dropped", "slow", "fault 502"} <= set(outcomes)
    assert summary.retries == 6 and summary.requests == 9


def test_retry_after_is_honoured(sink: Sink) -> None:
    sink.script.append(Fault(429, {"Retry-After": "0.4"}))
    run([(0, identify(0))], config(sink, backoff_base=0.001, backoff_cap=0.001))
    first, second = sink.requests
    assert first.outcome == "fault 429" and second.outcome == "accepted"
    assert second.at - first.at >= 0.39


def test_rate_limit_reset_is_honoured(sink: Sink) -> None:
    sink.script.append(Fault(429, {"X-RateLimit-Reset": "0.3"}))
    run([(0, identify(0))], config(sink, backoff_base=0.001, backoff_cap=0.001))
    first, second = sink.requests
    assert second.at - first.at >= 0.29


def test_retry_after_forms() -> None:
    now = 1_800_000_000.0
    when = dt.datetime.fromtimestamp(now + 7, dt.UTC)
    assert parse_wait(httpx.Headers({"Retry-After": "3"}), now) == 3
    assert parse_wait(httpx.Headers({"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}), now) == 7
    assert parse_wait(httpx.Headers({"X-RateLimit-Reset": "2"}), now) == 2
    assert parse_wait(httpx.Headers({"X-RateLimit-Reset": str(int(now) + 5)}), now) == 5
    assert parse_wait(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert parse_wait(httpx.Headers({}), now) is None


def test_gives_up_after_max_attempts(sink: Sink) -> None:
    sink.script.extend(Fault(503) for _ in range(10))
    reports, summary = run([(0, identify(0)), (1, identify(1))], config(sink, max_attempts=4))
    delivered, failed = outcome(reports)
    assert delivered == []
    assert failed.keys() == {0, 1}
    assert "after 4 attempts" in failed[0] and "503" in failed[0]
    assert len(sink.requests) == 4 and summary.requests == 4


def test_retry_after_past_deadline_fails_without_waiting(sink: Sink) -> None:
    sink.script.append(Fault(429, {"Retry-After": "30"}))
    started = time.monotonic()
    reports, _ = run([(0, identify(0))], config(sink, batch_deadline=5))
    assert time.monotonic() - started < 3
    assert "deadline" in outcome(reports)[1][0]
    assert len(sink.requests) == 1


def test_deadline_bounds_retries(sink: Sink) -> None:
    sink.script.extend(Fault(delay=2.0) for _ in range(10))
    started = time.monotonic()
    reports, _ = run([(0, identify(0))], config(sink, batch_deadline=1.0, max_attempts=10, request_timeout=5))
    assert time.monotonic() - started < 2.0
    reason = outcome(reports)[1][0]
    assert "deadline" in reason or "timed out" in reason


def test_bad_request_isolates_bad_messages(sink: Sink) -> None:
    sink.reject = lambda m: "traits.age must be a number" if m["traits"].get("age") == "bad" else None
    items = [(i, identify(i, age="bad" if i in (3, 14) else i)) for i in range(20)]
    reports, summary = run(items, config(sink, concurrency=1))
    delivered, failed = outcome(reports)
    assert sorted(delivered) == [i for i in range(20) if i not in (3, 14)]
    assert failed.keys() == {3, 14}
    assert "HTTP 400" in failed[3] and "traits.age must be a number" in failed[3]
    assert sink.accepted_ids() == {m["messageId"]: 1 for i, m in items if i not in (3, 14)}
    assert summary.delivered == 18 and summary.failed == 2


def test_unauthorised_stops_sending(sink: Sink) -> None:
    sink.script.append(Fault(401, body={"message": f"bad key {WRITE_KEY}"}))
    items = [(i, identify(i)) for i in range(30)]
    reports, _ = run(items, config(sink, max_batch_count=10, concurrency=1))
    delivered, failed = outcome(reports)
    assert delivered == [] and len(failed) == 30
    assert len(sink.requests) == 1
    assert all("HTTP 401" in reason for reason in failed.values())
    assert all(WRITE_KEY not in reason for reason in failed.values())


def test_write_key_never_in_repr() -> None:
    cfg = DeliveryConfig(write_key=WRITE_KEY)
    assert WRITE_KEY not in repr(cfg)
    with pytest.raises(SegprofError, match="no write key"):
        DeliveryConfig(write_key="")


def test_reports_as_async_iterator(sink: Sink) -> None:
    async def main() -> list[BatchReport]:
        deliverer = Deliverer(config(sink, max_batch_count=7))
        return [r async for r in deliverer.reports((i, identify(i)) for i in range(20))]

    reports = asyncio.run(main())
    assert sorted(k for r in reports for k in r.delivered) == list(range(20))
    assert len(reports) == 3


def test_input_error_after_delivering_what_was_batched(sink: Sink) -> None:
    def items():
        for i in range(15):
            yield i, identify(i)
        raise RuntimeError("warehouse went away")

    reports: list[BatchReport] = []
    with pytest.raises(RuntimeError, match="warehouse went away"):
        deliver(items(), config(sink, max_batch_count=5), reports.append)
    delivered, _ = outcome(reports)
    assert sorted(delivered) == list(range(15))


def test_cancel_reports_in_flight_batch_not_delivered(sink: Sink) -> None:
    # Batch 1 is answered at once, batch 2 hangs; cancel while it hangs, with a short grace.
    sink.script.extend([Fault(status=200), Fault(delay=3.0)])
    reports: list[BatchReport] = []

    async def main() -> None:
        deliverer = Deliverer(config(sink, max_batch_count=5, concurrency=1, cancel_grace=0.2))
        task = asyncio.create_task(deliverer.deliver([(i, identify(i)) for i in range(15)], reports.append))
        while len(sink.requests) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    delivered, failed = outcome(reports)
    assert delivered == [0, 1, 2, 3, 4]
    assert sorted(failed) == list(range(5, 15))
    assert all("not delivered" in reason for reason in failed.values())
    # Nothing is reported twice.
    assert len(delivered) + len(failed) == 15


def test_cancel_lets_in_flight_batch_finish_within_grace(sink: Sink) -> None:
    sink.script.append(Fault(delay=0.3))  # the first batch is slow but answered 200
    reports: list[BatchReport] = []

    async def main() -> None:
        deliverer = Deliverer(config(sink, max_batch_count=5, concurrency=1, cancel_grace=2.0))
        task = asyncio.create_task(deliverer.deliver([(i, identify(i)) for i in range(15)], reports.append))
        while not sink.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    delivered, failed = outcome(reports)
    assert delivered == [0, 1, 2, 3, 4]
    assert sorted(failed) == list(range(5, 15))
    assert len(sink.requests) == 1


def test_report_callbacks_never_overlap(sink: Sink) -> None:
    active = 0
    peak = 0
    seen: list[BatchReport] = []

    async def on_report(report: BatchReport) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        seen.append(report)
        active -= 1

    async def main() -> None:
        deliverer = Deliverer(config(sink, max_batch_count=3, concurrency=4))
        await deliverer.deliver([(i, identify(i)) for i in range(30)], on_report)

    asyncio.run(main())
    assert peak == 1
    assert sorted(k for r in seen for k in r.delivered) == list(range(30))


def test_body_json_is_parseable_by_stdlib(sink: Sink) -> None:
    message = identify(0, note='quote " and \\ backslash', unicode="é✓", amount=1.5)
    run([(0, message)], config(sink))
    assert json.loads(sink.requests[0].raw)["batch"][0] == message


def test_failing_report_callback_stops_the_delivery(sink: Sink) -> None:
    calls = 0

    def on_report(report: BatchReport) -> None:
        nonlocal calls
        calls += 1
        raise OSError("state store is read-only")

    started = time.monotonic()
    with pytest.raises(OSError, match="read-only"):
        deliver([(i, identify(i)) for i in range(200)], config(sink, max_batch_count=5), on_report)
    assert time.monotonic() - started < 5
    assert calls == 1
    assert len(sink.requests) < 40


def test_max_rps_paces_requests(sink: Sink) -> None:
    items = [(i, identify(i)) for i in range(6)]
    _, paced = run(items, config(sink, max_batch_count=1, concurrency=4, max_rps=20))
    assert len(sink.requests) == 6
    # The sixth request may not start before 5/20 s after the first.
    assert paced.elapsed >= 5 / 20


def test_unreachable_endpoint_fails_with_connection_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once this block ends: nothing listens there
    cfg = DeliveryConfig(
        write_key=WRITE_KEY,
        tracking_base=f"http://127.0.0.1:{port}/v1",
        max_attempts=3,
        backoff_base=0.01,
        max_rps=None,
    )
    reports, summary = run([(0, identify(0))], cfg)
    assert outcome(reports) == ([], {0: "not delivered after 3 attempts: connection error (ConnectError)"})
    assert summary.requests == 3 and summary.retries == 2


def test_tracking_base_must_be_http() -> None:
    with pytest.raises(SegprofError, match="not an http"):
        DeliveryConfig(write_key=WRITE_KEY, tracking_base="api.segment.io/v1")


def test_cancel_while_waiting_to_report_still_reports_the_acknowledged_batch(sink: Sink) -> None:
    seen: list[BatchReport] = []

    async def slow_report(report: BatchReport) -> None:
        seen.append(report)
        await asyncio.sleep(0.5)  # e.g. a slow state commit, holding the reporting turn

    async def main() -> None:
        deliverer = Deliverer(config(sink, max_batch_count=5, concurrency=2, cancel_grace=0.1))
        task = asyncio.create_task(deliverer.deliver([(i, identify(i)) for i in range(10)], slow_report))
        while len(sink.accepted()) < 2 or not seen:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the second worker now waits for its turn to report
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    delivered = sorted(k for r in seen for k in r.delivered)
    assert delivered == list(range(10))
    assert not [f for r in seen for f in r.failed]


def test_gzip_by_default_only_for_remote_endpoints() -> None:
    def compress(base: str) -> bool:
        return DeliveryConfig(write_key=WRITE_KEY, tracking_base=base).compress

    assert compress("https://api.segment.io/v1")
    assert compress("https://events.eu1.segmentapis.com/v1")
    assert not compress("http://127.0.0.1:8080/v1")
    assert not compress("http://localhost:8080")
    assert not compress("http://[::1]:8080/v1")
    assert DeliveryConfig(write_key=WRITE_KEY, tracking_base="http://127.0.0.1:1", gzip=True).compress
    assert not DeliveryConfig(write_key=WRITE_KEY, gzip=False).compress


def test_https_endpoints_verify_certificates_and_plain_http_loads_no_ca_bundle() -> None:
    import ssl

    def context(base: str) -> ssl.SSLContext:
        client = Deliverer(DeliveryConfig(write_key="k", tracking_base=base))._client()
        return client._transport._pool._ssl_context  # type: ignore[attr-defined]

    remote = context("https://events.eu1.segmentapis.com/v1")
    assert remote.verify_mode == ssl.CERT_REQUIRED and remote.check_hostname
    assert remote.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded
    local = context("http://127.0.0.1:9/v1")
    assert local.cert_store_stats()["x509_ca"] == 0
