"""Delivery into segprof's own emulated Tracking API, in-process through httpx's ASGI transport.

Runs once the emulator package is present (it is built on another branch); skipped otherwise.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from segprof.sync.deliver.blocking import deliver
from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.deliver.reports import BatchReport

emulator_app = pytest.importorskip("segprof.emulator.app")

KEY = "wk_emulated_0123456789"


def identify(i: int, pad: int = 0) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"user-{i}",
        "traits": {"email": f"user{i}@example.com", "pad": "x" * pad},
        "integrations": {"All": False},
        "context": {"consent": {}},
        "messageId": f"segprof-emu-{i:06d}",
    }


def outcomes(app: Any) -> Counter[str]:
    """The emulator's verdict on every message it received (accepted, duplicate, rejected)."""

    async def read() -> Counter[str]:
        seen: Counter[str] = Counter()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator.local") as client:
            after = 0
            while True:
                answer = await client.get("/emulator/v1/messages", params={"after": after, "limit": 1000})
                data = answer.json()["data"]
                seen.update(m["outcome"] for m in data["messages"])
                if not data["pagination"]["next"]:
                    return seen
                after = data["after"]

    return asyncio.run(read())


def test_delivery_into_the_emulated_tracking_api(tmp_path: Path) -> None:
    app = emulator_app.create_app(tmp_path, write_key=KEY)
    items = [(i, identify(i)) for i in range(3_000)]
    items[1_500] = (1_500, identify(1_500, pad=40_000))  # over 32 KB: never sent
    config = DeliveryConfig(write_key=KEY, tracking_base="http://emulator.local/v1", max_rps=None)

    reports: list[BatchReport] = []
    summary = deliver(items, config, reports.append, transport=httpx.ASGITransport(app=app))
    assert summary.delivered == 2_999 and summary.failed == 1
    assert [f.key for r in reports for f in r.failed] == [1_500]
    assert outcomes(app) == {"accepted": 2_999}

    # A resend (after a crash, say) carries the same messageIds: the API drops every copy.
    again = deliver(items, config, transport=httpx.ASGITransport(app=app))
    assert again.delivered == 2_999
    assert outcomes(app) == {"accepted": 2_999, "duplicate": 2_999}


def test_wrong_write_key_fails_every_record_once(tmp_path: Path) -> None:
    app = emulator_app.create_app(tmp_path, write_key=KEY)
    config = DeliveryConfig(
        write_key="wk_wrong_key", tracking_base="http://emulator.local/v1", max_batch_count=10, max_rps=None
    )
    reports: list[BatchReport] = []
    summary = deliver(
        [(i, identify(i)) for i in range(50)], config, reports.append, transport=httpx.ASGITransport(app=app)
    )
    assert summary.delivered == 0 and summary.failed == 50 and summary.requests == 1
    assert all("HTTP 401" in f.reason and "wk_wrong_key" not in f.reason for r in reports for f in r.failed)
