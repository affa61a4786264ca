"""Desired resources ⊕ recorded state ⊕ live workspace → a Plan (computed once, read by all outputs).

Owns: choosing one action per address (create, update, replace, delete, adopt, no-op), the
field-level differences (deepdiff over the attributes the config declares), drift since the last
apply, renames through `moved_from`, and `--target` selection. Must never talk to the network or
print: it is a pure function of its three inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from deepdiff import DeepDiff

from segprof.errors import SegprofError
from segprof.plan.model import SENSITIVE, UNKNOWN, Action, FieldChange, Plan, ResourceChange
from segprof.plan.secrets import path_is_sensitive, redact_for_display, redact_for_storage
from segprof.project.resources import (
    IMMUTABLE,
    KIND_ORDER,
    DesiredResource,
    Kind,
    LiveIndex,
    LiveResource,
    Ref,
    address_kind,
    is_masked,
)
from segprof.state.store import State, StateEntry

MAPPING_RESET_WARNING = (
    "replacing a mapping resets its sync state: the next sync sends every record of the model as new"
)


def compute_plan(
    desired: list[DesiredResource],
    state: State,
    live: LiveIndex,
    *,
    targets: Iterable[str] | None = None,
) -> Plan:
    by_address = {d.address: d for d in desired}
    entries = _entries_after_moves(desired, state)
    claimed_ids = {(e.kind, e.id) for e in entries.values()}
    # the addresses of ids segprof manages, so that an id field can be shown as an address
    addresses = {(e.kind, e.id): address for address, e in {**state.resources, **entries}.items()}
    resolved: dict[str, str] = {}  # address → live id, or UNKNOWN when created/replaced by this plan
    changes: list[ResourceChange] = []

    for d in sorted(desired, key=_order_key):
        change = _plan_one(d, entries.get(d.address), live, resolved, claimed_ids)
        _name_references(d, change, addresses)
        if d.self_hosted:
            _warn_self_hosted(d, change)
        changes.append(change)

    for address, entry in sorted(entries.items(), key=lambda item: _order_key_address(item[0]), reverse=True):
        if address in by_address:
            continue
        changes.append(_plan_delete(address, entry, live))

    # Deletions run after creations in reverse dependency order: keep that order in the list.
    creates = [c for c in changes if c.action is not Action.delete]
    deletes = [c for c in changes if c.action is Action.delete]
    ordered = creates + deletes

    targets = list(targets or [])
    if targets:
        ordered = _select_targets(ordered, by_address, set(targets))

    return Plan(
        changes=ordered,
        config_fingerprint=config_fingerprint(desired),
        live_fingerprint=live_fingerprint(live),
        targets=sorted(targets or []),
    )


def _name_references(
    d: DesiredResource, change: ResourceChange, addresses: dict[tuple[str, str], str]
) -> None:
    """Tie each id attribute that points at another resource to that resource's address."""
    refs = {key: value for key, value in d.attributes.items() if isinstance(value, Ref)}
    change.refs = {key: ref.address for key, ref in refs.items()}
    for fc in change.changes:
        ref = refs.get(fc.path)
        if ref is None:
            continue
        fc.after_address = ref.address
        if isinstance(fc.before, str):
            fc.before_address = addresses.get((address_kind(ref.address).value, fc.before))


def _warn_self_hosted(d: DesiredResource, change: ResourceChange) -> None:
    """A self-hosted mapping whose workspace copy runs too would send every change twice."""
    if d.attributes.get("enabled") is True:
        change.warnings.append(
            "this mapping is self-hosted, but its workspace copy would be enabled: both would send "
            "every change; set `enabled: false` on it"
        )
    elif (change.before or {}).get("enabled") is True:
        change.warnings.append(
            "this mapping is self-hosted, but its workspace copy is enabled now and sends changes too; "
            "apply disables it"
        )


def _order_key(d: DesiredResource) -> tuple[int, str]:
    return (KIND_ORDER.index(d.kind), d.address)


def _order_key_address(address: str) -> tuple[int, str]:
    return (KIND_ORDER.index(address_kind(address)), address)


def _entries_after_moves(desired: list[DesiredResource], state: State) -> dict[str, StateEntry]:
    """State entries keyed by the address they will have after `moved_from` renames."""
    entries = dict(state.resources)
    for d in desired:
        if not d.moved_from:
            continue
        old = f"{d.kind.value}.{d.moved_from}" if "." not in d.moved_from else d.moved_from
        if old in entries and d.address not in entries:
            entries[d.address] = entries.pop(old)
            d.moved_from = old
        else:
            d.moved_from = None  # already moved, or nothing to move from
    return entries


def _resolve(value: Any, resolved: dict[str, str]) -> Any:
    if isinstance(value, Ref):
        return resolved.get(value.address, UNKNOWN)
    if isinstance(value, dict):
        return {k: _resolve(v, resolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, resolved) for v in value]
    return value


def _plan_one(
    d: DesiredResource,
    entry: StateEntry | None,
    live: LiveIndex,
    resolved: dict[str, str],
    claimed_ids: set[tuple[str, str]],
) -> ResourceChange:
    after = _resolve(d.attributes, resolved)
    change = ResourceChange(
        address=d.address,
        kind=d.kind,
        action=Action.noop,
        name=d.display_name,
        after=redact_for_display(after, d.sensitive),
        moved_from=d.moved_from,
    )
    live_resource: LiveResource | None = None
    adopting = False
    if d.fixed_id:
        live_resource = live.get(d.kind, d.fixed_id)
        if live_resource is None:
            raise SegprofError(
                f"the workspace has no {d.kind.value} with id {d.fixed_id}",
                address=d.address,
                location=d.location,
            )
        adopting = entry is None
    elif entry is not None:
        live_resource = live.get(d.kind, entry.id)
        if live_resource is None:
            change.action = Action.create
            change.reason = (
                f"{d.kind.value} {entry.id} no longer exists in the workspace (deleted outside segprof)"
            )
            resolved[d.address] = UNKNOWN
            return change
    else:
        parent = after.get("destinationId") if d.kind is Kind.mapping else None
        matches = live.by_name(d.kind, d.display_name, parent_id=parent if parent != UNKNOWN else None)
        if d.kind is Kind.source and after.get("slug"):
            # A source's slug is unique in a workspace, and set even when naming it failed.
            matches = [
                r for r in live.resources[Kind.source].values() if r.attributes.get("slug") == after["slug"]
            ]
        candidates = [r for r in matches if (d.kind.value, r.id) not in claimed_ids]
        if d.kind is Kind.mapping and parent == UNKNOWN:
            candidates = []
        if len(candidates) > 1:
            ids = ", ".join(sorted(r.id for r in candidates))
            raise SegprofError(
                f"{len(candidates)} live {d.kind.value}s are named {d.display_name!r} ({ids}); "
                "segprof cannot tell which one this is",
                address=d.address,
                location=d.location,
                hint=f"adopt one explicitly with `segprof import {d.address} ID`",
            )
        if candidates:
            live_resource = candidates[0]
            claimed_ids.add((d.kind.value, live_resource.id))
            adopting = True

    if live_resource is None:
        change.action = Action.create
        resolved[d.address] = UNKNOWN
        return change

    change.live_id = live_resource.id
    before = _comparable_live(d, live_resource, entry)
    change.before = redact_for_display(before, d.sensitive)
    field_changes = _field_changes(d, before, after)
    immutable = IMMUTABLE[d.kind]
    for fc in field_changes:
        fc.forces_replace = fc.path.split(".")[0] in immutable
    change.changes = field_changes
    if entry is not None:
        change.drift = _drift(d, entry, before)

    if any(fc.forces_replace for fc in field_changes):
        if adopting:
            forced = ", ".join(fc.path for fc in field_changes if fc.forces_replace)
            raise SegprofError(
                f"the live {d.kind.value} named {d.display_name!r} ({live_resource.id}) differs in {forced}, "
                "which cannot change in place",
                address=d.address,
                location=d.location,
                hint="rename the resource in the config, or import and replace it deliberately",
            )
        change.action = Action.replace
        forced = [fc.path for fc in field_changes if fc.forces_replace]
        change.reason = f"{', '.join(forced)} cannot change in place"
        if d.prevent_destroy:
            raise SegprofError(
                f"this change would replace the {d.kind.value} ({change.reason}), but it has prevent_destroy: true",
                address=d.address,
                location=d.location,
            )
        if d.kind is Kind.mapping:
            change.warnings.append(MAPPING_RESET_WARNING)
        resolved[d.address] = UNKNOWN
        return change

    resolved[d.address] = live_resource.id
    if adopting:
        change.action = Action.adopt
        change.also_update = bool(field_changes)
        change.reason = f"a live {d.kind.value} named {d.display_name!r} exists ({live_resource.id}); segprof will manage it"
        if d.fixed_id:
            change.reason = f"{d.kind.value} {d.fixed_id} exists in the workspace; segprof will reference it"
    elif field_changes:
        change.action = Action.update
    return change


def _comparable_live(
    d: DesiredResource, live_resource: LiveResource, entry: StateEntry | None
) -> dict[str, Any]:
    """The live values of exactly the attributes (and settings keys) segprof manages.

    Settings keys are those the config declares, plus those segprof applied before and the config
    no longer has (still live: they show as removed); keys added elsewhere are not compared.
    """
    result: dict[str, Any] = {}
    for key, desired_value in d.attributes.items():
        live_value = live_resource.attributes.get(key)
        if key == "settings" and isinstance(desired_value, dict):
            live_settings = live_value if isinstance(live_value, dict) else {}
            live_value = {k: live_settings.get(k) for k in desired_value}
            for k in removed_settings(d, entry):
                if k in live_settings:
                    live_value[k] = live_settings[k]
        if key == "reverseETLSchedule" and isinstance(live_value, dict):
            live_value = _normalise_schedule(live_value)
        result[key] = live_value
    return result


def removed_settings(d: DesiredResource, entry: StateEntry | None) -> list[str]:
    """Settings keys segprof last applied to this resource that its config no longer declares."""
    if entry is None:
        return []
    recorded = entry.attributes.get("settings")
    desired = d.attributes.get("settings")
    if not isinstance(recorded, dict) or not isinstance(desired, dict):
        return []
    return sorted(k for k in recorded if k not in desired)


def _normalise_schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    normal = dict(schedule)
    if isinstance(normal.get("strategy"), str):
        normal["strategy"] = normal["strategy"].upper()
    if normal.get("config") is None:
        normal.pop("config", None)
    return normal


def _field_changes(d: DesiredResource, before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    result: list[FieldChange] = []
    for key in d.attributes:
        old, new = before.get(key), after.get(key)
        for path, o, n in _differences(key, old, new):
            if is_masked(o):
                continue  # censored by the API: unknowable, not drift
            sensitive = path_is_sensitive(path, d.sensitive)
            result.append(
                FieldChange(
                    path=path,
                    before=SENSITIVE if sensitive and o is not None else o,
                    after=SENSITIVE if sensitive and n is not None else n,
                    sensitive=sensitive,
                )
            )
    return result


def _differences(prefix: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    if _equal(old, new):
        return []  # the common case; deepdiff only runs where something differs
    if isinstance(old, dict) and isinstance(new, dict):
        diff = DeepDiff(old, new, view="tree", verbose_level=2)
        found: list[tuple[str, Any, Any]] = []
        for level_list in diff.values():
            for level in level_list:
                parts = [str(p) for p in level.path(output_format="list")]
                path = ".".join([prefix, *parts])
                o = None if _missing(level.t1) else level.t1
                n = None if _missing(level.t2) else level.t2
                found.append((path, o, n))
        return sorted(found, key=lambda item: item[0])
    if _equal(old, new):
        return []
    return [(prefix, old, new)]


def _missing(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    return bool(a == b)


def _drift(d: DesiredResource, entry: StateEntry, live_values: dict[str, Any]) -> list[FieldChange]:
    """Fields whose live value moved away from what segprof last applied."""
    recorded = entry.attributes
    if not recorded:
        return []
    live_stored = redact_for_storage(live_values, d.sensitive)
    drift: list[FieldChange] = []
    for key in d.attributes:
        if key not in recorded:
            continue
        for path, o, n in _differences(key, recorded.get(key), live_stored.get(key)):
            if is_masked(n) or path_is_sensitive(path, d.sensitive):
                continue
            drift.append(FieldChange(path=path, before=o, after=n))
    return drift


def _plan_delete(address: str, entry: StateEntry, live: LiveIndex) -> ResourceChange:
    kind = address_kind(address)
    live_resource = live.get(kind, entry.id)
    change = ResourceChange(
        address=address,
        kind=kind,
        action=Action.delete,
        name=(live_resource.name if live_resource else None) or address.split(".", 1)[1],
        live_id=entry.id,
        before=entry.attributes or None,
    )
    if entry.attributes.get("__external__"):
        change.reason = "no longer in the configuration; the workspace resource is not segprof's and stays"
    elif live_resource is None:
        change.reason = "no longer in the configuration, and already gone from the workspace"
    else:
        change.reason = "no longer in the configuration"
    if kind is Kind.mapping:
        change.warnings.append("deleting a mapping drops its sync state")
    return change


def _select_targets(
    changes: list[ResourceChange], by_address: dict[str, DesiredResource], targets: set[str]
) -> list[ResourceChange]:
    known = set(by_address) | {c.address for c in changes}
    unknown = sorted(t for t in targets if t not in known)
    if unknown:
        raise SegprofError(f"--target names no resource of this project: {', '.join(unknown)}")
    selected = set()
    stack = list(targets)
    while stack:
        address = stack.pop()
        if address in selected:
            continue
        selected.add(address)
        d = by_address.get(address)
        if d is not None:
            stack.extend(d.depends_on)
    return [c for c in changes if c.address in selected]


def _canonical(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"$ref": value.address}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def config_fingerprint(desired: list[DesiredResource]) -> str:
    payload = [
        {
            "address": d.address,
            "attributes": _canonical(redact_for_storage(d.attributes, d.sensitive)),
            "moved_from": d.moved_from,
            "fixed_id": d.fixed_id,
        }
        for d in sorted(desired, key=lambda r: r.address)
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def live_fingerprint(live: LiveIndex) -> str:
    payload = [
        {"kind": kind.value, "id": r.id, "parent": r.parent_id, "attributes": r.attributes}
        for kind in KIND_ORDER
        for r in sorted(live.resources[kind].values(), key=lambda r: r.id)
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
