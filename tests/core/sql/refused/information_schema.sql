-- error: table 'information_schema.tables' is not in the warehouse
SELECT table_name FROM information_schema.tables
