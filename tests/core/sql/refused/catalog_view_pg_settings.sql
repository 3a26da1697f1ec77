-- error: table 'pg_settings' is not in the warehouse
SELECT name, setting FROM pg_settings
