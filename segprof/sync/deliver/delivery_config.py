"""Where and how a delivery sends: the Tracking API endpoints and `DeliveryConfig`.

Owns: the Tracking API base of each destination region, the `/v1/batch` URL of a base, and
`DeliveryConfig` (the write key, concurrency, batch limits, gzip, retries, deadlines, pacing),
with its checks of what it is given.

Must never: send anything, or show the write key (it is kept out of the config's repr).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from segprof.errors import SegprofError
from segprof.sync.deliver.batching import BatchLimits, Encoder

TRACKING_BASES = {
    "north_america": "https://api.segment.io/v1",
    "europe": "https://events.eu1.segmentapis.com/v1",
}


def tracking_base_for_region(region: str) -> str:
    """The Tracking API base (with `/v1`) for a destination region."""
    try:
        return TRACKING_BASES[region]
    except KeyError:
        raise SegprofError(
            f"unknown region {region!r}", hint=f"use one of: {', '.join(sorted(TRACKING_BASES))}"
        ) from None


def batch_url(tracking_base: str) -> str:
    """`<base>/batch` when the base already ends in `/v1` (as Segment writes it), else `<base>/v1/batch`."""
    base = tracking_base.rstrip("/")
    return f"{base}/batch" if base.endswith("/v1") else f"{base}/v1/batch"


@dataclass(frozen=True)
class DeliveryConfig:
    """How to deliver. Times are seconds. The write key is kept out of the repr."""

    write_key: str = field(repr=False)
    tracking_base: str = TRACKING_BASES["north_america"]
    concurrency: int = 6
    max_batch_bytes: int = 475_000
    max_batch_count: int = 2_500
    max_message_bytes: int = 32 * 1024
    # None: compress unless the endpoint is on this machine. Over a real network a 475 KB body
    # shrinks 5-10x for ~1-2 ms of CPU, which pays below ~1 Gbit/s; on loopback it only costs.
    gzip: bool | None = None
    gzip_min_bytes: int = 8_192
    gzip_level: int = 1
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    batch_deadline: float = 90.0
    request_timeout: float = 15.0
    max_rps: float | None = 1_000.0
    cancel_grace: float = 5.0
    user_agent: str = "segprof"
    # How a message given as a mapping becomes JSON bytes; None: orjson (stdlib as a fallback).
    encoder: Encoder | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.write_key:
            raise SegprofError(
                "no write key for the Tracking API",
                hint="set the destination's write_key (the Profile Space source's write key)",
            )
        if not self.tracking_base.startswith(("https://", "http://")):
            raise SegprofError(
                f"the Tracking API base {self.tracking_base!r} is not an http(s) URL",
                hint="e.g. https://api.segment.io/v1 or https://events.eu1.segmentapis.com/v1",
            )
        if self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")

    @property
    def compress(self) -> bool:
        """Whether bodies of at least `gzip_min_bytes` are sent gzip-compressed."""
        return self.gzip if self.gzip is not None else not _is_local(self.tracking_base)

    @property
    def limits(self) -> BatchLimits:
        return BatchLimits(self.max_batch_bytes, self.max_batch_count, self.max_message_bytes)


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
