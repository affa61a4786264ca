import pytest


@pytest.mark.postgres
def test_throwaway_server_accepts_queries(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE t (id int primary key, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        assert conn.execute("SELECT count(*), max(v) FROM t").fetchone() == (2, "b")
