-- error: SHOW is not allowed
SHOW TABLES
