"""The sync engine: one mapping's run from the warehouse diff to acknowledged deliveries.

Owns `SyncEngine.run` (begin → stream Arrow batches → events → messages → delivery → ack / fail
per batch → finish), previews and dry runs; what a run is given and reports lives in `spec`.
Payload errors and oversized messages fail only their record, with the reason; a cancelled run,
or one past its deadline, commits what was acknowledged and leaves the rest to the next run.

Must never: materialise the model in memory (it streams batches), acknowledge a record the
Tracking API did not acknowledge, send one change under two messageIds or two changes under one
(ids come from `ids.message_id` and each change's origin), or put the write key in a message, an
error or a record of a failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from segprof.errors import SegprofError
from segprof.sync.deliver.batching import Encoded
from segprof.sync.deliver.reports import DeliveryDeadline, DeliveryInterrupted
from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.failures import FailureLog
from segprof.sync.detect.ids import message_id
from segprof.sync.detect.runs import KINDS, MappingSpec, Run
from segprof.sync.inflight import Acks, InFlight
from segprof.sync.messages.actions import PayloadError
from segprof.sync.messages.arrow_events import events_from_batch
from segprof.sync.messages.payloads import MessageBuilder, check_message_size
from segprof.sync.messages.resolve import MappingError
from segprof.sync.messages.sql_messages import (
    MESSAGE_COLUMN,
    MESSAGE_ID_COLUMN,
    compile_message_sql,
    message_bytes,
)
from segprof.sync.spec import RunSummary, SyncJob, referenced_columns, triggers_of
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN, ORIGIN_COLUMN

if TYPE_CHECKING:
    import httpx

    from segprof.sync.deliver.delivery_config import DeliveryConfig
    from segprof.sync.deliver.reports import BatchReport
    from segprof.warehouses.base import Connector

_NOT_DELIVERED = "not delivered: the delivery was cancelled"
MAX_ERRORS = 20
ACK_SECONDS = 5.0
ACK_RECORDS = 100_000


ProgressCallback = Callable[[int, int, int], None]  # (delivered, failed, to send)


class SyncEngine:
    """Runs one `SyncJob` against one warehouse connection and one Tracking API."""

    def __init__(
        self,
        connector: Connector,
        job: SyncJob,
        *,
        batch_rows: int = 5_000,
        tracker_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.con = connector
        self.job = job
        self.batch_rows = batch_rows
        # Acknowledgements are written at most every `ack_seconds` or `ack_records` delivered
        # records, not per request: each costs a warehouse transaction. A crash in between resends
        # what was delivered since, under the same ids, and Segment drops the copies.
        self.ack_seconds = ACK_SECONDS
        self.ack_records = ACK_RECORDS
        columns, whole = referenced_columns(job.settings)
        columns = [c.name for c in connector.describe(job.model_sql)] if whole else self._present(columns)
        self.spec = MappingSpec(
            mapping_id=job.mapping_id,
            model_sql=job.model_sql,
            identifier=job.identifier,
            columns=tuple(columns),
            triggers=job.triggers,
            address=job.address,
        )
        self.tracker = ChangeTracker(connector, self.spec, **dict(tracker_options or {}))
        self.failures = FailureLog(connector)

        self.builder = MessageBuilder(job.action, job.without_secrets())

    def _present(self, names: Sequence[str]) -> list[str]:
        """Keep referenced names the model returns (a path into a missing column resolves to nothing)."""
        model = {c.name for c in self.con.describe(self.job.model_sql)}
        lowered = {n.lower() for n in model}
        return [n for n in names if n in model or n.lower() in lowered]

    # ---- messages -----------------------------------------------------------------------------

    def messages(
        self, batch: Any, identifier: str, *, check_size: bool = True
    ) -> Iterator[tuple[str, str, str, dict[str, Any] | None, str | None]]:
        """(record id, kind, messageId, message or None, reason it failed) for each row of a batch."""

        ids = batch.column(ID_COLUMN).to_pylist()
        checksums = batch.column(CHECKSUM_COLUMN).to_pylist()
        origins = batch.column(ORIGIN_COLUMN).to_pylist()
        events = events_from_batch(
            batch,
            identifier=identifier,
            kind_column=KIND_COLUMN,
            exclude=(ID_COLUMN, CHECKSUM_COLUMN, ORIGIN_COLUMN, MESSAGE_ID_COLUMN, MESSAGE_COLUMN),
        )
        for rid, checksum, origin, event in zip(ids, checksums, origins, events, strict=True):
            # the identifier as the warehouse gave it (text), as change detection keys it
            event["__segment_id"] = rid
            kind = event["event"]
            mid = message_id(self.job.mapping_id, rid, checksum, kind, origin)
            message: dict[str, Any] | None = None
            try:
                message = self.builder.build(event, mid)
                if check_size:
                    check_message_size(message, record_id=rid)
            except PayloadError as err:
                yield rid, kind, mid, message, f"{err.code}: {err.message}"
                continue
            except MappingError as err:
                yield rid, kind, mid, None, f"MAPPING_ERROR: {err.message}"
                continue
            yield rid, kind, mid, message, None

    # ---- runs ---------------------------------------------------------------------------------

    def preview(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The messages a run would send now (or `{"__error": reason, …}` for records that would fail).

        Without `messageId`: the run that first records a change fixes its id (see `ids`).
        """
        for batch in self.tracker.preview(limit, batch_rows=min(self.batch_rows, 1_000)):
            for rid, kind, _mid, message, reason in self.messages(batch, self._identifier_column()):
                if reason is None and message is not None:
                    message.pop("messageId", None)
                    yield message
                else:
                    yield {"__error": reason, "__segment_id": rid, "event": kind}

    def _identifier_column(self) -> str:
        cols = [c.name for c in self.con.describe(self.job.model_sql)]
        if self.job.identifier in cols:
            return self.job.identifier
        folded = [c for c in cols if c.lower() == self.job.identifier.lower()]
        return folded[0] if len(folded) == 1 else self.job.identifier

    def dry_run(self, samples: int = 3) -> RunSummary:
        """Counts and sample messages; nothing is sent or written."""
        started = time.monotonic()
        found = self.tracker.dry_run()
        summary = RunSummary(
            mapping_id=self.job.mapping_id,
            address=self.job.address,
            status="dry_run",
            extracted=found.extracted,
            new=found.counts.new,
            updated=found.counts.updated,
            deleted=found.counts.deleted,
            duplicates=found.keys.duplicate_rows,
            null_ids=found.keys.null_ids,
        )
        summary.skipped = sum(found.counts.of(k) for k in KINDS if k not in self.job.triggers)
        if not found.keys.clean:
            summary.errors.append(found.keys.describe())
        if samples:
            summary.samples = list(self.preview(samples))
        summary.duration = time.monotonic() - started
        return summary

    def run(
        self,
        config: DeliveryConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_mass_delete: bool = False,
        on_progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> RunSummary:
        """One run: diff, deliver, commit what was acknowledged. Raises only for a run that could
        not start (bad model, refused mass delete, lock held); everything after is in the summary.

        `deadline`: seconds the run may take. Past it the run stops as a cancelled one does (in-flight
        batches get their grace, unsent changes stay pending under their messageIds) and is recorded
        as failed with the deadline as its error. A warehouse statement under way is not interrupted:
        SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT bounds those."""

        started = time.monotonic()
        ends = started + deadline if deadline is not None else None
        expired = threading.Event()

        def past_deadline() -> bool:
            if ends is not None and time.monotonic() >= ends:
                expired.set()
            return expired.is_set()

        run = self.tracker.begin(allow_mass_delete=allow_mass_delete)
        errors: list[str] = []
        if not run.keys.clean:
            errors.append(run.keys.describe())
        inflight = InFlight()
        stopped = threading.Event()
        to_send = run.to_send

        def note_error(reason: str) -> None:
            if len(errors) < MAX_ERRORS and reason not in errors:
                errors.append(reason)

        def record_failures(failed: Sequence[tuple[str, str, str, dict[str, Any] | None, str]]) -> None:
            by_reason: dict[str, list[str]] = {}
            for rid, _kind, _mid, _msg, reason in failed:
                by_reason.setdefault(reason, []).append(rid)
            for reason, rids in by_reason.items():
                self.tracker.fail(run, rids, reason)
                note_error(reason)
            self.failures.record(run.run_id, self.job.mapping_id, failed)

        compiled = compile_message_sql(
            self.job.action,
            self.job.without_secrets(),
            run.model_columns,
            self.job.mapping_id,
            self.con.dialect,
        )
        extra = (
            [
                f"{compiled.message_id} AS {MESSAGE_ID_COLUMN}",
                f"{compiled.message(compiled.message_id)} AS {MESSAGE_COLUMN}",
            ]
            if compiled is not None
            else []
        )

        def built_in_sql(batch: Any) -> tuple[Encoded | None, Any]:
            """The messages the warehouse built, in bulk; and the rows it left NULL, for Python."""
            messages = batch.column(MESSAGE_COLUMN)
            rest = batch.slice(0, 0)
            if messages.null_count:
                rest = batch.filter(messages.is_null())
                batch = batch.filter(messages.is_valid())
                messages = batch.column(MESSAGE_COLUMN)
            if not batch.num_rows:
                return None, rest
            keys = batch.column(ID_COLUMN).to_pylist()
            inflight.add_built(keys, batch)
            return Encoded(keys, message_bytes(messages)), rest

        def items() -> Iterator[Encoded | tuple[str, dict[str, Any]]]:
            ident = run.identifier_column
            if past_deadline():  # the diff alone took the run's time: send nothing
                return
            for batch in self.tracker.stream(run, self.batch_rows, extra):
                if should_stop is not None and should_stop():
                    stopped.set()
                    return
                if past_deadline():
                    return
                if compiled is not None:
                    encoded, batch = built_in_sql(batch)
                    if encoded is not None:
                        yield encoded
                    if not batch.num_rows:
                        continue
                rejected = []
                checksums = batch.column(CHECKSUM_COLUMN).to_pylist()
                # the deliverer checks each message's size as it encodes it (once, fast)
                built = self.messages(batch, ident, check_size=False)
                for checksum, (rid, kind, mid, message, reason) in zip(checksums, built, strict=True):
                    if reason is not None:
                        rejected.append((rid, kind, mid, message, reason))
                        continue
                    inflight.add(rid, (kind, mid, checksum, message))
                    yield rid, message  # type: ignore[misc]
                if rejected:
                    record_failures(rejected)
                    if on_progress is not None:
                        on_progress(run.delivered, run.failed, to_send)

        duplicate_messages = 0

        acks = Acks()  # delivered, not yet written
        last_ack = time.monotonic()

        def write_acks() -> None:
            nonlocal last_ack
            if len(acks):
                self.tracker.ack_changes(run, acks.rows, acks.arrow())
                acks.clear()
            last_ack = time.monotonic()

        def on_report(report: BatchReport) -> None:
            nonlocal duplicate_messages
            duplicate_messages += report.duplicates
            inflight.delivered(report.delivered, acks)  # each change is acknowledged once
            if len(acks) >= self.ack_records or time.monotonic() - last_ack >= self.ack_seconds:
                write_acks()
            failed = []
            for failure in report.failed:
                rid = str(failure.key)
                if failure.reason.startswith(_NOT_DELIVERED):
                    continue  # stays pending: derived again (same messageId) by the next run
                kind, mid, _r, message = inflight.get(rid) or ("", failure.message_id or "", "", None)
                failed.append((rid, kind, mid, message, failure.reason))
            if failed:
                record_failures(failed)  # type: ignore[arg-type]
            inflight.drop([str(failure.key) for failure in report.failed])
            if on_progress is not None:
                on_progress(run.delivered + len(acks), run.failed, to_send)

        cancelled = False
        error: str | None = None
        source = items()
        try:
            if to_send:
                # here, not at the top: a run with nothing to send never loads the HTTP client
                from segprof.sync.deliver.blocking import deliver

                deliver(source, config, on_report, transport=transport, deadline=ends)
            else:  # nothing to send: no stream to read, no client to open (a no-change run's cost)
                past_deadline()
        except DeliveryDeadline:
            expired.set()
        except (KeyboardInterrupt, DeliveryInterrupted):
            cancelled = True
        except SegprofError as err:
            error = err.message
        except Exception as err:  # a broken warehouse stream or transport: record, keep the acks
            error = f"{type(err).__name__}: {err}"
        finally:
            # a stopped delivery leaves the stream part-read: end it, so its cursor is released now
            with contextlib.suppress(Exception):
                source.close()
        if stopped.is_set():
            cancelled = True
        if expired.is_set() and not cancelled and error is None:
            error = f"deadline of {deadline:g} s exceeded"
        try:
            write_acks()
        except KeyboardInterrupt:
            cancelled = True  # what stays unacknowledged is resent under the same ids next time
        finished = self._finish(run, error, cancelled)
        if error:
            note_error(error)
        summary = self._summary(finished, errors, time.monotonic() - started)
        summary.duplicate_messages = duplicate_messages
        return summary

    def _finish(self, run: Run, error: str | None, cancelled: bool) -> Run:
        try:
            return self.tracker.finish(run, error=error, cancelled=cancelled)
        except KeyboardInterrupt:
            # a second Ctrl-C while committing: the next run's begin folds the acks anyway
            return run

    def _summary(self, run: Run, errors: list[str], duration: float) -> RunSummary:
        return RunSummary(
            mapping_id=run.mapping_id,
            address=self.job.address,
            run_id=run.run_id,
            status=run.status,
            extracted=run.extracted,
            new=run.counts.new,
            updated=run.counts.updated,
            deleted=run.counts.deleted,
            delivered=run.delivered,
            failed=run.failed,
            skipped=run.skipped,
            remaining=run.remaining,
            duplicates=run.keys.duplicate_rows,
            null_ids=run.keys.null_ids,
            dropped=run.dropped,
            duration=duration,
            errors=errors,
        )


def record_failed_run(connector: Connector, job: SyncJob, error: str) -> str | None:
    """Record in the mapping's run history a run that failed before it began; its run id, or None
    when the warehouse cannot take the record either."""
    spec = MappingSpec(job.mapping_id, job.model_sql, job.identifier, (), job.triggers, job.address)
    try:
        return ChangeTracker(connector, spec).record_failed_run(error)
    except Exception:  # the warehouse itself is what failed: the error says so already
        return None


__all__ = ["RunSummary", "SyncEngine", "SyncJob", "record_failed_run", "referenced_columns", "triggers_of"]
