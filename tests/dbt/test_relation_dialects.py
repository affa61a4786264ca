"""The select a `{dbt: …}` model becomes, in each source's dialect."""

from __future__ import annotations

from segprof.config.dbt_models import select_query
from segprof.dbt.columns import DbtColumns
from segprof.validate import validate_project


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def test_snowflake_relation_without_its_own_database() -> None:
    columns = DbtColumns(["USER_ID", "EMAIL"], {}, "catalog")
    sql = select_query("ANALYTICS.MARTS.DIM_USERS", "snowflake", columns, "analytics")
    assert _one_line(sql) == "SELECT USER_ID, EMAIL FROM MARTS.DIM_USERS"


def test_bigquery_relation_in_another_project_keeps_it() -> None:
    columns = DbtColumns(["user_id"], {}, "compiled SQL")
    sql = select_query("`acme-prod`.`marts`.`dim_users`", "bigquery", columns, "acme-dev")
    assert _one_line(sql) == "SELECT user_id FROM `acme-prod`.`marts`.`dim_users`"


def test_documented_columns_alone_select_everything() -> None:
    """Documentation may leave columns out: the query must not drop the undocumented ones."""
    columns = DbtColumns(["user_id"], {}, "documentation")
    assert _one_line(select_query('"db"."main"."x"', "postgres", columns, "db")) == 'SELECT * FROM "main"."x"'


def test_postgres_source_reading_the_dbt_database(segprof_project):
    folder = segprof_project()
    path = folder / "segprof.yaml"
    path.write_text(
        path.read_text().replace(
            "    type: duckdb\n    path: ../warehouse.duckdb\n",
            "    type: postgres\n    host: 127.0.0.1\n    database: warehouse\n    user: reader\n",
        )
    )
    report = validate_project(folder)
    assert report.ok, [d.to_json() for d in report.diagnostics]
    assert _one_line(report.project.models["users"].sql.text) == (
        'SELECT user_id, first_name, email, plan, signed_up_at FROM "main"."dim_users"'
    )
    path.write_text(path.read_text().replace("database: warehouse", "database: crm"))
    (problem,) = validate_project(folder).errors
    assert problem.code == "dbt.other_database"
