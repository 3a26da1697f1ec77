"""The first hour of a new user: `offramp validate` says everything wrong with a job at
once, in words that say what to write (setting typos, numbers where text is expected,
SQL syntax errors with a caret, column suggestions that make sense)."""

from __future__ import annotations

import pytest

from connector.validation.syntax import explain

META = ("SELECT amperity_id AS external_id, email, uit.order_id, item_quantity AS quantity, "
        "order_datetime AS timestamp, CAST(item_revenue AS DOUBLE) AS price, 'USD' AS currency "
        "FROM Unified_Itemized_Transactions uit JOIN Customer_360 USING (amperity_id)")


def _invalid(cli_runner, job: str) -> str:
    result = cli_runner("validate", job)
    assert result.exit_code == 1, result.output
    assert "invalid:" in result.stderr and "Traceback" not in result.stderr
    return result.stderr


def test_every_problem_of_every_stage_is_listed_at_once(project, cli_runner) -> None:
    sql = META.replace("email,", "emial AS email,")
    project.write_job("both", sql, "meta", dataset_id="123456789", default_contry="US")
    stderr = _invalid(cli_runner, "both")
    assert "setting `default_contry` in both.sql: the meta destination has no such setting; " \
           "did you mean `default_country`?" in stderr
    assert "column 'emial' is not in the warehouse tables the query reads; did you mean " \
           "email?" in stderr


def test_settings_and_the_contract_are_listed_together(project, cli_runner) -> None:
    project.write_job("two", META.replace("item_quantity AS quantity, ", ""), "meta",
                      dataset_id="123456789", default_contry="US")
    stderr = _invalid(cli_runner, "two")
    assert "did you mean `default_country`?" in stderr
    assert "column `quantity` is missing" in stderr


def test_a_number_where_text_is_expected_says_to_quote_it(project, cli_runner) -> None:
    project.write_job("number", META, "meta", dataset_id=123456789012345)
    stderr = _invalid(cli_runner, "number")
    assert ("setting `dataset_id` in number.sql: is a number, but this setting is text: put "
            'it in quotes, dataset_id = "123456789012345"') in stderr
    assert "Input should be" not in stderr


def test_an_unknown_setting_far_from_any_lists_the_settings(project, cli_runner) -> None:
    project.write_job("far", "SELECT amperity_id AS id FROM Customer_360", "jsonl",
                      zzz_unrelated="x")
    stderr = _invalid(cli_runner, "far")
    assert "the jsonl destination has no such setting (its settings: path)" in stderr
    assert "Extra inputs" not in stderr


@pytest.mark.parametrize(("sql", "caret_line", "sentence"), [
    ("SELEC * FROM t", "^^^^^", "`SELEC` is not a SQL keyword: did you mean SELECT?"),
    ("SELECT a FROM t WHER x = 1", " " * 16 + "^^^^",
     "`WHER` is not a SQL keyword: did you mean WHERE?"),
    ("SELECT * FORM t", " " * 9 + "^^^^", "`FORM` is not a SQL keyword: did you mean FROM?"),
    ("SELECT (a FROM t", " " * 10 + "^^^^", "a closing parenthesis `)` is missing before `FROM`"),
    ("SELECT 'abc FROM t", " " * 7 + "^", "a quoted text or name is not closed"),
])
def test_a_syntax_error_shows_the_line_a_caret_and_a_plain_sentence(sql, caret_line,
                                                                    sentence) -> None:
    import sqlglot

    with pytest.raises(Exception) as raised:
        sqlglot.parse(sql, dialect="duckdb")
    message = explain(sql, raised.value, first_line=5)
    header, shown, caret, said = message.splitlines()
    assert header.startswith("the SQL does not parse at line 5, column ")
    assert shown == f"    {sql}" and caret == f"    {caret_line}"
    assert said.strip().startswith(sentence)
    assert "sqlglot" not in message and "<class" not in message


def test_a_syntax_error_names_the_line_of_the_job_file(project, cli_runner) -> None:
    path = project.write_job("typo", "SELECT amperity_id AS id\nFROM Customer_360\nWHER 1 = 1")
    stderr = _invalid(cli_runner, "typo")
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("WHER"))
    assert f"the SQL does not parse at line {number}, column 1:" in stderr
    assert "    WHER 1 = 1\n    ^^^^\n" in stderr
    assert "did you mean WHERE?" in stderr


def test_a_missing_column_is_not_matched_to_one_the_contract_already_uses(project,
                                                                          cli_runner) -> None:
    sql = META.replace("amperity_id AS external_id, ", "")
    project.write_job("noext", sql, "meta", dataset_id="123456789")
    stderr = _invalid(cli_runner, "noext")
    assert "column `external_id` is missing" in stderr
    assert "did you mean order_id" not in stderr


@pytest.mark.parametrize("sql", ["SELECT uit.order_id FROM t uit WHERE", "SELECT a AS form, FROM",
                                 "SELECT colum1 FROM t WHERE ("])
def test_names_are_not_taken_for_misspelled_keywords(sql) -> None:
    import sqlglot

    with pytest.raises(Exception) as raised:
        sqlglot.parse(sql, dialect="duckdb")
    assert "did you mean" not in explain(sql, raised.value)
