-- error: it reads the file 'exports/orders.parquet'
SELECT * FROM "exports/orders.parquet"
