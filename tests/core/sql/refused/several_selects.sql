-- error: found 2 statements (SELECT, SELECT)
SELECT 1 AS id; SELECT 2 AS id
