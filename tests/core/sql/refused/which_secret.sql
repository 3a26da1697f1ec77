-- error: which_secret() reads DuckDB's settings
SELECT amperity_id, which_secret('s3://bucket/x', 's3') AS s FROM Customer_360
