"""Positions of problems inside the SQL text: exact line and column, counted in characters."""

from __future__ import annotations

import pytest
from sql_helpers import DIALECTS, pos

from segprof.sql.analyze import analyze_query
from segprof.sql.positions import LineIndex, position_of


def test_line_index_round_trip_with_every_line_break() -> None:
    text = "ab\ncd\r\nef\rgh"
    index = LineIndex(text)
    assert index.position(text.index("c")) == (2, 1)
    assert index.position(text.index("e")) == (3, 1)
    assert index.position(text.index("h")) == (4, 2)
    for offset in range(len(text)):
        if text[offset] not in "\r\n":
            assert index.offset(*index.position(offset)) == offset
            assert position_of(text, offset) == index.position(offset)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_on_first_line(dialect: str) -> None:
    sql = "select a b c from t"
    problem = analyze_query(sql, dialect).problems[0]
    assert problem.code == "sql.parse"
    assert (problem.line, problem.col) == pos(sql, "c from")
    assert "'c'" in problem.message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_on_a_later_line(dialect: str) -> None:
    sql = "select a\nfrom t\nwhere x = = 1"
    problem = analyze_query(sql, dialect).problems[0]
    assert problem.code == "sql.parse"
    assert (problem.line, problem.col) == (3, 11) == pos(sql, "=", nth=1)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_after_a_tab_counts_the_tab_as_one_column(dialect: str) -> None:
    sql = "select a,\n\t(b + from t"
    problem = analyze_query(sql, dialect).problems[0]
    assert problem.code == "sql.parse"
    assert (problem.line, problem.col) == (2, 7) == pos(sql, "from")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_after_multibyte_characters_counts_characters(dialect: str) -> None:
    sql = "select 'héllo wörld ✓' as greeting,\n  'ünï' as x, (b + from t"
    problem = analyze_query(sql, dialect).problems[0]
    assert problem.code == "sql.parse"
    # Characters, not UTF-8 bytes: 'ü' and 'ï' are one column each.
    assert (problem.line, problem.col) == (2, 20) == pos(sql, "from")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_with_windows_line_breaks(dialect: str) -> None:
    sql = "select a\r\nfrom t\r\nwhere x = = 1"
    problem = analyze_query(sql, dialect).problems[0]
    assert (problem.line, problem.col) == (3, 11)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_parse_error_message_is_plain_text(dialect: str) -> None:
    sql = "select a, (b + from t"
    for problem in analyze_query(sql, dialect).problems:
        assert "\x1b" not in problem.message
        assert "<Token" not in problem.message and "<class" not in problem.message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unterminated_string_points_at_its_opening_quote(dialect: str) -> None:
    sql = "select a,\n  'oops as b\nfrom t"
    analysis = analyze_query(sql, dialect)
    assert [p.code for p in analysis.problems] == ["sql.parse"]
    problem = analysis.problems[0]
    assert (problem.line, problem.col) == pos(sql, "'oops")
    assert "unterminated" in problem.message


def test_unterminated_quoted_identifier_and_comment() -> None:
    sql = 'select\n  "user_id from t'
    problem = analyze_query(sql, "postgres").problems[0]
    assert (problem.line, problem.col) == pos(sql, '"user_id')
    assert "identifier" in problem.message

    sql = "select a from t\n/* never closed"
    problem = analyze_query(sql, "postgres").problems[0]
    assert (problem.line, problem.col) == pos(sql, "/*")
    assert "comment" in problem.message


def test_multiline_string_before_the_error_keeps_lines_exact() -> None:
    sql = "select 'line one\nline two' as s,\n  (b + from t"
    problem = analyze_query(sql, "postgres").problems[0]
    assert (problem.line, problem.col) == (3, 8) == pos(sql, "from")


def test_positions_of_semantic_problems_are_token_starts() -> None:
    sql = "select\n\tüser_näme,\n\tupper(x),\n\tüser_näme\nfrom t"
    analysis = analyze_query(sql, "postgres")
    unnamed = next(p for p in analysis.problems if p.code == "sql.unnamed_column")
    assert (unnamed.line, unnamed.col) == (3, 2)
    dup = next(p for p in analysis.problems if p.code == "sql.duplicate_column")
    assert (dup.line, dup.col) == (4, 2)
