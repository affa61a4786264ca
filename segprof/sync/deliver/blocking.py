"""A delivery run to its end from blocking code (the command line, the sync engine).

Owns: `deliver`, which runs one delivery on a fresh event loop and stops it, with every batch
taken reported, on SIGINT, SIGTERM or its deadline, raising `DeliveryInterrupted` or
`DeliveryDeadline` (in `reports`, so callers can catch them without loading the HTTP client).

Must never: report a record acknowledged without the Tracking API's 2xx answer, or leave a batch
it took unreported when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable

import httpx

from segprof.sync.deliver.batching import Item
from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.deliver.reports import BatchReport, DeliveryDeadline, DeliveryInterrupted, DeliverySummary
from segprof.sync.deliver.tracking import Deliverer, DeliveryRun


def deliver(
    items: Iterable[Item],
    config: DeliveryConfig,
    on_report: Callable[[BatchReport], None] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    deadline: float | None = None,
) -> DeliverySummary:
    """Synchronous facade for the CLI: run a delivery on a fresh event loop.

    Ctrl-C (SIGINT) and SIGTERM cancel it: in-flight batches are reported acknowledged or not
    delivered, then KeyboardInterrupt (SIGINT) or DeliveryInterrupted (SIGTERM) is raised.
    `deadline` (a `time.monotonic()` instant) cancels it the same way, then raises DeliveryDeadline.
    """
    deliverer = Deliverer(config, transport=transport)
    summary_box: list[DeliverySummary] = []
    expired = threading.Event()

    async def main() -> DeliverySummary:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        watching = False
        if task is not None and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
                watching = True
        timer: asyncio.TimerHandle | None = None
        if task is not None and deadline is not None:

            def expire() -> None:
                expired.set()
                task.cancel()

            timer = loop.call_later(max(0.0, deadline - time.monotonic()), expire)
        try:
            run = DeliveryRun(deliverer, on_report)
            summary_box.append(run.summary)
            return await run.execute(items)
        finally:
            if timer is not None:
                timer.cancel()
            if watching:
                loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        summary = summary_box[0] if summary_box else DeliverySummary()
        if expired.is_set():
            raise DeliveryDeadline(
                f"delivery stopped at its deadline: {summary.delivered} records acknowledged, "
                f"{summary.failed} not delivered",
                hint="records not delivered are sent again by the next sync (same messageIds)",
            ) from None
        raise DeliveryInterrupted(
            f"delivery stopped by SIGTERM: {summary.delivered} records acknowledged, "
            f"{summary.failed} not delivered",
            hint="records not delivered are sent again by the next sync (same messageIds)",
        ) from None


__all__ = ["DeliveryDeadline", "DeliveryInterrupted", "deliver"]
