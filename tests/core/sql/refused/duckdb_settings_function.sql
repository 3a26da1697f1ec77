-- error: duckdb_settings() reads files or other databases
SELECT name, value FROM duckdb_settings()
