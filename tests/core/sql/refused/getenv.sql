-- error: getenv() reads DuckDB's settings
SELECT amperity_id, getenv('META_ACCESS_TOKEN') AS token FROM Customer_360
