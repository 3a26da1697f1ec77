-- columns: amperity_id, email
WITH duckdb_tables AS (SELECT amperity_id, email FROM Customer_360)
SELECT * FROM (SELECT * FROM DuckDB_Tables) AS x WHERE x.amperity_id IN (SELECT amperity_id FROM duckdb_tables)
