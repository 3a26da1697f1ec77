-- error: table 'duckdb_databases' is not in the warehouse
SELECT x.a AS order_id, d.path AS content_id
FROM (WITH duckdb_databases AS (SELECT 1 AS a) SELECT a FROM duckdb_databases) AS x,
     duckdb_databases AS d
