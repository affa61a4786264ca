"""What a dbt change does to a model, against production's manifest (dbt's `--state` idea).

Owns `changes_against`: for one dbt model, why it differs from production's (its SQL, its
columns, its uniqueness tests, or a model or seed it is built from), or that production has no
such model. Must never read a warehouse: it compares two manifests (and their catalogs).
"""

from __future__ import annotations

from segprof.dbt.columns import DbtColumns
from segprof.dbt.manifest import DbtModel, DbtProject


def _names(uids: list[str]) -> str:
    return ", ".join(f"`{uid.split('.')[-1]}`" for uid in uids)


def changes_against(
    current: DbtProject,
    model: DbtModel,
    columns: DbtColumns | None,
    production: DbtProject,
    prod_model: DbtModel | None,
    prod_columns: DbtColumns | None,
) -> list[str]:
    """Why `model` differs from production's model of the same name ([] when it does not)."""
    if prod_model is None:
        return ["not in production's manifest (a new dbt model)"]
    reasons: list[str] = []
    if model.checksum != prod_model.checksum:
        reasons.append(f"its SQL changed ({model.file})")
    if columns is not None and prod_columns is not None:
        now = {c.lower(): c for c in columns.names}
        before = {c.lower(): c for c in prod_columns.names}
        removed = [before[c] for c in before if c not in now]
        added = [now[c] for c in now if c not in before]
        if removed:
            reasons.append("columns removed: " + ", ".join(removed))
        if added:
            reasons.append("columns added: " + ", ".join(added))
    if {c.lower() for c in model.unique_columns()} != {c.lower() for c in prod_model.unique_columns()}:
        reasons.append("its uniqueness tests changed")
    upstream = [
        uid
        for uid in current.ancestors(model.unique_id)
        if uid in current.checksums and production.checksums.get(uid) != current.checksums[uid]
    ]
    if upstream:
        reasons.append("built from changed " + _names(upstream))
    return reasons
