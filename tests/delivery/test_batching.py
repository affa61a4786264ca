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
    Encoded,
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


def finished(i: int, size: int = 0) -> bytes:
    """A message already encoded, as the warehouse builds it."""
    return encode_message(message(i, size))


def test_encoded_runs_pack_in_order_within_both_limits_and_mix_with_dicts() -> None:
    limits = BatchLimits(max_batch_bytes=20_000, max_batch_count=50, max_message_bytes=4_000)
    rng = random.Random(7)
    items: list[Any] = []
    expected: list[str] = []
    i = 0
    for _ in range(40):
        if rng.random() < 0.5:
            n = rng.randrange(1, 120)
            keys = list(range(i, i + n))
            items.append(Encoded(keys, [finished(k, rng.randrange(0, 600)) for k in keys]))
        else:
            n = rng.randrange(1, 30)
            items += [(k, message(k, rng.randrange(0, 600))) for k in range(i, i + n)]
        expected += [f"m-{k}" for k in range(i, i + n)]
        i += n
    entries = list(pack(items, limits))
    assert not [e for e in entries if isinstance(e, Rejection)]
    for batch in entries:
        assert isinstance(batch, Batch)
        body = batch.body(SENT_AT)
        assert len(body) == batch.body_bytes <= limits.max_batch_bytes
        assert len(batch) <= limits.max_batch_count
        assert [m["messageId"] for m in json.loads(body)["batch"]] == [f"m-{k}" for k in batch.keys]
    assert [m["messageId"] for b in bodies(entries) for m in b["batch"]] == expected
    # a batch is closed only when the next message would not fit
    sizes = [len(b) for b in entries]
    assert all(
        s == limits.max_batch_count or b.body_bytes > limits.max_batch_bytes - 4_000 - 1
        for s, b in zip(sizes[:-1], entries[:-1], strict=True)
    )


def test_an_oversized_message_in_an_encoded_run_is_rejected_alone() -> None:
    limits = BatchLimits(max_batch_bytes=20_000, max_batch_count=10, max_message_bytes=2_000)
    parts = [finished(0), finished(1, 5_000), finished(2), finished(3)]
    entries = list(pack([Encoded([0, 1, 2, 3], parts)], limits))
    rejected = [e for e in entries if isinstance(e, Rejection)]
    assert [r.key for r in rejected] == [1]
    assert "over the Tracking API's limit of 2,000 bytes" in rejected[0].reason
    assert [k for e in entries if isinstance(e, Batch) for k in e.keys] == [0, 2, 3]


def test_split_of_an_encoded_batch_keeps_each_message_bytes() -> None:
    parts = [finished(i, 30) for i in range(7)]
    (batch,) = list(pack([Encoded(list(range(7)), parts)]))
    first, second = batch.split()
    assert first.parts + second.parts == parts
    assert json.loads(first.body(SENT_AT))["batch"] + json.loads(second.body(SENT_AT))["batch"] == [
        json.loads(p) for p in parts
    ]


def test_pack_reads_no_further_ahead_than_one_encoded_run() -> None:
    """Each run can be thousands of rows held in memory: the packer must not read runs ahead."""
    read: list[int] = []

    def runs():
        for r in range(6):
            read.append(r)
            keys = list(range(r * 1000, (r + 1) * 1000))
            yield Encoded(keys, [finished(k) for k in keys])

    limits = BatchLimits(max_batch_count=1000)
    for batch in pack(runs(), limits):
        # a full batch of run r comes out before run r + 2 is read
        assert max(read) <= batch.keys[0] // 1000 + 1
