-- error: version() reads DuckDB's settings
SELECT amperity_id, version() AS v FROM Customer_360
