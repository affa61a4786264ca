"""Delivery of built messages to the Segment Tracking API (`POST <base>/v1/batch`).

Owns: the HTTP side of a sync — bounded concurrency over HTTP/1.1 keep-alive, gzip, pacing,
retries (full-jitter exponential backoff, `Retry-After` / `X-RateLimit-Reset`, a per-batch
deadline), isolating the messages a 400 blames by splitting the batch, and reporting per batch,
as it happens, which records were acknowledged and which failed and why. Cancellation reports
every in-flight batch either acknowledged (it was) or not delivered. What it is told is in
`delivery_config`, what it reports in `reports`; `blocking.deliver` runs it from blocking code.

Must never: report a record acknowledged without a 2xx answer to a request that carried it; log,
print or put into a reason the write key; build or change messages (payloads are built upstream
and sent byte for byte); commit warehouse state (the caller does that from the reports).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import logging
import random
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from functools import cache
from typing import Any

import httpx

from segprof.redaction import redact
from segprof.sync.deliver.answers import duplicates_dropped, parse_wait, phrase
from segprof.sync.deliver.batching import Batch, Item, Rejection, pack, sent_at
from segprof.sync.deliver.delivery_config import DeliveryConfig, batch_url
from segprof.sync.deliver.reports import BatchReport, DeliverySummary, Failure, ReportCallback

log = logging.getLogger("segprof.tracking")

# Answers that concern the whole destination, not one batch: stop sending after the first.
_FATAL_STATUSES = frozenset({401, 403, 404})
# Answers whose body blames the content of the batch: split to find the message(s) at fault.
_SPLIT_STATUSES = frozenset({400, 413})
_NOT_DELIVERED = "not delivered: the delivery was cancelled before the Tracking API acknowledged it"


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; `wait` is what the server asked for, if anything."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class _Stopping(Exception):
    """The delivery is being cancelled; the batch at hand is not delivered."""


class Deliverer:
    """Delivers message streams to one Tracking API endpoint with one write key.

    `transport` replaces the network (an in-process emulator, a test transport); everything
    above it is the same.
    """

    def __init__(
        self,
        config: DeliveryConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._rng = rng or random.Random()
        self._url = batch_url(config.tracking_base)

    # ---- public API -------------------------------------------------------------------------

    async def deliver(
        self, items: Iterable[Item], on_report: ReportCallback | None = None
    ) -> DeliverySummary:
        """Deliver every message; call `on_report` once per batch as its outcome is known.

        Reports are made one at a time (never concurrently), each as soon as its batch is
        acknowledged or has definitely failed, so in completion order; messages rejected before
        sending (over 32 KB, no messageId) are reported at once, one report each. Every message
        taken from `items` ends in exactly one report. If the task running this is cancelled, in-flight
        requests get `cancel_grace` seconds to be answered, every batch taken from `items` but
        not acknowledged is reported as failed ("not delivered"), and CancelledError propagates.
        """
        run = DeliveryRun(self, on_report)
        return await run.execute(items)

    async def reports(self, items: Iterable[Item]) -> AsyncIterator[BatchReport]:
        """The same delivery as an async iterator of reports.

        Closing the iterator early cancels the delivery; reports produced while it winds down are
        not yielded (those batches were either acknowledged or are reported failed nowhere, so a
        caller that commits only what it saw acknowledged stays correct).
        """
        queue: asyncio.Queue[BatchReport | None] = asyncio.Queue()

        async def collect(report: BatchReport) -> None:
            await queue.put(report)

        async def drive() -> DeliverySummary:
            try:
                return await self.deliver(items, collect)
            finally:
                await queue.put(None)

        task = asyncio.create_task(drive())
        try:
            while (report := await queue.get()) is not None:
                yield report
            await task  # re-raises an error from the input iterable or the engine
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ---- internals used by DeliveryRun -------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        config = self.config
        token = base64.b64encode(f"{config.write_key}:".encode()).decode("ascii")
        return httpx.AsyncClient(
            http1=True,
            http2=False,
            transport=self._transport,
            limits=httpx.Limits(
                max_connections=config.concurrency, max_keepalive_connections=config.concurrency
            ),
            timeout=httpx.Timeout(config.request_timeout),
            headers={
                "Authorization": f"Basic {token}",
                "Content-Type": "application/json",
                "User-Agent": config.user_agent,
            },
            follow_redirects=False,
            trust_env=False,
            # A plain-HTTP endpoint (the embedded workspace, a loopback emulator) never negotiates
            # TLS, and redirects are not followed: it needs no CA bundle (~0.1 s to load).
            verify=_tls_context() if self._url.startswith("https://") else False,
        )


class DeliveryRun:
    """State of one `Deliverer.deliver` call: the queue, the workers, the shared pacing."""

    def __init__(self, deliverer: Deliverer, on_report: ReportCallback | None) -> None:
        self.d = deliverer
        self.config = deliverer.config
        self.on_report = on_report
        self.summary = DeliverySummary()
        self.stop = asyncio.Event()
        self.report_lock = asyncio.Lock()
        self.queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=self.config.concurrency)
        self.resume_at = 0.0  # monotonic time before which nobody sends (after a 429)
        self.next_slot = 0.0  # pacing for max_rps
        self.fatal: str | None = None
        self.crash: Exception | None = None
        self.producer: asyncio.Task[None] | None = None
        self.client: httpx.AsyncClient | None = None
        self.compress = self.config.compress

    async def execute(self, items: Iterable[Item]) -> DeliverySummary:
        started = time.monotonic()
        config = self.config
        async with self.d._client() as client:
            self.client = client
            workers = [asyncio.create_task(self.worker()) for _ in range(config.concurrency)]
            producer = self.producer = asyncio.create_task(self.produce(items))
            try:
                # asyncio.wait, not await/gather: a cancel of this task must not reach the
                # workers before wind_down has given in-flight requests their grace.
                await asyncio.wait([producer])
                failure = None if producer.cancelled() else producer.exception()
                for _ in workers:
                    await self.queue.put(None)
                await asyncio.wait(workers)
                if self.crash is not None:
                    raise self.crash
                if failure is not None:
                    # The input failed: what was already batched has been delivered; surface it.
                    raise failure
            except asyncio.CancelledError:
                self.summary.cancelled = True
                await self.wind_down(producer, workers)
                raise
            finally:
                self.summary.elapsed = time.monotonic() - started
        return self.summary

    async def wind_down(self, producer: asyncio.Task[None], workers: list[asyncio.Task[None]]) -> None:
        """After a cancel: stop taking batches, give in-flight requests a grace, report the rest."""
        self.stop.set()
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        # Idle workers wait on the queue: end markers let them go; busy ones get the grace.
        deadline = time.monotonic() + self.config.cancel_grace
        while (pending := [w for w in workers if not w.done()]) and time.monotonic() < deadline:
            for _ in pending:
                if self.queue.full():
                    break
                self.queue.put_nowait(None)
            await asyncio.wait(pending, timeout=min(0.05, max(deadline - time.monotonic(), 0)))
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        while not self.queue.empty():
            batch = self.queue.get_nowait()
            if batch is not None:
                await self.report_failed(batch, _NOT_DELIVERED, requests=0)

    async def produce(self, items: Iterable[Item]) -> None:
        for entry in pack(items, self.config.limits, self.config.encoder):
            if isinstance(entry, Rejection):
                await self.emit(BatchReport(failed=(Failure(entry.key, entry.message_id, entry.reason),)))
            else:
                try:
                    await self.queue.put(entry)
                    # Packing is CPU work on the loop; let responses and socket writes through
                    # between batches, or a free queue slot would keep the loop busy packing.
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    await self.report_failed(entry, _NOT_DELIVERED, requests=0)
                    raise

    async def worker(self) -> None:
        # Keeps draining the queue even when stopping, so the producer and the end-of-input
        # markers never wait on a full queue; each batch then is reported not delivered.
        while (batch := await self.queue.get()) is not None:
            self.summary.batches += 1
            pending = [batch]
            try:
                while pending:
                    await self.send(pending, pending[0])
            except _Stopping:
                for part in pending:
                    await self.report_failed(part, _NOT_DELIVERED, requests=0)
            except asyncio.CancelledError:
                for part in pending:
                    await self.report_failed(part, _NOT_DELIVERED, requests=0)
                raise
            except Exception as exc:
                # Most likely the caller's report callback failed: stop, and say so afterwards.
                if self.crash is None:
                    self.crash = exc
                self.stop.set()
                if self.producer is not None:
                    self.producer.cancel()

    async def send(self, pending: list[Batch], batch: Batch) -> None:
        """Deliver `batch` (the head of `pending`) and report it; a 400 replaces it by its halves."""
        config = self.config
        deadline = time.monotonic() + config.batch_deadline
        attempts = 0
        last = ""
        while True:
            if self.fatal is not None:
                pending.pop(0)
                await self.report_failed(batch, self.fatal, requests=attempts)
                return
            if self.stop.is_set():
                raise _Stopping
            await self.wait_turn(deadline)
            if time.monotonic() >= deadline:
                pending.pop(0)
                reason = f"not delivered within the {config.batch_deadline:g} s batch deadline"
                await self.report_failed(batch, f"{reason} ({attempts} attempts; last: {last})", attempts)
                return
            attempts += 1
            try:
                status, text, duplicates = await self.post(batch, deadline)
            except _Retryable as exc:
                last = exc.reason
                if attempts >= config.max_attempts:
                    pending.pop(0)
                    reason = f"not delivered after {attempts} attempts: {last}"
                    await self.report_failed(batch, reason, attempts)
                    return
                give_up = await self.back_off(attempts, exc.wait, deadline)
                if give_up is not None:
                    pending.pop(0)
                    await self.report_failed(batch, f"not delivered: {last}; {give_up}", attempts)
                    return
                self.summary.retries += 1
                continue
            pending.pop(0)
            if 200 <= status < 300:
                await self.emit(
                    BatchReport(delivered=tuple(batch.keys), requests=attempts, duplicates=duplicates)
                )
            elif status in _SPLIT_STATUSES and len(batch) > 1:
                # The whole request was refused for its content: retry each half on its own so
                # only the message(s) at fault fail.
                pending[:0] = batch.split()
            else:
                reason = f"rejected by the Tracking API: HTTP {status}" + (f": {text}" if text else "")
                if status in _FATAL_STATUSES:
                    self.fatal = reason
                await self.report_failed(batch, reason, attempts)
            return

    async def post(self, batch: Batch, deadline: float) -> tuple[int, str, int]:
        """One attempt. Returns (status, error text, messages dropped as duplicates) for a final
        answer; raises _Retryable."""
        config = self.config
        body = batch.body(sent_at())
        headers = None
        if self.compress and len(body) >= config.gzip_min_bytes:
            compressor = zlib.compressobj(config.gzip_level, zlib.DEFLATED, 31)
            body = compressor.compress(body) + compressor.flush()
            headers = {"Content-Encoding": "gzip"}
        remaining = max(deadline - time.monotonic(), 0.001)
        timeout = min(config.request_timeout, remaining)
        # Only a request that would outlive the batch deadline gets a shorter timeout.
        request_timeout: Any = httpx.USE_CLIENT_DEFAULT
        if timeout < config.request_timeout:
            request_timeout = httpx.Timeout(timeout)
        assert self.client is not None
        self.summary.requests += 1
        self.summary.bytes_sent += len(body)
        try:
            # httpx's timeouts bound each read, so a server that trickles a byte at a time would
            # hold the request forever: the whole exchange gets the same bound
            async with asyncio.timeout(timeout):
                response = await self.client.post(
                    self.d._url, content=body, headers=headers, timeout=request_timeout
                )
        except (httpx.TimeoutException, TimeoutError):
            raise _Retryable(f"timed out after {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        status = response.status_code
        # `--verbose` / SEGPROF_LOG=debug: no header is logged (the write key is in one)
        log.debug(
            "Tracking API POST %s -> %s (%.0f ms, sent %d B, received %d B)",
            response.request.url.path,
            status,
            response.elapsed.total_seconds() * 1000,
            len(body),
            len(response.content),
        )
        if status == 429 or status >= 500 or status == 408:
            wait = parse_wait(response.headers)
            if wait is not None and status == 429:
                # A rate limit applies to the whole workspace: everyone pauses.
                self.resume_at = max(self.resume_at, time.monotonic() + wait)
            raise _Retryable(f"HTTP {status}{phrase(response)}", wait)
        if 200 <= status < 300:
            return status, "", duplicates_dropped(response.headers)
        return status, self.error_text(response), 0

    def error_text(self, response: httpx.Response) -> str:
        """Segment's own words for a refusal, short and without the write key."""
        text = response.text.strip()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            parts = [str(data[k]) for k in ("code", "message", "error") if data.get(k)]
            if parts:
                text = ": ".join(parts)
        # Scrub before shortening: a cut must not leave part of the key (or its base64) behind.
        text = redact(" ".join(text.split()), [self.config.write_key])
        if len(text) > 300:
            text = text[:297] + "..."
        return text or response.reason_phrase

    async def wait_turn(self, deadline: float) -> None:
        """Wait out a server-requested pause and the request pacing, unless stopping."""
        now = time.monotonic()
        until = self.resume_at
        rps = self.config.max_rps
        if rps:
            slot = max(now, self.next_slot)
            self.next_slot = slot + 1.0 / rps
            until = max(until, slot)
        if until > now:
            await self.sleep(min(until, deadline) - now)

    async def back_off(self, attempt: int, asked: float | None, deadline: float) -> str | None:
        """Wait before the next attempt; returns why not to retry, if the wait passes the deadline.

        Full-jitter exponential backoff, or exactly what the server asked for (never less).
        """
        config = self.config
        remaining = deadline - time.monotonic()
        if asked is not None:
            if asked > remaining:
                return f"the Tracking API asked to retry after {asked:g} s, past the batch deadline"
            delay = asked
        else:
            cap = min(config.backoff_cap, config.backoff_base * 2 ** (attempt - 1))
            delay = min(self.d._rng.uniform(0, cap), max(remaining, 0.0))
        await self.sleep(delay)
        return None

    async def sleep(self, delay: float) -> None:
        """Sleep, but wake at once (and raise _Stopping) when the delivery is being cancelled."""
        if delay <= 0:
            return
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
        except TimeoutError:
            return
        raise _Stopping

    async def report_failed(self, batch: Batch, reason: str, requests: int) -> None:
        failed = tuple(Failure(k, m, reason) for k, m in zip(batch.keys, batch.message_ids, strict=True))
        await self.emit(BatchReport(failed=failed, requests=requests))

    async def emit(self, report: BatchReport) -> None:
        summary = self.summary
        summary.delivered += len(report.delivered)
        summary.duplicates += report.duplicates
        summary.failed += len(report.failed)
        for failure in report.failed:
            summary.failures_by_reason[failure.reason] = summary.failures_by_reason.get(failure.reason, 0) + 1
        if self.on_report is None or self.crash is not None:
            return
        try:
            await self.report_lock.acquire()
        except asyncio.CancelledError:
            # Cancelled before the caller heard of this outcome: tell it anyway, then stop,
            # so no batch taken from the input goes unreported.
            await self.report_lock.acquire()
            try:
                await self.call(report)
            finally:
                self.report_lock.release()
            raise
        try:
            await self.call(report)
        finally:
            self.report_lock.release()

    async def call(self, report: BatchReport) -> None:
        assert self.on_report is not None
        result = self.on_report(report)
        if inspect.isawaitable(result):
            await result


@cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~0.1 s; one context serves every delivery in the process.
    return httpx.create_ssl_context()
