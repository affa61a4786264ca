"""`plan --preview N`: how the messages of each changed mapping change, shown on real records.

Owns: for each mapping change (create, update, adopt with update, replace), reading N sample
records of its model (ordered by identifier, `LIMIT N`, streamed), running each through the old
settings (the live subscription's) and the new ones (the config's) with the sync engine's
`MessageBuilder`, and the leaf-by-leaf difference of the two messages; and the number of records
the next sync would send, from the change tracker's read-only count. The result is attached to the
plan's `ResourceChange`s as `MappingPreview` values that the renderers read.

Must never: write to a warehouse (connections are opened read-only, and only SELECTs run — no
managed schema is created), send anything, fail the plan (a warehouse that cannot be read makes
the preview unavailable, with the reason), put a write key or any other secret in a preview, or
change what apply does (the plan's fingerprints and actions are left as they are).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprof.config.models import Project
from segprof.errors import SegprofError
from segprof.plan.message_diff import diff_messages, same_json
from segprof.plan.model import (
    SENSITIVE,
    Action,
    MappingPreview,
    Plan,
    RecordPreview,
    ResourceChange,
    SendCount,
)
from segprof.project.resources import DesiredResource, Kind, LiveIndex
from segprof.project.sources import connection_settings
from segprof.sync.detect.checksum import quote
from segprof.sync.engine import SyncEngine
from segprof.sync.messages.actions import PayloadError
from segprof.sync.messages.arrow_events import events_from_batch
from segprof.sync.messages.payloads import MessageBuilder, check_message_size
from segprof.sync.messages.resolve import MappingError
from segprof.sync.spec import SyncJob, triggers_of
from segprof.warehouses import connect
from segprof.warehouses.base import as_subquery
from segprof.warehouses.dialects import to_dialect

MAX_SAMPLE = 100  # `--preview N` is for reading, not for exporting the model
MAX_CHANGES_PER_RECORD = 50
SAMPLE_EVENT = "new"  # samples are resolved as the event a first sync of the record would be

_PREVIEWED = (Action.create, Action.update, Action.adopt, Action.replace)
_MODEL = "__segprof_model__"  # placeholder for the model's SQL, put in after translation


@dataclass
class PreviewOptions:
    sample_size: int
    secrets: list[str] = field(default_factory=list)  # values to hide wherever they would appear


def project_secrets(project: Project) -> list[str]:
    """Every secret value of the project (write keys, warehouse passwords and tokens, API token)."""
    found: list[str] = []
    candidates: list[Any] = [project.workspace.token]
    candidates.extend(d.write_key for d in project.destinations.values())
    for source in project.sources.values():
        candidates.extend(getattr(source, key, None) for key in ("password", "token"))
    for secret in candidates:
        value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else None
        if isinstance(value, str) and value:
            found.append(value)
    return found


def attach_previews(
    plan: Plan,
    project: Project,
    project_dir: Path,
    desired: list[DesiredResource],
    live: LiveIndex,
    options: PreviewOptions,
    dbt_queries: dict[str, tuple[str, str, str]] | None = None,
) -> None:
    """Give every previewable mapping change of `plan` its `MappingPreview` (in place).

    `dbt_queries` (model address → production's query, identifier, this change's query) are the
    dbt models a change rebuilt: their mappings are shown on production's records (before) and
    the records the change built (after), whether or not their settings change."""
    if options.sample_size < 1:
        raise SegprofError("--preview takes a number of sample records of at least 1")
    by_address = {d.address: d for d in desired}
    queries = _changed_queries(plan, live)
    built: dict[str, str] = {}
    for address, (old_sql, identifier, new_sql) in (dbt_queries or {}).items():
        queries[address] = _OldQuery(sql=old_sql, identifier=identifier)
        built[address] = new_sql
    changes = [c for c in plan.changes if _previewable(c) or _model_changes(c, by_address, queries)]
    if not changes:
        return
    sources = _Sources(project, project_dir)
    try:
        for change in changes:
            d = by_address[change.address]
            old_query = queries.get(_model_address(d))
            new_sql = built.get(_model_address(d))
            change.preview = _preview_one(change, d, project, live, sources, options, old_query, new_sql)
    finally:
        sources.close()
    secrets = [s for s in options.secrets if s]
    for change in changes:
        if change.preview is not None and secrets:
            change.preview = _scrubbed(change.preview, secrets)


def _previewable(change: ResourceChange) -> bool:
    if change.kind is not Kind.mapping or change.action not in _PREVIEWED:
        return False
    return change.action is not Action.adopt or change.also_update


@dataclass(frozen=True)
class _OldQuery:
    """A model's live query and identifier, which an update of the model replaces."""

    sql: str
    identifier: str


def _changed_queries(plan: Plan, live: LiveIndex) -> dict[str, _OldQuery]:
    """model address → its live query, for each model whose query or identifier this plan updates."""
    found: dict[str, _OldQuery] = {}
    for change in plan.changes:
        if change.kind is not Kind.model or change.action not in (Action.update, Action.adopt):
            continue
        paths = {fc.path for fc in change.changes}
        if not paths & {"query", "queryIdentifierColumn"} or not change.live_id:
            continue
        model = live.get(Kind.model, change.live_id)
        if model is None:
            continue
        found[change.address] = _OldQuery(
            sql=str(model.attributes.get("query") or ""),
            identifier=str(model.attributes.get("queryIdentifierColumn") or ""),
        )
    return found


def _model_address(d: DesiredResource) -> str:
    return next((a for a in d.depends_on if a.startswith("model.")), "")


def _model_changes(
    change: ResourceChange, desired: dict[str, DesiredResource], queries: dict[str, _OldQuery]
) -> bool:
    """A mapping left as it is whose model's query changes: its payloads change all the same."""
    if change.kind is not Kind.mapping or change.action is not Action.noop:
        return False
    return _model_address(desired[change.address]) in queries


# ---- warehouse connections --------------------------------------------------------------------


class _Sources:
    """One read-only connection per source, opened on first use; a failure is remembered."""

    def __init__(self, project: Project, project_dir: Path) -> None:
        self.project = project
        self.project_dir = project_dir
        self._open: dict[str, Any] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> Any:
        if name in self._failed:
            raise SegprofError(self._failed[name])
        if name not in self._open:
            try:
                self._open[name] = self._connect(name)
            except SegprofError as err:
                self._failed[name] = err.message
                raise
            except Exception as err:  # a driver error not wrapped by the connector
                self._failed[name] = f"{type(err).__name__}: {err}"
                raise SegprofError(self._failed[name]) from None
        return self._open[name]

    def _connect(self, name: str) -> Any:

        source = self.project.sources.get(name)
        if source is None:
            raise SegprofError(f"the project has no source {name!r}")
        settings = {**connection_settings(source), "read_only": True}
        return connect(source.type, settings, self.project_dir, address=f"source.{name}")  # type: ignore[attr-defined]

    def close(self) -> None:
        for con in self._open.values():
            con.close()
        self._open.clear()


# ---- one mapping --------------------------------------------------------------------------------


def _preview_one(
    change: ResourceChange,
    desired: DesiredResource,
    project: Project,
    live: LiveIndex,
    sources: _Sources,
    options: PreviewOptions,
    old_query: _OldQuery | None = None,
    new_sql: str | None = None,
) -> MappingPreview:

    n = min(options.sample_size, MAX_SAMPLE)
    preview = MappingPreview(sample_size=n, event=SAMPLE_EVENT, model_changed=old_query is not None)
    name = change.address.removeprefix("mapping.")
    mapping = project.mappings[name]
    model = project.models[mapping.model]
    attributes = desired.attributes
    new_settings = _without_write_key(attributes.get("settings") or {})
    new_action = str(attributes.get("actionSlug") or mapping.action)
    old = live.get(Kind.mapping, change.live_id) if change.live_id else None
    old_attributes = old.attributes if old is not None else None
    preview.has_before = old_attributes is not None

    try:
        con = sources.get(model.source_name or "")
        job = SyncJob(
            # the bookkeeping key the next sync uses: the live subscription once applied
            mapping_id=change.live_id or change.address,
            action=new_action,
            settings=new_settings,
            triggers=triggers_of(str(attributes.get("trigger") or "")),
            model_sql=new_sql or (model.sql.text if model.sql else (model.query or "")),
            identifier=model.identifier,
            address=change.address,
        )
        engine = SyncEngine(con, job)
        ident = _identifier_column(con, job.model_sql, job.identifier)
        preview.order_by = ident
        new_side = _Side.of(new_action, new_settings, check_size=True)
        old_side = None
        if old_attributes is not None:
            old_side = _Side.of(
                str(old_attributes.get("actionSlug") or ""),
                _without_write_key(old_attributes.get("settings") or {}),
                check_size=False,
            )
        events = list(_sample_events(con, job.model_sql, ident, n))
        old_events: dict[str, dict[str, Any]] | None = None
        if old_query is not None and old_side is not None:
            try:
                old_events = _events_by_id(con, old_query, [str(e["__segment_id"]) for e in events])
            except Exception as err:  # the live query no longer runs: say so on the old side
                reason = err.message if isinstance(err, SegprofError) else f"{type(err).__name__}: {err}"
                old_side = _Side(error=f"the live model's query cannot run: {reason}")
        for event in events:
            before_event = event
            if old_events is not None:
                before_event = old_events.get(str(event["__segment_id"]))
            preview.records.append(_record(event, old_side, new_side, before_event))
        preview.send_count = _send_count(
            change, old_attributes, engine, project, mapping.self_hosted, model_changed=old_query is not None
        )
    except SegprofError as err:
        preview.available = False
        preview.reason = err.message
        preview.records = []
        preview.send_count = None
    except Exception as err:  # a driver error the connector did not wrap: still no traceback
        preview.available = False
        preview.reason = f"{type(err).__name__}: {err}"
        preview.records = []
        preview.send_count = None
    return preview


def _identifier_column(con: Any, model_sql: str, identifier: str) -> str:
    """The identifier as the warehouse names it (exact, else the one case-insensitive match)."""
    names = [c.name for c in con.describe(model_sql)]
    if identifier in names:
        return identifier
    folded = [n for n in names if n.lower() == identifier.lower()]
    if len(folded) == 1:
        return folded[0]
    raise SegprofError(f"identifier column {identifier!r} is not returned by the model")


def _without_write_key(settings: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(settings).items() if k != "engage_space"}


def _sample_events(con: Any, model_sql: str, ident: str, n: int) -> Iterator[dict[str, Any]]:
    """The first `n` records by identifier (null identifiers left out, as a sync leaves them out)."""

    neutral = (
        f"SELECT q.* FROM {_MODEL} AS q WHERE q.{quote(ident)} IS NOT NULL "
        f"ORDER BY q.{quote(ident)} LIMIT {int(n)}"
    )
    sql = to_dialect(neutral, con.dialect).replace(_MODEL, as_subquery(model_sql.strip().rstrip(";")))
    for batch in con.stream_arrow(sql, n):
        yield from events_from_batch(batch, identifier=ident, kind=SAMPLE_EVENT)


def _events_by_id(con: Any, old: _OldQuery, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The records of the live (old) model query with these identifiers, by identifier text."""

    if not ids:
        return {}
    ident = _identifier_column(con, old.sql, old.identifier)
    listed = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    neutral = f"SELECT q.* FROM {_MODEL} AS q WHERE CAST(q.{quote(ident)} AS VARCHAR) IN ({listed})"
    sql = to_dialect(neutral, con.dialect).replace(_MODEL, as_subquery(old.sql.strip().rstrip(";")))
    found: dict[str, dict[str, Any]] = {}
    for batch in con.stream_arrow(sql, len(ids)):
        for event in events_from_batch(batch, identifier=ident, kind=SAMPLE_EVENT):
            found.setdefault(str(event["__segment_id"]), event)
    return found


@dataclass
class _Side:
    """One side's message builder, or why that side cannot build anything."""

    builder: Any = None
    error: str | None = None
    check_size: bool = False

    @classmethod
    def of(cls, action: str, settings: dict[str, Any], *, check_size: bool) -> _Side:

        try:
            return cls(builder=MessageBuilder(action, settings), check_size=check_size)
        except SegprofError as err:
            return cls(error=f"the settings cannot be resolved: {err.message}")

    def build(self, event: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:

        if self.builder is None:
            return None, self.error
        try:
            message = self.builder.build(event)
            if self.check_size:
                check_message_size(message, record_id=event.get("__segment_id"))
        except PayloadError as err:
            return None, f"{err.code}: {err.message}"
        except MappingError as err:
            return None, f"MAPPING_ERROR: {err.message}"
        return message, None


def _record(
    event: dict[str, Any], old: _Side | None, new: _Side, before_event: dict[str, Any] | None
) -> RecordPreview:
    """One sample: `before_event` is the record as the old side reads it (None: it had no such
    record, so every leaf is added)."""
    record = RecordPreview(id=str(event.get("__segment_id")))
    after, record.after_error = new.build(event)
    before: dict[str, Any] | None = None
    if old is not None and before_event is not None:
        before, record.before_error = old.build(before_event)
    if after is None:
        return record
    changes = diff_messages(before or {}, after)
    record.changes = changes[:MAX_CHANGES_PER_RECORD]
    record.omitted = len(changes) - len(record.changes)
    return record


# ---- what the next sync sends ------------------------------------------------------------------


def _triggers(trigger: Any) -> frozenset[str] | None:

    try:
        return triggers_of(str(trigger or ""))
    except SegprofError:
        return None


def _send_count(
    change: ResourceChange,
    old: dict[str, Any] | None,
    engine: Any,
    project: Project,
    self_hosted: bool,
    *,
    model_changed: bool = False,
) -> SendCount | None:
    """What the next sync sends, for a created or replaced mapping, a trigger change, or (where
    segprof's engine keeps the sync state) a settings change; None when not shown.

    With `backend: segment` (and the mapping not self-hosted) Segment keeps the sync state: a
    new or replaced mapping starts without it (exact: every clean record is new), but pending
    changes of an existing one are not knowable from here.
    """
    triggers = engine.job.triggers
    segment_keeps_state = project.workspace.backend == "segment" and not self_hosted
    if change.action in (Action.create, Action.replace):
        basis = change.action.value
    elif old is not None and _triggers(old.get("trigger")) != triggers:
        basis = "trigger"
    elif (
        old is not None
        and not segment_keeps_state
        and not same_json(_without_write_key(old.get("settings") or {}), dict(engine.job.settings))
    ):
        basis = "update"  # the checksum covers the mapped columns: mapping one more resends all
    elif model_changed:
        basis = "model"
    else:
        return None
    if basis in ("trigger", "update", "model") and segment_keeps_state:
        return SendCount(
            basis=basis,
            known=False,
            note="Segment keeps this mapping's sync state: its pending changes are not knowable from here",
        )
    found = engine.tracker.dry_run(from_scratch=basis in ("create", "replace"))
    counts = {k: found.counts.of(k) if k in triggers else 0 for k in ("new", "updated", "deleted")}
    skipped = [k for k in ("new", "updated", "deleted") if found.counts.of(k) and k not in triggers]
    notes: list[str] = []
    if basis == "trigger":
        notes.append("pending changes since the last sync that the new trigger admits")
    elif basis == "model":
        notes.append("pending changes under the model's new query")
    elif basis == "update":
        notes.append(
            "pending changes under the new settings (a record counts as updated when a column the "
            "mapping reads changed, or when the mapping reads other columns than before)"
        )
    else:
        notes.append(
            "the mapping starts without sync state: every record of the model is new"
            + (" (counted from the model; Segment keeps the sync state)" if segment_keeps_state else "")
        )
    if skipped:
        left = ", ".join(f"{found.counts.of(k)} {k}" for k in skipped)
        notes.append(f"not sent, the trigger leaves them out: {left}")
    if not found.keys.clean:
        notes.append(found.keys.describe())
    if (
        basis in ("trigger", "update", "model")
        and found.snapshot_size
        and found.counts.deleted > 0.5 * found.snapshot_size
    ):
        notes.append(
            f"{found.counts.deleted} of {found.snapshot_size} synced records are deleted: the sync "
            "refuses this many deletions unless --allow-mass-delete"
        )
    return SendCount(basis=basis, known=True, note="; ".join(notes), **counts)


# ---- secrets ------------------------------------------------------------------------------------


def _scrubbed(preview: MappingPreview, secrets: Iterable[str]) -> MappingPreview:
    """The preview with every occurrence of a secret value replaced (defence in depth: a write key
    never enters a message, but a literal or a warehouse value might hold one)."""
    values = sorted(set(secrets), key=len, reverse=True)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for secret in values:
                if secret in value:
                    value = value.replace(secret, SENSITIVE)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        return value

    preview.reason = clean(preview.reason)
    for record in preview.records:
        record.id = clean(record.id)
        record.before_error = clean(record.before_error)
        record.after_error = clean(record.after_error)
        for c in record.changes:
            c.path, c.before, c.after = clean(c.path), clean(c.before), clean(c.after)
    if preview.send_count is not None:
        preview.send_count.note = clean(preview.send_count.note)
    return preview
