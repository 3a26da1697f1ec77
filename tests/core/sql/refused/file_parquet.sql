-- error: it reads the file 'file.parquet'
SELECT * FROM 'file.parquet'
