"""Change detection on real DuckDB and PostgreSQL: diff, bookkeeping, crashes, retries, guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from segprof.errors import SegprofError
from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.checksum import checksum_of
from segprof.sync.detect.runs import MappingSpec, MassDeleteRefused
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN

MODEL = "SELECT user_id, email, plan, score FROM users"


def make_users(con, rows):
    con.execute("DROP TABLE IF EXISTS users")
    con.execute("CREATE TABLE users (user_id INTEGER, email VARCHAR(200), plan VARCHAR(50), score INTEGER)")
    if rows:
        con.insert_rows("users", ["user_id", "email", "plan", "score"], rows)


def spec(columns=("email", "plan"), model=MODEL, triggers=("new", "updated", "deleted")):
    return MappingSpec(
        mapping_id="sub_123",
        model_sql=model,
        identifier="user_id",
        columns=list(columns),
        triggers=frozenset(triggers),
        address="mapping.identify_users",
    )


def changed(tracker, run):
    rows = [r for b in tracker.stream(run, batch_rows=2) for r in b.to_pylist()]
    return {r[ID_COLUMN]: r for r in rows}


def sync_all(tracker, **kw):
    run = tracker.begin(**kw)
    rows = changed(tracker, run)
    tracker.ack(run, rows)
    tracker.finish(run)
    return run, rows


BASE = [
    (1, "a@x.io", "free", 10),
    (2, "b@x.io", "pro", 20),
    (3, "c@x.io", "free", 30),
    (4, "d@x.io", None, 40),
]


def test_first_sync_is_all_new_then_nothing(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    run = tracker.begin()
    assert (run.counts.new, run.counts.updated, run.counts.deleted) == (4, 0, 0)
    assert run.extracted == 4
    rows = changed(tracker, run)
    assert set(rows) == {"1", "2", "3", "4"}
    assert rows["2"]["email"] == "b@x.io" and rows["2"]["score"] == 20  # all model columns travel
    assert rows["4"]["plan"] is None
    assert {r[KIND_COLUMN] for r in rows.values()} == {"new"}
    expected = checksum_of({"email": "b@x.io", "plan": "pro"})
    assert rows["2"][CHECKSUM_COLUMN] == expected
    assert tracker.ack(run, rows) == 4
    done = tracker.finish(run)
    assert done.status == "success"
    again = tracker.begin()
    assert again.counts.total == 0
    assert list(tracker.stream(again)) == []
    tracker.finish(again)


def test_inserts_updates_deletes(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    _, first = sync_all(tracker)
    con.execute("UPDATE users SET plan = 'pro' WHERE user_id = 1")
    con.execute("UPDATE users SET score = 99 WHERE user_id = 2")  # unmapped column: no change
    con.execute("UPDATE users SET plan = 'team' WHERE user_id = 4")  # NULL -> value
    con.execute("DELETE FROM users WHERE user_id = 3")
    con.insert_rows("users", ["user_id", "email", "plan", "score"], [(5, "e@x.io", "free", 50)])
    run = tracker.begin()
    rows = changed(tracker, run)
    assert {k: r[KIND_COLUMN] for k, r in rows.items()} == {
        "1": "updated",
        "4": "updated",
        "3": "deleted",
        "5": "new",
    }
    assert (run.counts.new, run.counts.updated, run.counts.deleted) == (1, 2, 1)
    deleted = rows["3"]
    assert all(deleted[c] is None for c in ("user_id", "email", "plan", "score"))
    # a deleted record carries the checksum last delivered, so its message id is stable
    assert deleted[CHECKSUM_COLUMN] == first["3"][CHECKSUM_COLUMN]
    assert rows["1"][CHECKSUM_COLUMN] == checksum_of({"email": "a@x.io", "plan": "pro"})
    tracker.ack(run, rows)
    tracker.finish(run)
    assert tracker.begin().counts.total == 0


def test_changed_mapped_columns_mark_everything_updated(open_wh):
    con = open_wh()
    make_users(con, BASE)
    sync_all(ChangeTracker(con, spec(columns=("email", "plan"))))
    # the same set in another order is the same checksum
    same = ChangeTracker(con, spec(columns=("plan", "email", "plan")))
    run = same.begin()
    assert run.counts.total == 0 and not run.columns_changed
    same.finish(run)
    wider = ChangeTracker(con, spec(columns=("email", "plan", "score")))
    run = wider.begin()
    assert (run.counts.new, run.counts.updated, run.counts.deleted) == (0, 4, 0)
    assert run.columns_changed


def test_model_schema_change(open_wh):
    con = open_wh()
    make_users(con, BASE)
    sync_all(ChangeTracker(con, spec()))
    con.execute("ALTER TABLE users ADD COLUMN country VARCHAR(10)")
    con.execute("UPDATE users SET country = 'NL' WHERE user_id = 1")
    con.execute("UPDATE users SET plan = 'team' WHERE user_id = 2")
    tracker = ChangeTracker(con, spec(model="SELECT * FROM users"))
    run = tracker.begin()
    assert run.model_changed
    rows = changed(tracker, run)
    assert set(rows) == {"2"}  # the new column is not mapped
    assert rows["2"]["country"] is None and "country" in rows["2"]
    tracker.finish(run)
    gone = ChangeTracker(con, spec(model="SELECT user_id, email FROM users"))
    with pytest.raises(SegprofError, match="'plan' is not returned by the model"):
        gone.begin()


def test_duplicate_and_null_identifiers_are_reported_and_skipped(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    sync_all(tracker)
    con.insert_rows(
        "users",
        ["user_id", "email", "plan", "score"],
        [(2, "b2@x.io", "pro", 1), (6, "f@x.io", "a", 1), (6, "f@x.io", "a", 1), (None, "n@x.io", "a", 1)],
    )
    con.execute("DELETE FROM users WHERE user_id = 2 AND email = 'b@x.io'")
    con.insert_rows("users", ["user_id", "email", "plan", "score"], [(2, "b3@x.io", "pro", 1)])
    con.insert_rows("users", ["user_id", "email", "plan", "score"], [(7, "g@x.io", "a", 1)])
    run = tracker.begin()
    assert run.keys.duplicate_ids == 2 and run.keys.duplicate_rows == 4
    assert run.keys.null_ids == 1
    assert run.keys.duplicate_examples == ("2", "6")
    assert "2 duplicate identifier(s) on 4 rows" in run.keys.describe()
    rows = changed(tracker, run)
    # id 2 is duplicated: neither updated nor deleted; id 6 never sent; the null row is ignored
    assert {k: r[KIND_COLUMN] for k, r in rows.items()} == {"7": "new"}
    assert run.extracted == 9
    tracker.ack(run, rows)
    tracker.finish(run)
    dry = tracker.dry_run()
    assert dry.keys == run.keys and dry.counts.total == 0


def test_partial_ack_then_crash_rederives_exactly_the_unacked(open_wh):
    con = open_wh()
    make_users(con, [(i, f"u{i}@x.io", "free", i) for i in range(1, 21)])
    tracker = ChangeTracker(con, spec())
    _, first = sync_all(tracker)
    con.execute("UPDATE users SET plan = 'pro' WHERE user_id <= 6")
    con.execute("DELETE FROM users WHERE user_id IN (19, 20)")
    con.insert_rows("users", ["user_id", "email", "plan", "score"], [(21, "n@x.io", "free", 0)])
    run = tracker.begin()
    rows = changed(tracker, run)
    assert len(rows) == 9
    acked = ["1", "2", "19", "21"]
    tracker.ack(run, acked[:2])
    tracker.ack(run, acked[2:])
    expected = {k: (r[KIND_COLUMN], r[CHECKSUM_COLUMN]) for k, r in rows.items() if k not in acked}
    # crash: no finish, objects dropped, a new connection
    del tracker, run
    con.close()
    con2 = open_wh()
    tracker2 = ChangeTracker(con2, spec())
    assert tracker2.dry_run().counts.total == len(expected)  # dry run sees the acked log too
    run2 = tracker2.begin()
    again = changed(tracker2, run2)
    assert {k: (r[KIND_COLUMN], r[CHECKSUM_COLUMN]) for k, r in again.items()} == expected
    assert again["20"][CHECKSUM_COLUMN] == first["20"][CHECKSUM_COLUMN]
    statuses = [h.status for h in tracker2.history()]
    assert statuses[:2] == ["running", "interrupted"]
    tracker2.ack(run2, again)
    tracker2.finish(run2)
    assert tracker2.begin().counts.total == 0


def test_failed_records_are_retried_with_latest_values_then_dropped(open_wh):
    con = open_wh()
    make_users(con, BASE)
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    tracker = ChangeTracker(con, spec(), clock=lambda: now[0])
    run = tracker.begin()
    tracker.ack(run, ["1", "2", "3"])
    assert tracker.fail(run, ["4"], "400 bad request") == 1
    assert tracker.finish(run).status == "partial"
    assert tracker.pending() == [("4", checksum_of({"email": "d@x.io", "plan": None}), "new", 1)]
    # changed again before the retry: the latest version is what gets sent
    con.execute("UPDATE users SET plan = 'gold' WHERE user_id = 4")
    for attempt in range(2, 6):
        now[0] += timedelta(hours=1)
        run = tracker.begin()
        rows = changed(tracker, run)
        assert set(rows) == {"4"} and rows["4"]["plan"] == "gold"
        assert rows["4"][CHECKSUM_COLUMN] == checksum_of({"email": "d@x.io", "plan": "gold"})
        tracker.fail(run, ["4"], "still failing")
        tracker.fail(run, ["4"], "counted once per run")
        tracker.finish(run)
        assert tracker.pending()[0][3] == attempt
    now[0] += timedelta(hours=1)
    run = tracker.begin()  # five failed syncs: given up
    assert run.dropped == 1 and run.counts.total == 0
    tracker.finish(run)
    assert tracker.pending() == []
    assert tracker.history()[0].counters["dropped"] == 1


def test_failures_older_than_the_retry_window_are_dropped(open_wh):
    con = open_wh()
    make_users(con, BASE[:2])
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    tracker = ChangeTracker(con, spec(), clock=lambda: now[0])
    run = tracker.begin()
    tracker.fail(run, ["1", "2"], "503")
    tracker.finish(run)
    now[0] += timedelta(days=13)
    run = tracker.begin()
    assert run.dropped == 0 and run.counts.new == 2
    tracker.ack(run, ["1"])
    tracker.fail(run, ["2"], "503")
    tracker.finish(run)
    now[0] += timedelta(days=1, seconds=1)
    run = tracker.begin()
    assert run.dropped == 1 and run.counts.total == 0


def test_reverted_failure_leaves_nothing_pending(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    sync_all(tracker)
    con.execute("UPDATE users SET plan = 'x' WHERE user_id = 1")
    run = tracker.begin()
    tracker.fail(run, ["1"], "500")
    tracker.finish(run)
    con.execute("UPDATE users SET plan = 'free' WHERE user_id = 1")
    run = tracker.begin()
    assert run.counts.total == 0
    assert tracker.pending() == []


def test_mass_delete_guard(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    sync_all(tracker)
    con.execute("DELETE FROM users WHERE user_id <= 3")
    before = tracker.dry_run()
    with pytest.raises(MassDeleteRefused, match=r"3 of 4 synced records \(75%\)") as info:
        tracker.begin()
    assert info.value.address == "mapping.identify_users"
    assert tracker.dry_run() == before
    assert tracker.history()[0].status == "refused"
    run = tracker.begin(allow_mass_delete=True)
    assert run.counts.deleted == 3
    tracker.finish(run)
    # exactly half is allowed by default
    make_users(con, BASE)
    sync_all(tracker)
    con.execute("DELETE FROM users WHERE user_id <= 2")
    assert tracker.begin().counts.deleted == 2


def test_untriggered_kinds_are_accepted_without_sending(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec(triggers=("updated",)))
    run = tracker.begin()
    assert run.counts.new == 4 and run.skipped == 4
    assert list(tracker.stream(run)) == []
    assert tracker.finish(run).status == "success"
    con.execute("UPDATE users SET plan = 'pro' WHERE user_id = 1")
    con.execute("DELETE FROM users WHERE user_id = 2")
    run = tracker.begin()
    assert set(changed(tracker, run)) == {"1"}


def test_full_resync_and_rebaseline(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    sync_all(tracker)
    tracker.full_resync()
    assert tracker.begin().counts.new == 4
    con.execute("UPDATE users SET plan = 'pro'")
    assert tracker.rebaseline() == 4
    run = tracker.begin()
    assert run.counts.total == 0


def test_dry_run_writes_nothing(open_wh):
    con = open_wh()
    make_users(con, [*BASE, (1, "dup", "x", 0)])
    dry = ChangeTracker(con, spec()).dry_run()
    assert (dry.counts.new, dry.keys.duplicate_ids, dry.extracted, dry.snapshot_size) == (3, 1, 5, 0)
    rows = con.query_rows("SELECT count(*) FROM information_schema.tables WHERE table_schema = '__segprof'")
    assert rows[0][0] == 0


def test_stream_batches_respect_batch_size(open_wh):
    con = open_wh()
    make_users(con, [(i, f"u{i}", "p", i) for i in range(1, 101)])
    tracker = ChangeTracker(con, spec())
    run = tracker.begin()
    batches = list(tracker.stream(run, batch_rows=30))
    assert sum(b.num_rows for b in batches) == 100
    assert max(b.num_rows for b in batches) <= 30
    # acks between batches commit while the stream is open
    stream = tracker.stream(run, batch_rows=30)
    first = next(stream)
    tracker.ack(run, first.column(ID_COLUMN).to_pylist())
    rest = sum(b.num_rows for b in stream)
    assert first.num_rows + rest == 100
    tracker.finish(run)
    assert tracker.begin().counts.new == 100 - first.num_rows


def test_model_with_trailing_comment_and_semicolon(open_wh):
    con = open_wh()
    make_users(con, BASE)
    model = "-- active users\nSELECT user_id, email, plan\nFROM users -- all of them\n;\n"
    tracker = ChangeTracker(con, spec(model=model))
    assert tracker.dry_run().counts.new == 4
    run = tracker.begin()
    assert set(changed(tracker, run)) == {"1", "2", "3", "4"}


def test_one_run_per_mapping_at_a_time(open_wh):
    con = open_wh()
    make_users(con, BASE)
    other = open_wh()
    first = ChangeTracker(con, spec())
    run = first.begin()
    with pytest.raises(SegprofError, match="another sync of this mapping is running"):
        ChangeTracker(other, spec()).begin()
    first.finish(run)
    run = ChangeTracker(other, spec()).begin()
    assert run.counts.new == 4  # nothing was acknowledged by the first run


def test_model_columns_named_like_bookkeeping_columns(open_wh):
    con = open_wh()
    con.execute("CREATE TABLE things (id INTEGER, kind VARCHAR(10), checksum VARCHAR(10), attempts INTEGER)")
    con.insert_rows("things", ["id", "kind", "checksum", "attempts"], [(1, "a", "x", 0), (2, "b", "y", 0)])
    s = MappingSpec("sub_t", "SELECT * FROM things", "id", ["kind", "checksum", "attempts"])
    tracker = ChangeTracker(con, s)
    run = tracker.begin()
    rows = changed(tracker, run)
    assert rows["1"]["kind"] == "a" and rows["1"][KIND_COLUMN] == "new"
    tracker.ack(run, ["1"])
    tracker.fail(run, ["2"], "boom")
    tracker.finish(run)
    con.execute("UPDATE things SET kind = 'c' WHERE id = 2")
    run = tracker.begin()
    assert tracker.pending() == [
        ("2", checksum_of({"kind": "b", "checksum": "y", "attempts": "0"}), "new", 1)
    ]
    tracker.fail(run, ["2"], "again")
    assert tracker.pending() == [
        ("2", checksum_of({"kind": "c", "checksum": "y", "attempts": "0"}), "new", 2)
    ]
    tracker.finish(run)


def test_many_duplicates_are_summarised(open_wh):
    con = open_wh()
    rows = [(i, f"u{i}", "p", 0) for i in range(100, 130) for _ in range(3)]
    rows += [(i, f"u{i}", "p", 0) for i in range(1, 11)] + [(None, "x", "p", 0)] * 4
    make_users(con, rows)
    tracker = ChangeTracker(con, spec())
    dry = tracker.dry_run()
    run = tracker.begin()
    for keys in (dry.keys, run.keys):
        assert (keys.duplicate_ids, keys.duplicate_rows, keys.null_ids) == (30, 90, 4)
        assert keys.duplicate_examples == ("100", "101", "102", "103", "104")
    assert run.extracted == dry.extracted == 104
    assert run.counts.new == dry.counts.new == 10


def test_record_vanishing_between_diff_and_stream_is_not_sent_empty(open_wh):
    con = open_wh()
    make_users(con, BASE)
    tracker = ChangeTracker(con, spec())
    sync_all(tracker)
    con.execute("UPDATE users SET plan = 'x' WHERE user_id IN (1, 2)")
    run = tracker.begin()
    assert run.counts.updated == 2
    con.execute("DELETE FROM users WHERE user_id = 2")  # gone before the rows are read
    rows = changed(tracker, run)
    assert set(rows) == {"1"} and rows["1"]["plan"] == "x"
    tracker.ack(run, rows)
    assert tracker.finish(run).status == "partial"
    run = tracker.begin()
    assert {k: r[KIND_COLUMN] for k, r in changed(tracker, run).items()} == {"2": "deleted"}


def test_a_failure_recorded_before_origins_were_kept_is_retried_under_its_first_id(open_wh):
    """Upgrading keeps retries exact: a pending change from a table without origins keeps the id
    it was first sent under, and changes found from then on get ids with origins."""
    from segprof.sync.detect.ids import message_id
    from segprof.warehouses.managed_schema import ORIGIN_COLUMN, MappingTables, mapping_key

    con = open_wh()
    make_users(con, [(1, "a@x.io", "free", 1), (2, "b@x.io", "free", 2)])
    tables = MappingTables(mapping_key("sub_123"))
    # the layout of the version before: no origin, no outcome; record 1 failed once
    con.execute('CREATE SCHEMA IF NOT EXISTS "__segprof"')
    con.execute(
        f"CREATE TABLE {tables.pending} (id VARCHAR(100), checksum VARCHAR(100), kind VARCHAR(20), "
        "attempts INTEGER, first_failed_at TIMESTAMP, last_failed_at TIMESTAMP, last_run_id VARCHAR(100), "
        "last_error VARCHAR(1000))"
    )
    tracker = ChangeTracker(con, spec())
    preview = {r[ID_COLUMN]: r for b in tracker.preview() for r in b.to_pylist()}
    checksum = preview["1"][CHECKSUM_COLUMN]
    con.execute(
        f"INSERT INTO {tables.pending} VALUES ('1', '{checksum}', 'new', 1, TIMESTAMP '2026-12-01 00:00:00', "
        "TIMESTAMP '2026-12-01 00:00:00', 'old-run', '500')"
    )
    run = tracker.begin()
    rows = {r[ID_COLUMN]: r for b in tracker.stream(run) for r in b.to_pylist()}
    tracker.finish(run)
    assert rows["1"][ORIGIN_COLUMN] is None  # the id it was first sent under: the legacy formula
    assert message_id("sub_123", "1", checksum, "new", rows["1"][ORIGIN_COLUMN]) == message_id(
        "sub_123", "1", checksum, "new"
    )
    assert rows["2"][ORIGIN_COLUMN] == run.run_id
