"""Packing messages into /v1/batch bodies: limits, order, rejections, splitting (no network)."""

from __future__ import annotations

import json
import random
from typing import Any

from segprof.sync.deliver.batching import (
    MAX_BATCH_BYTES,
    MAX_BATCH_COUNT,
    Batch,
    BatchLimits,
    Rejection,
    encode_message,
    pack,
    sent_at,
)

SENT_AT = "2026-01-02T03:04:05.678Z"


def message(i: int, size: int = 0) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"u{i}",
        "traits": {"n": i, "pad": "x" * size},
        "messageId": f"m-{i}",
    }


def bodies(entries: list[Batch | Rejection]) -> list[dict[str, Any]]:
    return [json.loads(e.body(SENT_AT)) for e in entries if isinstance(e, Batch)]


def test_small_messages_fill_batches_to_the_count_limit() -> None:
    entries = list(pack((i, message(i)) for i in range(6_000)))
    assert [len(e) for e in entries] == [MAX_BATCH_COUNT, MAX_BATCH_COUNT, 1_000]
    assert [m["messageId"] for b in bodies(entries) for m in b["batch"]] == [f"m-{i}" for i in range(6_000)]


def test_body_bytes_are_exact_and_within_limit() -> None:
    entries = list(pack((i, message(i, size=2_000 + i % 700)) for i in range(1_000)))
    for entry in entries:
        assert isinstance(entry, Batch)
        body = entry.body(SENT_AT)
        assert len(body) == entry.body_bytes <= MAX_BATCH_BYTES
        assert len(body) > MAX_BATCH_BYTES - 2 * 17_000 or entry is entries[-1]


def test_mixed_stream_keeps_order_and_accounts_for_every_message() -> None:
    rng = random.Random(7)
    items: list[tuple[int, Any]] = []
    expected_rejected = set()
    for i in range(3_000):
        roll = rng.random()
        if roll < 0.02:
            items.append((i, message(i, size=33_000)))  # over 32 KB
            expected_rejected.add(i)
        elif roll < 0.04:
            bad = message(i)
            del bad["messageId"]
            items.append((i, bad))
            expected_rejected.add(i)
        elif roll < 0.10:
            items.append((i, encode_message(message(i))))  # pre-encoded
        else:
            items.append((i, message(i, size=rng.choice([0, 50, 900, 12_000]))))
    by_key = dict(items)
    limits = BatchLimits(max_batch_count=97)
    entries = list(pack(items, limits))

    rejected = [e.key for e in entries if isinstance(e, Rejection)]
    batched = [k for e in entries if isinstance(e, Batch) for k in e.keys]
    assert set(rejected) == expected_rejected
    assert batched == [k for k, _ in items if k not in expected_rejected]
    for entry in entries:
        if isinstance(entry, Batch):
            assert len(entry) <= 97
            body = json.loads(entry.body(SENT_AT))
            assert [m["messageId"] for m in body["batch"]] == [f"m-{k}" for k in entry.keys]
            assert entry.message_ids == [
                None if isinstance(by_key[k], bytes) else f"m-{k}" for k in entry.keys
            ]


def test_split_halves_keep_every_message_once() -> None:
    (batch,) = list(pack((i, message(i)) for i in range(11)))
    first, second = batch.split()
    assert first.keys == list(range(6)) and second.keys == list(range(6, 11))
    for half in (first, second):
        assert len(half.body(SENT_AT)) == half.body_bytes
        assert [m["userId"] for m in json.loads(half.body(SENT_AT))["batch"]] == [f"u{k}" for k in half.keys]


def test_non_json_values_are_converted_or_rejected() -> None:
    import datetime as dt
    import decimal

    ok = message(1)
    ok["traits"]["ltv"] = decimal.Decimal("12.50")
    ok["traits"]["seen"] = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    bad = message(2)
    bad["traits"]["obj"] = object()
    entries = list(pack([(1, ok), (2, bad)]))
    (batch,) = [e for e in entries if isinstance(e, Batch)]
    (rejection,) = [e for e in entries if isinstance(e, Rejection)]
    sent = json.loads(batch.body(SENT_AT))["batch"][0]["traits"]
    assert sent["ltv"] == 12.5 and sent["seen"].startswith("2026-01-02T03:04:05")
    assert rejection.key == 2 and "JSON" in rejection.reason


def test_input_error_yields_what_was_read_then_raises() -> None:
    def items():
        yield 1, message(1)
        yield 2, message(2)
        raise ValueError("cursor closed")

    out = pack(items())
    batch = next(out)
    assert isinstance(batch, Batch) and batch.keys == [1, 2]
    try:
        next(out)
    except ValueError as exc:
        assert "cursor closed" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("the input's error was swallowed")


def test_sent_at_format() -> None:
    import datetime as dt

    assert sent_at(dt.datetime(2026, 1, 2, 3, 4, 5, 678_900, tzinfo=dt.UTC)) == "2026-01-02T03:04:05.678Z"


def test_big_integers_and_float_subclasses_still_encode() -> None:
    class Exact(float):
        pass

    big = message(1)
    big["traits"]["id"] = 2**70
    big["traits"]["ratio"] = Exact(0.1)
    (batch,) = list(pack([(1, big)]))
    sent = json.loads(batch.body(SENT_AT))["batch"][0]["traits"]
    assert sent["id"] == 2**70 and sent["ratio"] == 0.1


def test_a_callers_encoder_is_used_for_every_message() -> None:
    calls: list[str] = []

    def encoder(msg: dict[str, Any]) -> bytes:
        calls.append(msg["messageId"])
        return json.dumps(msg, sort_keys=True, separators=(",", ":")).encode()

    entries = list(pack(((i, message(i)) for i in range(50)), encoder=encoder))
    assert calls == [f"m-{i}" for i in range(50)]
    body = entries[0].body(SENT_AT)
    assert b'{"messageId":"m-0","traits"' in body


def test_split_of_grouped_parts_gives_each_message_its_own_exact_bytes() -> None:
    items = []
    for i in range(40):
        m = message(i)
        m["traits"].update(ratio=0.1 * i, tiny=1e-7 * i, huge=1.5e300, text=f'é "q" \\ {i} \u2028', neg=-i)
        items.append((i, m))
    (batch,) = list(pack(items))
    assert len(batch.parts) < len(batch)  # encoded in groups
    body = batch.body(SENT_AT)
    first, second = batch.split()
    assert first.parts + second.parts == [encode_message(m) for _, m in items]
    # Splitting changes nothing in what is sent: the halves hold the same bytes.
    joined = b",".join(first.parts + second.parts)
    assert joined in body
