-- error: the SQL does not parse at line
SELECT FROM WHERE
