"""Where a mapped column went: a model edit that renames or wraps a column names the model's line."""

from __future__ import annotations

from pathlib import Path

from segprof.sql.analyze import OutputColumn, analyze_query
from segprof.validate import validate_project

PROJECT = """\
version: 1
sources: {{w: {{type: duckdb, path: w.duckdb}}}}
models:
  users:
    identifier: {identifier}
    {query}
destinations: {{d: {{}}}}
mappings:
  x:
    model: users
    destination: d
    action: send_identify
    fields:
      user_id: user_id
      traits: {{first: first_name, mail: email}}
"""


def project(root: Path, sql: str, *, identifier: str = "user_id", inline: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if inline:
        body = "\n".join("      " + line for line in sql.splitlines())
        query = "query: |\n" + body
    else:
        (root / "users.sql").write_text(sql)
        query = "query_file: users.sql"
    (root / "segprof.yaml").write_text(PROJECT.format(identifier=identifier, query=query))
    return root


def errors(root: Path) -> list[tuple[str, str, str | None]]:
    report = validate_project(root, environ={})
    return [(d.code, d.message, d.hint) for d in report.errors]


def test_output_columns_know_their_line_and_what_they_read() -> None:
    sql = "SELECT\n  u.user_id,\n  u.first_name AS given,\n  lower(email) AS mail, 1 AS one\nFROM users u"
    columns = analyze_query(sql, "duckdb", None, origins=True).columns
    assert [(c.name, c.line, c.reads, c.bare) for c in columns] == [
        ("user_id", 2, ("user_id",), True),
        ("given", 3, ("first_name",), True),
        ("mail", 4, ("email",), False),
        ("one", 4, (), False),
    ]
    # Origins are extra knowledge, not identity: two equal result sets stay equal.
    assert columns[1] == OutputColumn("given", None)


def test_a_renamed_column_names_the_line_of_the_model(tmp_path: Path) -> None:
    root = project(tmp_path, "SELECT\n  user_id,\n  first_name AS given_name,\n  email\nFROM users\n")
    [(code, message, hint)] = errors(root)
    assert code == "columns.unknown"
    assert message.endswith("is not in the output of model `users`: users.sql:3 renames it to `given_name`")
    assert message.startswith("column `first_name` (field traits.first)")
    assert hint == "map `given_name` instead, or keep `first_name` in the model's select list"


def test_a_column_used_only_inside_expressions_is_named_with_them(tmp_path: Path) -> None:
    sql = "SELECT user_id,\n  upper(first_name) AS shout,\n  email,\n  length(first_name) AS n\nFROM users"
    root = project(tmp_path, sql)
    [(_, message, hint)] = errors(root)
    assert message.endswith("users.sql:2 uses it only in `shout`, `n`")
    assert hint is not None and hint.startswith("map `shout`, `n` instead")


def test_an_inline_query_points_into_the_config_file(tmp_path: Path) -> None:
    root = project(tmp_path, "SELECT user_id,\n  email AS address,\n  first_name\nFROM users", inline=True)
    [(_, message, _)] = errors(root)
    lines = (root / "segprof.yaml").read_text().splitlines()
    expected = next(i for i, line in enumerate(lines, start=1) if "email AS address" in line)
    assert message.endswith(f"segprof.yaml:{expected} renames it to `address`")


def test_a_renamed_identifier_says_how_to_follow_it(tmp_path: Path) -> None:
    root = project(tmp_path, "SELECT user_id AS uid,\n  first_name, email FROM users", identifier="user_id")
    found = {code: (message, hint) for code, message, hint in errors(root)}
    message, hint = found["columns.unknown_identifier"]
    assert message.endswith("users.sql:1 renames it to `uid`")
    assert hint == "set `identifier: uid`, or keep `user_id` in the model's select list"


def test_a_removed_column_points_at_the_final_select_list_and_suggests(tmp_path: Path) -> None:
    root = project(tmp_path, "-- users\nSELECT user_id, first_name, emails FROM users\n")
    [(_, message, hint)] = errors(root)
    assert message.endswith("is not in the output of model `users` (select list at users.sql:2)")
    assert hint is not None and hint.startswith("did you mean `emails`?")
    # Past the CTEs, to the select list that makes the output.
    sql = "WITH u AS (\n  SELECT user_id, email, first_name FROM users\n)\nSELECT\n  user_id,\n  email\nFROM u\n"
    [(_, message, _)] = errors(project(tmp_path / "cte", sql))
    assert message.endswith("(select list at users.sql:5)")


DBT_STYLE = """\
WITH source AS (
    SELECT * FROM raw_users
),
renamed AS (
    SELECT
        id AS user_id,
        first_name AS given_name,
        email
    FROM source
)
SELECT * FROM renamed
"""


def test_a_rename_inside_a_cte_is_found_through_the_star(tmp_path: Path) -> None:
    [(_, message, hint)] = errors(project(tmp_path, DBT_STYLE))
    assert message.endswith("users.sql:7 renames it to `given_name`")
    assert hint is not None and hint.startswith("map `given_name` instead")


def test_a_rename_inside_a_subquery_is_found_through_qualified_columns(tmp_path: Path) -> None:
    sql = "SELECT s.user_id, s.given, s.email FROM (\n  SELECT user_id, email,\n  first_name AS given FROM users\n) s"
    [(_, message, _)] = errors(project(tmp_path, sql))
    assert message.endswith("users.sql:3 renames it to `given`")


def test_a_removal_behind_a_star_points_at_the_list_that_defines_the_output(tmp_path: Path) -> None:
    sql = DBT_STYLE.replace("        first_name AS given_name,\n", "")
    [(_, message, _)] = errors(project(tmp_path, sql))
    assert message.endswith("(select list at users.sql:6)")


def test_origins_never_break_analysis_of_unusual_queries() -> None:
    for sql in (
        "WITH a AS (SELECT 1 AS x) SELECT * FROM a UNION ALL SELECT 2",
        "WITH a AS (SELECT x FROM t), b AS (SELECT * FROM a) SELECT b.* FROM b JOIN a ON true",
        "SELECT * FROM (SELECT * FROM (SELECT 1 AS deep) q) r",
        "VALUES (1, 'a'), (2, 'b')",
    ):
        analysis = analyze_query(sql, "duckdb", None, origins=True)
        assert analysis.ok, sql
        assert analysis.columns == analyze_query(sql, "duckdb", None).columns
