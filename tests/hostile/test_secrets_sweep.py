"""Secrets sweep: plant a write key and an API token, run the commands a CI job runs (against an
endpoint that echoes requests back, as some proxies do), and search every output and every file the
commands wrote for the secrets in every encoding they take on the wire."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segprof.redaction import MASK, Redactor, redact
from tests.hostile.badserver import bad_server
from tests.hostile.conftest import WRITE_KEY

TOKEN = "sgp_Planted/Api+Token=99"


def encodings(secret: str) -> dict[str, str]:
    """The forms a secret takes on the wire (built here independently of segprof's own list)."""
    return {
        "raw": secret,
        "basic": base64.b64encode(f"{secret}:".encode()).decode(),
        "base64": base64.b64encode(secret.encode()).decode(),
        "url": quote(secret, safe=""),
        "url-plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }


def find_planted(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    return [
        f"{name} {form}"
        for secret in (WRITE_KEY, TOKEN)
        for form_name, form in encodings(secret).items()
        for name in [form_name]
        if form.encode() in data
    ]


def _files_and_tables(project: Path) -> dict[str, bytes]:
    """Every file under the project but the config itself, and the warehouse's rows as text.

    The embedded workspace's own store (.segprof/emulator/) is left out: it stands for Segment,
    which holds the write key to run the workspace's syncs, as the real one does."""
    found: dict[str, bytes] = {}
    emulator = project / ".segprof" / "emulator"
    for path in project.rglob("*"):
        if path.is_relative_to(emulator):
            continue
        if path.is_file() and path.name not in {"segprof.yaml", ".env"}:
            found[str(path.relative_to(project))] = path.read_bytes()
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        for schema, table in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall():
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            found[f"warehouse:{schema}.{table}"] = repr(rows).encode()
    return found


@pytest.mark.slow
def test_no_command_prints_or_stores_a_planted_secret(project: Path, tmp_path: Path, cli) -> None:
    config = project / "segprof.yaml"
    with bad_server("echo") as echo:
        text = config.read_text().replace(WRITE_KEY, "'${PROFILES_WRITE_KEY}'")
        text = text.replace("region: north_america,", f"region: north_america, tracking_url: '{echo.url}/v1',")
        text = text.replace("    on: [new, updated]\n", "    on: [new, updated]\n    self_hosted: true\n")
        text = text.replace("workspace: {backend: local}", "workspace: {backend: local, token: '${SEGMENT_API_TOKEN}'}")
        config.write_text(text)
        (project / ".env").write_text(f"PROFILES_WRITE_KEY={WRITE_KEY}\nSEGMENT_API_TOKEN={TOKEN}\n")
        plan_file = tmp_path / "plan.json"
        outputs: dict[str, str] = {}
        for args in (
            ("validate",),
            ("validate", "--format", "json"),
            ("plan", "--out", str(plan_file)),
            ("plan", "--format", "json"),
            ("plan", "--format", "markdown"),
            ("apply", str(plan_file)),
            ("sync", "--all", "--self-hosted"),
            ("sync", "--all", "--self-hosted", "--format", "json"),
            ("syncs",),
            ("state", "show"),
        ):
            outcome = cli(*args, "-C", str(project))
            outputs[" ".join(args)] = outcome.text
        # the endpoint did receive the key (so the echo really held it)
        assert echo.requests and find_planted(echo.requests[0].headers.get("Authorization", ""))
    run_ids = [line.split()[0] for line in outputs["syncs"].splitlines() if line.strip()]
    assert run_ids, outputs["syncs"]
    outputs["syncs show"] = cli("syncs", "show", run_ids[0], "-C", str(project)).text
    assert "rejected by the Tracking API" in outputs["sync --all --self-hosted"]
    assert MASK in outputs["sync --all --self-hosted"]  # the echoed credential was there, masked
    leaks = {name: find_planted(text) for name, text in outputs.items() if find_planted(text)}
    leaks |= {name: find_planted(data) for name, data in _files_and_tables(project).items() if find_planted(data)}
    leaks |= {"plan file": find_planted(plan_file.read_bytes())} if find_planted(plan_file.read_bytes()) else {}
    assert not leaks, leaks


@settings(max_examples=150, deadline=None)
@given(
    secret=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=8,
        max_size=40,
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_every_encoding_of_any_secret_is_scrubbed(secret: str, before: str, after: str) -> None:
    for form in encodings(secret).values():
        scrubbed = Redactor(secret).scrub(f"{before}{form}{after}")
        assert form not in scrubbed or form in before + after


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Basic " + base64.b64encode(b"someone-elses-key:").decode(),
        "authorization: bearer eyJhbGciOi.J9.payload",
        '{"writeKey": "not-registered-anywhere"}',
        "Authorization=Basic%20" + quote(base64.b64encode(b"k3y-from-elsewhere:").decode(), safe=""),
    ],
)
def test_wire_credentials_are_scrubbed_even_when_unknown(text: str) -> None:
    scrubbed = redact(text)
    assert MASK in scrubbed
    for word in ("someone-elses", "eyJhbGciOi", "not-registered", "k3y-from"):
        assert word not in scrubbed


def test_ordinary_words_survive() -> None:
    text = "basic auth failed; the bearer of the write_key ${PROFILES_WRITE_KEY} should check it"
    assert redact(text) == text
