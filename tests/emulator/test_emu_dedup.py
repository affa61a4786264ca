"""Dedup by messageId across the emulator's processes, restarts, clears and failed writes.

Each `TrackingApi` over its own `Store` stands for a process of its own (its own connections and its
own index of seen ids) sharing one data folder; test_emu_multiprocess.py runs real processes.
"""

from __future__ import annotations

import sqlite3

import pytest

from segprof.emulator import dedup
from segprof.emulator.store import DB_NAME, Store
from segprof.emulator.tracking import ACCEPTED, DUPLICATE, REJECTED, TrackingApi

NOW = "2026-01-01T00:00:00.000Z"


def identify(message_id: str, plan: str = "free", user: str = "u") -> dict:
    return {"type": "identify", "userId": user, "messageId": message_id, "traits": {"plan": plan}}


def api(folder) -> TrackingApi:
    return TrackingApi(Store(folder), write_key=None)


def outcomes(folder) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / DB_NAME) as conn:
        return conn.execute("SELECT message_id, outcome FROM messages ORDER BY seq").fetchall()


def refuse_requests(folder) -> None:
    """The disk refuses a request's row (as a full disk would), after its ids were claimed."""
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON requests BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )


def allow_requests(folder) -> None:
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute("DROP TRIGGER refuse")


def test_an_id_accepted_by_one_process_is_a_duplicate_in_another(tmp_path):
    first, second = api(tmp_path), api(tmp_path)
    assert first.ingest([identify("m-1")], NOW) == [ACCEPTED]
    assert second.ingest([identify("m-1", "pro"), identify("m-2")], NOW) == [DUPLICATE, ACCEPTED]
    # The first process catches up on what the second accepted since it last wrote.
    assert first.ingest([identify("m-2"), identify("m-3")], NOW) == [DUPLICATE, ACCEPTED]
    assert second.store.accepted_messages(profile_id="u")[0]["traits"] == {"plan": "free"}


def test_a_restarted_emulator_remembers_what_it_accepted(tmp_path):
    api(tmp_path).ingest([identify("m-1"), identify("m-2")], NOW)
    again = api(tmp_path)
    assert again.ingest([identify("m-2"), identify("m-1"), identify("m-3")], NOW) == [
        DUPLICATE,
        DUPLICATE,
        ACCEPTED,
    ]


def test_rejected_and_duplicate_copies_never_count_as_seen(tmp_path):
    tracking = api(tmp_path)
    no_user = {"type": "identify", "messageId": "m-1", "traits": {}}
    assert tracking.ingest([no_user, identify("m-1"), identify("m-1")], NOW) == [
        REJECTED,
        ACCEPTED,
        DUPLICATE,
    ]
    assert api(tmp_path).ingest([identify("m-1")], NOW) == [DUPLICATE]


def test_a_clear_by_another_process_forgets_the_ids_everywhere(tmp_path):
    first, second = api(tmp_path), api(tmp_path)
    assert first.ingest([identify("m-1")], NOW) == [ACCEPTED]
    assert second.store.clear_messages() == 1
    assert first.ingest([identify("m-1", "pro")], NOW) == [ACCEPTED]
    assert second.store.clear_messages() == 1  # every clear, not only the first
    assert first.ingest([identify("m-1", "team")], NOW) == [ACCEPTED]
    assert outcomes(tmp_path) == [("m-1", ACCEPTED)]
    assert first.store.accepted_messages(profile_id="u")[0]["traits"] == {"plan": "team"}


def test_a_write_that_fails_leaves_its_ids_unclaimed(tmp_path):
    tracking = api(tmp_path)
    tracking.ingest([identify("m-0")], NOW)
    refuse_requests(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        tracking.ingest([identify("m-1")], NOW)
    allow_requests(tmp_path)
    assert tracking.ingest([identify("m-1"), identify("m-0")], NOW) == [ACCEPTED, DUPLICATE]
    assert outcomes(tmp_path) == [("m-0", ACCEPTED), ("m-1", ACCEPTED), ("m-0", DUPLICATE)]


def test_a_folder_of_an_earlier_version_keeps_its_dedup(tmp_path):
    api(tmp_path).ingest([identify("m-1")], NOW)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the dedup table earlier versions kept
        conn.execute("CREATE TABLE seen_messages (message_id TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute("INSERT INTO seen_messages VALUES ('m-1')")
    tracking = api(tmp_path)
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "seen_messages" not in tables
    assert tracking.ingest([identify("m-1")], NOW) == [DUPLICATE]


@pytest.fixture()
def flush_every_three(monkeypatch):
    """The recent ids go to the `seen` index after three, as they do after tens of thousands."""
    monkeypatch.setattr(dedup, "FLUSH_AFTER", 3)


def test_ids_written_to_the_index_stay_duplicates_everywhere(tmp_path, flush_every_three):
    first = api(tmp_path)
    assert first.ingest([identify(f"m-{i}") for i in range(4)], NOW) == [ACCEPTED] * 4  # flushed
    second = api(tmp_path)  # reads only what came after the flush
    assert second.ingest([identify("m-2"), identify("m-9")], NOW) == [DUPLICATE, ACCEPTED]
    assert first.ingest([identify("m-9"), identify("m-0"), identify("m-8")], NOW) == [
        DUPLICATE,
        DUPLICATE,
        ACCEPTED,
    ]
    assert api(tmp_path).ingest([identify(f"m-{i}") for i in (0, 3, 8, 9, 7)], NOW) == [
        DUPLICATE,
        DUPLICATE,
        DUPLICATE,
        DUPLICATE,
        ACCEPTED,
    ]


def test_a_flush_in_a_write_that_fails_is_undone_with_it(tmp_path, monkeypatch):
    api(tmp_path).ingest([identify(f"m-{i}") for i in range(3)], NOW)  # not flushed yet
    monkeypatch.setattr(dedup, "FLUSH_AFTER", 3)
    refuse_requests(tmp_path)
    second = api(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        second.ingest([identify("m-3")], NOW)  # catches up on three, flushes, then fails
    allow_requests(tmp_path)
    assert second.ingest([identify("m-0"), identify("m-3")], NOW) == [DUPLICATE, ACCEPTED]
    assert api(tmp_path).ingest([identify("m-1"), identify("m-3"), identify("m-4")], NOW) == [
        DUPLICATE,
        DUPLICATE,
        ACCEPTED,
    ]


def test_a_clear_empties_the_index_too(tmp_path, flush_every_three):
    tracking = api(tmp_path)
    tracking.ingest([identify(f"m-{i}") for i in range(3)], NOW)
    api(tmp_path).store.clear_messages()
    assert api(tmp_path).ingest([identify("m-1")], NOW) == [ACCEPTED]
    assert tracking.ingest([identify("m-2"), identify("m-1")], NOW) == [ACCEPTED, DUPLICATE]
    assert tracking.ingest([identify("m-5")], NOW) == [ACCEPTED]  # the index is written again
    assert api(tmp_path).ingest([identify("m-0"), identify("m-5")], NOW) == [ACCEPTED, DUPLICATE]
