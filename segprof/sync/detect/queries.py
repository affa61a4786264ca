"""The diff's SQL: the model's shape, key statistics, the changed identifiers and the changed rows.

Owns `DiffQueries`, the SELECTs change detection runs (written once in DuckDB's dialect and
translated per warehouse), and the reading of their small answers. Must never write a table.
"""

from __future__ import annotations

from collections.abc import Sequence

from segprof.errors import SegprofError
from segprof.sync.detect.checksum import checksummed_sql, quote
from segprof.sync.detect.runs import EXAMPLES, RESERVED, ChangeCounts, KeyReport
from segprof.sync.detect.statements import MODEL, TrackerStatements, lit
from segprof.warehouses.base import ColumnInfo
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN, ORIGIN_COLUMN


class DiffQueries(TrackerStatements):
    """The SELECTs of one mapping's change detection."""

    # ---- model shape --------------------------------------------------------------------------

    def _resolve_columns(self) -> tuple[list[ColumnInfo], str, list[tuple[str, str]]]:
        """Describe the model; find the identifier and mapped columns in it (exact, then case-insensitive)."""
        cols = self.con.describe(self._model_sql)
        names = [c.name for c in cols]
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise SegprofError(
                    f"the model returns the column {n!r} more than once; give each column a distinct name",
                    address=self.spec.address,
                )
            seen.add(n)
            if n in RESERVED:
                raise SegprofError(f"the model column name {n!r} is reserved", address=self.spec.address)
        by_name = {c.name: c for c in cols}

        def find(name: str, role: str) -> ColumnInfo:
            if name in by_name:
                return by_name[name]
            folded = [c for c in cols if c.name.lower() == name.lower()]
            if len(folded) == 1:
                return folded[0]
            raise SegprofError(
                f"{role} column {name!r} is not returned by the model (columns: {', '.join(names)})",
                address=self.spec.address,
            )

        ident = find(self.spec.identifier, "identifier")
        mapped = [find(c, "mapped") for c in self.spec.columns]
        pairs = [(c.name, c.type) for c in {c.name: c for c in mapped}.values()]
        return cols, ident.name, pairs

    # ---- SQL builders (DuckDB dialect; translated by _sql) ----------------------------------

    def _keystats_select(self, ident: str) -> str:
        # One pass: the total row count (ROLLUP's grand total), null identifiers and duplicates.
        # Filtered outside the aggregate: Spark cannot resolve `k.id` in a HAVING after ROLLUP.
        return (
            "SELECT r.id, r.total, r.n FROM (SELECT k.id AS id, GROUPING(k.id) AS total, count(*) AS n "
            f"FROM (SELECT CAST(q.{quote(ident)} AS VARCHAR) AS id FROM {MODEL} AS q) AS k "
            "GROUP BY ROLLUP (k.id)) AS r WHERE r.n > 1 OR r.id IS NULL"
        )

    def _diff_select(
        self, ident: str, pairs: list, snapshot: str, dups: str, pending: str, *, origin: str
    ) -> str:
        """Changed identifiers with their kind, checksum and origin; narrow on purpose (carrying every
        model column through a join of the whole model against the whole snapshot costs several
        times the join itself), the columns are joined back for the few changed rows when streaming.

        `origin` is this run's id: a change takes it unless the pending table holds the same change
        (same kind and checksum), whose origin it keeps.
        """
        kind = (
            f"CASE WHEN s.id IS NULL THEN 'new' WHEN m.{ID_COLUMN} IS NULL THEN 'deleted' ELSE 'updated' END"
        )
        checksum = f"CASE WHEN m.{ID_COLUMN} IS NULL THEN s.checksum ELSE m.{CHECKSUM_COLUMN} END"
        return (
            f"SELECT coalesce(m.{ID_COLUMN}, s.id) AS {ID_COLUMN}, {kind} AS {KIND_COLUMN}, "
            f"{checksum} AS {CHECKSUM_COLUMN}, "
            f"CASE WHEN p.id IS NOT NULL AND p.kind = {kind} AND p.checksum = {checksum} THEN p.origin "
            f"ELSE {lit(origin)} END AS {ORIGIN_COLUMN} FROM "
            f"(SELECT c.id AS {ID_COLUMN}, c.checksum AS {CHECKSUM_COLUMN} FROM ("
            f"{checksummed_sql(pairs, f'CAST(q.{quote(ident)} AS VARCHAR)', MODEL, f'q.{quote(ident)} IS NOT NULL')}"
            ") AS c) AS m "
            f"FULL OUTER JOIN {snapshot} AS s ON m.{ID_COLUMN} = s.id "
            f"LEFT JOIN {pending} AS p ON p.id = coalesce(m.{ID_COLUMN}, s.id) "
            f"WHERE (s.id IS NULL OR m.{ID_COLUMN} IS NULL OR m.{CHECKSUM_COLUMN} <> s.checksum "
            f"OR (p.outcome = 'unknown' AND m.{ID_COLUMN} IS NOT NULL "
            f"AND (p.kind = 'deleted' OR p.checksum <> m.{CHECKSUM_COLUMN}))) "
            f"AND NOT EXISTS (SELECT 1 FROM {dups} AS d WHERE d.id = coalesce(m.{ID_COLUMN}, s.id))"
        )

    def _stream_select(
        self, cols: Sequence[ColumnInfo], ident: str, kinds: Sequence[str], extra: Sequence[str] = ()
    ) -> str:
        """The changed rows with every model column, read back from the model by identifier.

        Deleted records get nulls. A new or updated record that vanished from the model since the
        diff is left out (not acknowledged, so the next run derives it again, as deleted).
        """
        model_cols = ", ".join([*(f"m.{quote(c.name)}" for c in cols), *extra])
        wanted = ", ".join(lit(k) for k in kinds)
        return (
            f"SELECT c.{ID_COLUMN}, c.{KIND_COLUMN}, c.{CHECKSUM_COLUMN}, c.{ORIGIN_COLUMN}, {model_cols} "
            f"FROM {self.tables.changes} AS c LEFT JOIN "
            f"(SELECT q.*, CAST(q.{quote(ident)} AS VARCHAR) AS {ID_COLUMN} FROM {MODEL} AS q "
            f"WHERE q.{quote(ident)} IS NOT NULL) AS m "
            f"ON m.{ID_COLUMN} = c.{ID_COLUMN} AND c.{KIND_COLUMN} <> 'deleted' "
            f"WHERE c.{KIND_COLUMN} IN ({wanted}) "
            f"AND (c.{KIND_COLUMN} = 'deleted' OR m.{ID_COLUMN} IS NOT NULL)"
        )

    def _key_report_select(self, source: str) -> str:
        """Summarise a keystats relation in a few rows (never all duplicates: there may be millions):
        the total, the null row, and the first duplicates, each carrying the duplicate totals."""
        is_null = "CASE WHEN k2.id IS NULL THEN 1 ELSE 0 END"
        return (
            "SELECT z.id, z.total, z.n, z.groups, z.grows FROM (SELECT k2.id, k2.total, k2.n, "
            f"count(*) OVER (PARTITION BY k2.total, {is_null}) AS groups, "
            f"sum(k2.n) OVER (PARTITION BY k2.total, {is_null}) AS grows FROM {source} AS k2) AS z "
            f"ORDER BY z.total DESC, CASE WHEN z.id IS NULL THEN 0 ELSE 1 END, z.id LIMIT {EXAMPLES + 2}"
        )

    def _read_keystats(self, rows: list[tuple]) -> tuple[int, KeyReport]:
        extracted = nulls = dup_ids = dup_rows = 0
        examples: list[str] = []
        for ident, total, n, groups, grows in rows:
            if int(total) == 1:
                extracted = int(n)
            elif ident is None:
                nulls = int(n)
            else:
                dup_ids, dup_rows = int(groups), int(grows)
                examples.append(str(ident))
        return extracted, KeyReport(dup_ids, dup_rows, nulls, tuple(examples[:EXAMPLES]))

    def _count_kinds(self, rows: list[tuple]) -> ChangeCounts:
        got = {str(k): int(n) for k, n in rows}
        return ChangeCounts(got.get("new", 0), got.get("updated", 0), got.get("deleted", 0))
