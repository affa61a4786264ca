"""What a delivery reports: per batch as it happens, and in total at the end.

Owns: `BatchReport` (the records a request acknowledged or failed, and why), `Failure`,
`DeliverySummary`, the report callback's type, and the errors that say a delivery was stopped.

Must never: hold a message or the write key: reports name records by their keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from segprof.errors import SegprofError


@dataclass(frozen=True, slots=True)
class Failure:
    """A record whose message was not delivered, and why."""

    key: Any
    message_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class BatchReport:
    """The outcome of one request's messages (or of messages rejected before sending).

    `delivered` holds the keys the Tracking API acknowledged, in input order.
    """

    delivered: tuple[Any, ...] = ()
    failed: tuple[Failure, ...] = ()
    requests: int = 0
    # of the delivered, how many the endpoint said it dropped as duplicates (segprof's emulator
    # says so in a header; Segment does not, and its answer is read as 0)
    duplicates: int = 0


@dataclass
class DeliverySummary:
    """Totals of one delivery."""

    delivered: int = 0
    failed: int = 0
    batches: int = 0
    requests: int = 0
    retries: int = 0
    bytes_sent: int = 0
    elapsed: float = 0.0
    cancelled: bool = False
    duplicates: int = 0  # delivered messages the endpoint said it dropped as duplicates
    failures_by_reason: dict[str, int] = field(default_factory=dict)


ReportCallback = Callable[[BatchReport], Awaitable[None] | None]


class DeliveryInterrupted(SegprofError):
    """The delivery was stopped by a signal; every batch taken was reported before this."""


class DeliveryDeadline(DeliveryInterrupted):
    """The delivery was stopped at its deadline; every batch taken was reported before this."""
