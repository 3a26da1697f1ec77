"""The transpile step, DuckDB -> Spark SQL: each mapping, each refusal. No Spark needed."""

from __future__ import annotations

import pytest

from connector.engines.spark.sql.text import java_time_format
from connector.engines.spark.sql.transpile import TranspileError, to_spark

MAPPED = [
    # (DuckDB SQL, text the Spark SQL must contain, start of the note)
    ("SELECT regexp_full_match(e, '[^@\\s]+@[^@\\s]+')",
     "e RLIKE '^(?:[^@\\\\s]+@[^@\\\\s]+)\\\\z'", "mapped regexp_full_match(x, p)"),
    ("SELECT regexp_full_match(e, 'ab', 'i')", "e RLIKE '(?i)^(?:ab)\\\\z'",
     "mapped regexp_full_match"),
    ("SELECT regexp_matches(p, '^\\s*(\\+|00)')", "p RLIKE '^\\\\s*(\\\\+|00)'",
     "regexp_matches(x, p) -> x RLIKE p"),
    ("SELECT regexp_matches(p, 'x', 'i')", "p RLIKE '(?i)x'", "regexp_matches"),
    ("SELECT regexp_replace(p, '[^0-9]', '', 'g')", "REGEXP_REPLACE(p, '[^0-9]', '')",
     "mapped regexp_replace(x, p, r, 'g')"),
    ("SELECT regexp_replace(p, '(a)(b)', '\\2\\1$', 'g')",
     "REGEXP_REPLACE(p, '(a)(b)', '$2$1\\\\$')", "mapped regexp_replace"),
    ("SELECT to_json(name)",
     "NULLIF(REGEXP_EXTRACT(TO_JSON(ARRAY(name), MAP('ignoreNullFields', 'false')), "
     "'(?s)^\\\\[(.*)\\\\]$'), 'null')", "mapped to_json(x)"),
    ("SELECT json_object('a', x, 'b', 1)",
     "TO_JSON(NAMED_STRUCT('a', x, 'b', 1), MAP('ignoreNullFields', 'false'))",
     "mapped json_object"),
    ("SELECT count(*) FILTER (WHERE r IS NULL) OVER (PARTITION BY k) FROM t",
     "COUNT(CASE WHEN r IS NULL THEN 1 END) OVER (PARTITION BY k)",
     "mapped agg(x) FILTER (WHERE c) OVER"),
    ("SELECT l[i].p, l[2]", "ELEMENT_AT(l, i).p, l[1]", "mapped l[i] (i computed)"),
    ("SELECT isfinite(price)", "ABS(price) < CAST('Infinity' AS DOUBLE)", "mapped isfinite(x)"),
    ("SELECT isnan(price)", "CASE WHEN price IS NULL THEN NULL ELSE ISNAN(price) END",
     "mapped isnan(x)"),
    ("SELECT epoch(CAST(ts AS TIMESTAMPTZ))",
     "UNIX_MICROS(CAST(CAST(ts AS TIMESTAMP) AS TIMESTAMP)) / 1000000", "mapped epoch(t)"),
    ("SELECT try_strptime(b, ['%Y-%m-%d', '%m/%d/%Y', '%B %d, %Y'])",
     "COALESCE(TRY_TO_TIMESTAMP(b, 'yyyy-M-d'), TRY_TO_TIMESTAMP(b, 'M/d/yyyy'), "
     "TRY_TO_TIMESTAMP(b, 'MMMM d, yyyy'))", "mapped try_strptime(x, [fmt, ...])"),
    ("SELECT try_strptime(b, '%Y%m%d')", "TRY_TO_TIMESTAMP(b, 'yyyyMMdd')",
     "mapped try_strptime(x, fmt)"),
    ("SELECT strptime(b, '%Y-%m-%dT%H:%M:%S')", "TO_TIMESTAMP(b, 'yyyy-M-d\\'T\\'H:mm:ss')",
     "mapped strptime(x, fmt)"),
    ("SELECT strftime(d, '%Y%m%d')", "DATE_FORMAT(d, 'yyyyMMdd')", "mapped strftime"),
    ("SELECT string_agg(DISTINCT c, ', ' ORDER BY c) FROM t GROUP BY o",
     "CASE WHEN SIZE(COLLECT_SET(c)) > 0 THEN ARRAY_JOIN(ARRAY_SORT(COLLECT_SET(c)), ', ') END",
     "mapped string_agg(DISTINCT x"),
    ("SELECT string_agg(DISTINCT c, ', ' ORDER BY c DESC) FROM t GROUP BY o",
     "ARRAY_JOIN(REVERSE(ARRAY_SORT(COLLECT_SET(c))), ', ')", "mapped string_agg(DISTINCT x"),
    ("SELECT string_agg(j, ',' ORDER BY p, q) FILTER (WHERE p IS NOT NULL) FROM t GROUP BY o",
     "ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT('k0', p, 'k1', q, 'v', j)) "
     "FILTER(WHERE NOT p IS NULL), (l, r) -> CASE WHEN l.k0 IS NULL AND r.k0 IS NULL",
     "mapped string_agg(x, sep ORDER BY k)"),
    ("SELECT string_agg(j) FROM t", "CASE WHEN SIZE(COLLECT_LIST(j)) > 0 THEN "
     "ARRAY_JOIN(COLLECT_LIST(j), ',') END", "mapped string_agg(x, sep)"),
    ("SELECT list(j ORDER BY p DESC NULLS FIRST) FROM t",
     "WHEN l.k0 IS NULL THEN -1 WHEN r.k0 IS NULL THEN 1 WHEN l.k0 < r.k0 THEN 1",
     "mapped list(x ORDER BY k)"),
    ("SELECT row_number() OVER () AS n FROM t", "MONOTONICALLY_INCREASING_ID() + 1 AS n",
     "mapped row_number() OVER ()"),
    ("SELECT row_number() OVER (PARTITION BY o) FROM t",
     "ROW_NUMBER() OVER (PARTITION BY o ORDER BY MONOTONICALLY_INCREASING_ID() NULLS LAST)",
     "mapped row_number() OVER (PARTITION BY p)"),
    ("SELECT a / b", "TRY_DIVIDE(CAST(a AS DOUBLE), CAST(b AS DOUBLE))", "mapped a / b"),
    ("SELECT a // b", "CASE WHEN b = 0 THEN NULL ELSE a DIV b END", "mapped a // b"),
    ("SELECT NULL AS fbc, 1 AS x", "CAST(NULL AS STRING) AS fbc", "mapped NULL AS x"),
    ("SELECT ltrim(d, '0')", "TRIM(LEADING '0' FROM d)", "ltrim(x, chars)"),
    ("SELECT starts_with(d, '44')", "STARTSWITH(d, '44')", "starts_with(a, b)"),
    ("SELECT position('\"em\":' IN u)", "LOCATE('\"em\":', u)", "position(a IN b)"),
    ("SELECT sha256(e)", "SHA2(e, 256)", "sha256(x) -> sha2(x, 256)"),
    ("SELECT hash(a, b), hash('x', b, a)", "XXHASH64(a, b), XXHASH64('x', b, a)",
     "mapped hash(...) -> xxhash64(...)"),
    ("SELECT a IS NOT DISTINCT FROM b", "a IS NOT DISTINCT FROM b", "IS NOT DISTINCT FROM"),
    ("SELECT count(*) FILTER (WHERE q IS NULL) FROM t", "COUNT(*) FILTER(WHERE q IS NULL)",
     "aggregate FILTER (WHERE ...) kept"),
    ("WITH r(k, v) AS (VALUES ('a', 1), ('b', NULL)) SELECT * FROM r",
     "r(k, v) AS (SELECT * FROM VALUES ('a', 1), ('b', NULL) AS _values)", "VALUES in a CTE"),
    ("SELECT CAST(ts AS TIMESTAMPTZ)", "CAST(ts AS TIMESTAMP)", "CAST(x AS TIMESTAMPTZ)"),
    ("SELECT count(DISTINCT c), count(DISTINCT a) FILTER (WHERE b), count(DISTINCT d, e) "
     "FROM t", "SIZE(COLLECT_SET(c)), SIZE(COLLECT_SET(a) FILTER(WHERE b)), COUNT(DISTINCT d, e)",
     "mapped count(DISTINCT x) beside other DISTINCT aggregates"),
    ("SELECT format('{} items, 5%', n)",
     "CASE WHEN n IS NULL THEN NULL ELSE FORMAT_STRING('%s items, 5%%', n) END",
     "mapped format('... {} ...', x)"),
    ("SELECT count(*) FILTER (WHERE r IS NULL) OVER (PARTITION BY k) FROM t",
     "COUNT(CASE WHEN r IS NULL THEN 1 END) OVER (PARTITION BY k)",
     "mapped agg(x) FILTER (WHERE c) OVER (...)"),
]


@pytest.mark.parametrize(("duckdb", "spark", "note"), MAPPED)
def test_each_mapping_is_applied_and_reported(duckdb: str, spark: str, note: str):
    result = to_spark(duckdb)
    assert spark in result.sql
    assert any(line.startswith(note) for line in result.notes), result.notes


def test_notes_count_repeats_and_nested_mappings_all_apply():
    result = to_spark("SELECT sha256(regexp_replace(lower(to_json(x)), '\\s', '', 'g')), "
                      "sha256(y) FROM t")
    assert "SHA2(REGEXP_REPLACE(LOWER(NULLIF(REGEXP_EXTRACT(TO_JSON(ARRAY(x), " in result.sql
    assert "sha256(x) -> sha2(x, 256) (sqlglot) (2x)" in result.notes


REFUSED = [
    ("SELECT regexp_replace(p, 'x', 'y')", "regexp_replace() without the 'g' option"),
    ("SELECT regexp_replace(p, 'x', r, 'g')", "computed replacement"),
    ("SELECT regexp_matches(p, 'x', 'm')", "regexp_matches() option(s) 'm'"),
    ("SELECT try_strptime(b, fmt)", "try_strptime() with a computed format"),
    ("SELECT strftime(d, '%Q')", "specifier %Q"),
    ("SELECT rank() OVER () FROM t", "RANK() OVER (...) without ORDER BY"),
    ("SELECT string_agg(DISTINCT c, ',' ORDER BY d) FROM t", "string_agg(DISTINCT x ORDER BY y)"),
    ("SELECT json_object(k, 1)", "json_object() with computed keys"),
    ("SELECT format('{:d} items', n)", "{:...} specifiers"),
    ("SELECT string_agg(s, ',') FILTER (WHERE c) OVER () FROM t", "FILTER (...) OVER (...)"),
]


@pytest.mark.parametrize(("duckdb", "message"), REFUSED)
def test_what_has_no_faithful_mapping_fails_naming_it(duckdb: str, message: str):
    with pytest.raises(TranspileError, match="^the query: .*" + _escape(message)):
        to_spark(duckdb)


def test_a_function_spark_does_not_have_fails_in_the_transpile_step():
    with pytest.raises(TranspileError, match=r"the job's query: the function levenshtein_x\(\)"):
        to_spark("SELECT levenshtein_x(a, b), upper(a) FROM t", what="the job's query",
                 functions={"upper", "lower"})
    assert to_spark("SELECT my_udf(a) FROM t", functions={"my_udf"}).sql == \
        "SELECT MY_UDF(a) FROM t"


def test_sql_nested_too_deeply_is_refused_not_a_crash():
    deep = "SELECT " + "(" * 2_000 + "1" + ")" * 2_000 + " AS x"
    with pytest.raises(TranspileError, match="^the job's query nests too deeply for the SQL "
                                             "parser"):
        to_spark(deep, what="the job's query")


def test_sql_that_does_not_parse_is_refused():
    with pytest.raises(TranspileError, match="does not parse as DuckDB SQL"):
        to_spark("SELECT FROM WHERE (")


@pytest.mark.parametrize(("fmt", "parse", "java"), [
    ("%Y-%m-%d", True, "yyyy-M-d"),
    ("%Y-%m-%d", False, "yyyy-MM-dd"),
    ("%Y%m%d", True, "yyyyMMdd"),
    ("%d.%m.%Y %H:%M", True, "d.M.yyyy H:mm"),
    ("%d %b %Y", True, "d MMM yyyy"),
    ("%Y-%m-%dT%H:%M:%S.%f", False, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"),
    ("%d o'clock %%", False, "dd' o''clock %'"),
])
def test_time_formats_become_java_patterns(fmt: str, parse: bool, java: str):
    assert java_time_format(fmt, parse=parse) == java


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_the_other_destinations_shaping_sql_transpiles():
    """Only Meta runs end to end on Spark in these tests; the others' shaping SQL at least
    transpiles without a refusal (docs/spark.md says so)."""
    import datetime as dt

    from connector.kit.destination import RunContext
    from plugins.iqm import IqmDestination, IqmSettings
    from plugins.microsoft.destination import MicrosoftAdsDestination
    from tests.microsoft.conftest import settings_for

    context = RunContext("job", dt.datetime(2026, 10, 2, tzinfo=dt.UTC))
    orders = {"order_id": "VARCHAR", "timestamp": "TIMESTAMP", "price": "DOUBLE",
              "quantity": "INTEGER", "currency": "VARCHAR"}
    cases = [
        (MicrosoftAdsDestination(settings_for(None), context),
         {**orders, "microsoft_click_id": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR"}),
        (IqmDestination(IqmSettings(mode="assign", conversion_name="Orders",
                                    workspace_host="app.iqm.test"), context),
         {"campaign_id": "BIGINT"}),
        (IqmDestination(IqmSettings(mode="events", conversion_name="Orders",
                                    workspace_host="app.iqm.test",
                                    allow_unattributed_pixel_fires=True), context), orders),
    ]
    for dest, columns in cases:
        result = to_spark(dest.shape_sql("offramp_source", columns), what=dest.name)
        assert "offramp_source" in result.sql and result.notes


def test_unicode_text_rules_transpile_to_literal_characters() -> None:
    """Spark's chr() is n % 256 and it has no strlen(): constant code points become the
    characters themselves, a replacement built from them a literal, strlen octet_length;
    the kit's Unicode rules (lowercasing, digits of every script) then transpile."""
    from connector.kit import pii_unicode

    out = to_spark("SELECT chr(962) AS s, strlen(x) AS n, "
                   "regexp_replace(x, '(a)b', '\\1' || chr(962), 'g') AS r FROM t")
    assert "'ς' AS s" in out.sql and "OCTET_LENGTH(x) AS n" in out.sql
    assert "REGEXP_REPLACE(x, '(a)b', '$1ς') AS r" in out.sql
    rules = to_spark(f"SELECT {pii_unicode.lower('x')}, {pii_unicode.ascii_digits('x')} FROM t")
    assert "CHR(" not in rules.sql.upper() and "'٣'" in rules.sql
    with pytest.raises(TranspileError, match="chr\\(\\) of a computed code point"):
        to_spark("SELECT chr(CAST(x AS INTEGER)) FROM t")
