-- error: ATTACH is not allowed
ATTACH 'other.duckdb' AS other
