-- error: current_setting() reads DuckDB's settings
SELECT amperity_id, current_setting('allowed_directories') AS dirs FROM Customer_360
