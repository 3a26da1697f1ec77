-- error: table 'duckdb_tables' is not in the warehouse
WITH inner_ctes AS (
  WITH duckdb_tables AS (SELECT 1 AS x) SELECT x FROM duckdb_tables
)
SELECT t.database_name, t.schema_name, t.table_name FROM inner_ctes, duckdb_tables AS t
