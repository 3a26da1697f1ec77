-- error: current_database() reads DuckDB's settings
SELECT amperity_id, current_database() AS db, current_schemas(true) AS s FROM Customer_360
