-- error: LOAD is not allowed
LOAD httpfs
