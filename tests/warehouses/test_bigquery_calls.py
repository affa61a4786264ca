"""BigQuery: the exact requests segprof makes through google-cloud-bigquery.

BigQuery cannot be reached from the tests, so the client library runs for real with its HTTP
session answered by a small stand-in of BigQuery's REST API (jobs.query, jobs.get,
jobs.getQueryResults with page tokens). The tests read the requests the library sent for segprof:
the job configuration, the query parameters and the paging.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("google.cloud.bigquery")

import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud.bigquery import dbapi
from requests.adapters import BaseAdapter

from segprof.warehouses import WarehouseError
from segprof.warehouses.dbapi_connector import DbApiConnector, bigquery_client

SCHEMA = {
    "fields": [
        {"name": "user_id", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "email", "type": "STRING", "mode": "NULLABLE"},
    ]
}
JOB = {"projectId": "acme-prod", "jobId": "job_1", "location": "EU"}
PAGE = 10  # rows per page of the stand-in


class BigQueryStandIn(BaseAdapter):
    """Answers BigQuery REST calls for a 25-row result in pages of 10; records every request."""

    def __init__(self, rows: int = 25, fail: str | None = None) -> None:
        super().__init__()
        self.rows = [(i, f"u{i}@example.com") for i in range(1, rows + 1)]
        self.fail = fail
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []

    def _page(self, start: int) -> dict[str, Any]:
        rows = self.rows[start : start + PAGE]
        out: dict[str, Any] = {
            "jobReference": JOB,
            "jobComplete": True,
            "schema": SCHEMA,
            "totalRows": str(len(self.rows)),
            "rows": [{"f": [{"v": str(a)}, {"v": b}]} for a, b in rows],
        }
        if start + PAGE < len(self.rows):
            out["pageToken"] = f"page-{start + PAGE}"
        return out

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        url = urlparse(request.url)
        query = parse_qs(url.query)
        body = json.loads(request.body) if request.body else None
        self.requests.append((request.method, url.path, query, body))
        status = 200
        if request.method == "POST" and url.path.endswith("/queries"):
            if self.fail:
                status, payload = (
                    400,
                    {"error": {"code": 400, "message": self.fail, "status": "INVALID_ARGUMENT"}},
                )
            else:
                payload = {"kind": "bigquery#queryResponse", **self._page(0)}
        elif "/queries/" in url.path:
            start = int(query["pageToken"][0].split("-")[1]) if "pageToken" in query else 0
            payload = {"kind": "bigquery#getQueryResultsResponse", **self._page(start)}
        else:  # jobs.get
            payload = {"kind": "bigquery#job", "jobReference": JOB, "status": {"state": "DONE"}}
        response = requests.Response()
        response.status_code = status
        response.headers["content-type"] = "application/json"
        response._content = json.dumps(payload).encode()
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    def queries(self) -> list[dict[str, Any]]:
        return [b for m, p, _, b in self.requests if m == "POST" and p.endswith("/queries")]


SETTINGS = {"project": "acme-prod", "dataset": "analytics", "location": "EU"}


def connector(standin: BigQueryStandIn, tmp_path: Path) -> DbApiConnector:
    session = requests.Session()
    session.is_mtls = False  # what google-auth's AuthorizedSession tells the client
    session.mount("https://", standin)
    client = bigquery_client(SETTINGS, credentials=AnonymousCredentials(), _http=session)
    return DbApiConnector(
        "bigquery", SETTINGS, tmp_path, "source.bq", connection=dbapi.connect(client=client)
    )


def test_query_job_configuration_and_parameters(tmp_path: Path):
    standin = BigQueryStandIn()
    con = connector(standin, tmp_path)
    rows = con.query_rows("SELECT user_id, email FROM users WHERE user_id > %s AND email <> %s", [0, "x"])
    assert len(rows) == 25 and rows[0] == (1, "u1@example.com")
    (job,) = standin.queries()
    assert job["query"] == "SELECT user_id, email FROM users WHERE user_id > ? AND email <> ?"
    assert job["useLegacySql"] is False and job["location"] == "EU"
    assert job["parameterMode"] == "POSITIONAL"
    assert job["queryParameters"] == [
        {"parameterType": {"type": "INT64"}, "parameterValue": {"value": "0"}},
        {"parameterType": {"type": "STRING"}, "parameterValue": {"value": "x"}},
    ]
    # unqualified tables resolve in the source's dataset; every job is labelled as segprof's
    assert job["defaultDataset"] == {"projectId": "acme-prod", "datasetId": "analytics"}
    assert job["labels"] == {"tool": "segprof"}
    paths = [p for _, p, _, _ in standin.requests]
    assert all(p.startswith("/bigquery/v2/projects/acme-prod/") for p in paths)


def test_results_are_paged_not_fetched_at_once(tmp_path: Path):
    standin = BigQueryStandIn()
    con = connector(standin, tmp_path)
    batches = list(con.stream_arrow("SELECT user_id, email FROM users", batch_rows=10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert batches[2].column("user_id").to_pylist() == list(range(21, 26))
    pages = [q.get("pageToken") for m, p, q, _ in standin.requests if m == "GET" and "/queries/" in p]
    assert [t for t in pages if t] == [["page-10"], ["page-20"]]  # each page asked for once, in order


def test_describe_reads_the_schema_of_an_empty_result(tmp_path: Path):
    standin = BigQueryStandIn(rows=0)
    con = connector(standin, tmp_path)
    columns = con.describe("SELECT user_id, email FROM users -- active ones")
    assert [(c.name, c.type) for c in columns] == [("user_id", "INTEGER"), ("email", "STRING")]
    (job,) = standin.queries()
    assert (
        job["query"]
        == "SELECT * FROM (\nSELECT user_id, email FROM users -- active ones\n) AS __segprof_q WHERE 1 = 0"
    )


def test_a_refused_query_is_a_clear_error(tmp_path: Path):
    con = connector(BigQueryStandIn(fail="Unrecognized name: emial at [1:17]"), tmp_path)
    with pytest.raises(WarehouseError) as err:
        con.query_rows("SELECT emial FROM users")
    assert "source.bq" in str(err.value) and "Unrecognized name: emial" in str(err.value)


def test_every_job_carries_the_statement_timeout(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", "1.5")
    standin = BigQueryStandIn()
    con = connector(standin, tmp_path)
    con.query_rows("SELECT user_id, email FROM users")
    con.describe("SELECT user_id FROM users")
    jobs = standin.queries()
    assert len(jobs) == 2 and all(job["jobTimeoutMs"] == "1500" for job in jobs)  # BigQuery cancels past it
    monkeypatch.delenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT")
    standin = BigQueryStandIn()
    connector(standin, tmp_path).query_rows("SELECT 1")
    assert "jobTimeoutMs" not in standin.queries()[0]
