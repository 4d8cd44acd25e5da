"""The data catalog: listing, SQL -> result rules, literals, tables, errors."""

import re

import pytest

from mocktools.e6data.catalog import DataCatalog, EngineQueryError, ResultSet, fold


def test_sample_world_lists():
    cat = DataCatalog(seed=3)
    assert cat.catalog_names() == ["default"]
    assert cat.schema_names() == ["default", "sales"]
    assert cat.table_names("sales") == ["customers", "orders"]
    assert cat.table_names("nope") == []
    assert cat.table("sales", "orders").columns[2].type == "DECIMAL128"
    assert cat.table(None, "numbers").result.row_count == 10
    assert cat.table("sales", "nope") is None and cat.table("nope", "x") is None


def test_select_star_count_and_limit():
    cat = DataCatalog()
    assert cat.resolve("SELECT * FROM sales.orders").row_count == 100
    assert cat.resolve("select * from orders limit 7;").row_count == 7
    assert cat.resolve("select * from default.sales.customers", catalog="default").row_count == 20
    assert cat.resolve("select * from numbers").rows(0, 3) == [(1, 1), (2, 4), (3, 9)]
    count = cat.resolve("select count(*) from sales.orders")
    assert count.rows() == [(100,)] and count.columns[0].type == "LONG"
    assert cat.resolve("select * from unknowncat.sales.orders").row_count == 100
    with pytest.raises(EngineQueryError, match="not found"):
        cat.resolve("select * from missing_table")


def test_literals():
    cat = DataCatalog()
    result = cat.resolve("SELECT 1, 'it''s' AS s, 2.5, TRUE, NULL, 99999999999")
    assert [c.type for c in result.columns] == ["INTEGER", "STRING", "DOUBLE", "BOOLEAN", "NULL", "LONG"]
    assert result.columns[1].name == "s"
    assert result.rows() == [(1, "it's", 2.5, True, None, 99999999999)]
    # not literals -> default result
    assert cat.resolve("select now()") is cat.default_result
    assert cat.resolve("select 1 from dual") is cat.default_result


def test_rules_exact_glob_regex_and_errors_newest_first():
    cat = DataCatalog()
    exact = cat.set_query_result("SELECT  a FROM t", [("a", "LONG")], [(1,), (2,)])
    assert cat.resolve("select a from t;") is exact
    glob = cat.set_query_result("select b *", ["b:STRING"], row_count=5, seed=9)
    assert cat.resolve("SELECT b FROM x") is glob and glob.row_count == 5
    rx = cat.set_query_result(re.compile(r"from\s+events", re.I), result=ResultSet.from_rows(["e"], [("x",)]))
    assert cat.resolve("select * FROM events") is rx
    cat.set_query_error("select a from t", "boom")
    with pytest.raises(EngineQueryError, match="boom"):
        cat.resolve("select a from t")
    with pytest.raises(EngineQueryError, match="empty"):
        cat.resolve("  ;")
    with pytest.raises(ValueError):
        cat.set_query_result("x")
    assert fold(" Select\n 1 ; ") == "select 1"


def test_default_result_and_tables_can_be_replaced():
    cat = DataCatalog()
    cat.set_default_result([("x", "LONG")], [(5,)])
    assert cat.resolve("anything at all").rows() == [(5,)]
    cat.set_default_result([("y", "DOUBLE")], row_count=3, seed=1)
    assert cat.resolve("whatever").row_count == 3
    cat.add_catalog("lake")
    cat.add_table("raw", "events", ["id:LONG", "payload:STRING"], rows=[(1, "a")], catalog="lake")
    assert cat.catalog_names() == ["default", "lake"]
    assert cat.schema_names("lake") == ["raw"]
    assert cat.resolve("select * from raw.events", catalog="lake").rows() == [(1, "a")]
    cat.reset()
    assert cat.catalog_names() == ["default"]


def test_resultset_rows_and_limits():
    with pytest.raises(ValueError, match="values"):
        ResultSet.from_rows(["a", "b"], [(1,)])
    rs = ResultSet.generated(["id:LONG"], 10, seed=1)
    assert rs.rows(8) == [(9,), (10,)]
    assert rs.rows(5, 5) == [] and rs.rows(20) == []
    assert rs.limited(3).rows() == [(1,), (2,), (3,)]
