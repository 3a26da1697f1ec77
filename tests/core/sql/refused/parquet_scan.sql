-- error: parquet_scan() reads files
SELECT * FROM parquet_scan('exports/*.parquet')
